"""Import a contacts CSV into a campaign: every good row stored, every bad row explained.

The rules (documented for operators in docs/import.md):

- the first non-blank line is the header; the number column may be called any of
  :data:`~dialguard.importing.columns.NUMBER_ALIASES`; other known columns are name,
  priority, consent, preferred_channel, preferred_hours ("18:00-20:00", or with weekdays
  "mon-fri 18:00-20:00; sat 10:00-12:00"), region (the row's own default region) and the
  profile columns of docs/contacts.md (importing/profile.py); any other column is kept
  as a custom field;
- a bad row is rejected with its line number and the exact reason, and the import
  carries on; a duplicate number within the file is rejected pointing at the first line;
- numbers the campaign already has are counted, not changed, so importing the same file
  twice stores nothing the second time.

Parsing (``phonenumbers``, ~100 µs a row) runs in a worker thread a batch at a time, so
an import inside the daemon's event loop does not stall calls in progress.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from dialguard.importing.columns import ColumnError, ContactColumns, resolve_contact_columns
from dialguard.importing.encoding import choose_encoding
from dialguard.importing.profile import parse_profile, weekly_hours
from dialguard.importing.records import (
    BadRecord,
    CsvRecords,
    LineSource,
    Record,
    describe_source,
    opened,
)
from dialguard.importing.report import ImportReport, Reject
from dialguard.logs import get_logger
from dialguard.phone import InvalidNumber, check_region, parse_number
from dialguard.propensity import AnswerModel, order_score
from dialguard.store import BATCH_ROWS, NewContact, Store, UnknownRecord

__all__ = [
    "MAX_PRIORITY",
    "MIN_PRIORITY",
    "Progress",
    "contact_from_record",
    "import_contacts",
    "parse_preferred_hours",
]

log = get_logger(__name__)

Progress = Callable[[int, int | None], None]
"""Called with (bytes read, total bytes or None) after each batch."""

MIN_PRIORITY = -1000
MAX_PRIORITY = 1000

_HOURS = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*[-–]\s*(\d{1,2}):(\d{2})\s*$")


def parse_preferred_hours(text: str) -> dict[str, str]:
    """``"18:00-20:00"`` → ``{"start": "18:00", "end": "20:00"}``; ValueError saying why not."""
    m = _HOURS.match(text)
    if not m:
        raise ValueError(f"bad preferred_hours {text!r} (expected HH:MM-HH:MM, e.g. 18:00-20:00)")
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    for h, mm in ((h1, m1), (h2, m2)):
        if not (0 <= h <= 23 and 0 <= mm <= 59) and (h, mm) != (24, 0):
            raise ValueError(f"bad preferred_hours {text!r} ({h}:{mm:02d} is not a time of day)")
    if (h1, m1) >= (h2, m2):
        raise ValueError(f"bad preferred_hours {text!r} (start must be before end)")
    return {"start": f"{h1:02d}:{m1:02d}", "end": f"{h2:02d}:{m2:02d}"}


def _parse_priority(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"bad priority {text!r} (must be a whole number)") from None
    if not MIN_PRIORITY <= value <= MAX_PRIORITY:
        raise ValueError(
            f"bad priority {value} (must be between {MIN_PRIORITY} and {MAX_PRIORITY})"
        )
    return value


def contact_from_record(
    record: Record, columns: ContactColumns, default_region: str
) -> NewContact | Reject:
    """One CSV record as a contact to store, or the reason it cannot be one."""
    fields = record.fields
    if len(fields) != columns.width:
        kind = "too many" if len(fields) > columns.width else "too few"
        return Reject(
            record.line,
            f"{kind} fields ({len(fields)}; the header has {columns.width})",
            record.raw,
        )

    def known(name: str) -> str:
        i = columns.known.get(name)
        return fields[i].strip() if i is not None else ""

    try:
        region = check_region(known("region")) if known("region") else default_region
        raw_number = fields[columns.number]
        if not raw_number.strip():
            raise ValueError("no number")
        try:
            parsed = parse_number(raw_number, region)
        except InvalidNumber as e:
            raise ValueError(f"bad number: {e.reason}") from None
        priority = _parse_priority(known("priority")) if known("priority") else 0
        hours = known("preferred_hours")
        preferred_hours = None
        if hours:  # "18:00-20:00" every day, or with weekdays "mon-fri 18:00-20:00; sat …"
            has_days = any(ch.isalpha() for ch in hours)
            preferred_hours = weekly_hours(hours) if has_days else parse_preferred_hours(hours)
        profile = parse_profile(known)
    except ValueError as e:  # InvalidNumber from check_region is a ValueError too
        return Reject(record.line, str(e), record.raw)

    return NewContact(
        number=parsed.e164,
        region=parsed.region,
        timezones=parsed.timezones,
        name=known("name") or None,
        priority=priority,
        consent=known("consent") or None,
        preferred_channel=profile.preferred_channel,
        preferred_hours=preferred_hours,
        custom={k: fields[i].strip() for k, i in columns.custom.items() if fields[i].strip()},
        voice_consent=profile.voice_consent,
        consent_date=profile.consent_date,
        consent_source=profile.consent_source,
        segment=profile.segment,
        propensity=profile.propensity,
        offer_key=profile.offer_key,
    )


_COLD = AnswerModel()


def _score(contact: NewContact, created_at: float) -> float:
    """A new contact's ordering score: the cold model's prior, its propensity, its wait
    from now (the engine refreshes the hour's figure once it has learnt)."""
    return order_score(_COLD.prior.mean, contact.propensity, created_at)


@dataclass
class _Batch:
    contacts: list[NewContact]
    bytes_read: int


def _batches(
    records: CsvRecords, default_region: str, report: ImportReport, batch_rows: int
) -> Iterator[_Batch]:
    """Parse records into batches of contacts, adding rejects and counts to ``report``."""
    columns: ContactColumns | None = None
    first_line: dict[str, int] = {}
    batch: list[NewContact] = []
    for rec in records:
        if columns is None:
            if isinstance(rec, BadRecord):
                raise ColumnError(f"line {rec.line}: the header cannot be read: {rec.reason}")
            columns = resolve_contact_columns(rec.fields)
            continue
        report.read += 1
        if isinstance(rec, BadRecord):
            report.rejects.append(Reject(rec.line, rec.reason, rec.raw))
            continue
        result = contact_from_record(rec, columns, default_region)
        if isinstance(result, Reject):
            report.rejects.append(result)
            continue
        earlier = first_line.setdefault(result.number, rec.line)
        if earlier != rec.line:
            reason = f"duplicate number (line {rec.line} duplicates line {earlier})"
            report.rejects.append(Reject(rec.line, reason, rec.raw))
            continue
        batch.append(result)
        if len(batch) >= batch_rows:
            yield _Batch(batch, records.bytes_read)
            batch = []
    if columns is None:
        raise ColumnError("the file is empty: expected a header line naming the columns")
    yield _Batch(batch, records.bytes_read)


async def import_contacts(
    store: Store,
    source: LineSource,
    campaign_id: str,
    default_region: str,
    on_progress: Progress | None = None,
    *,
    actor: str = "import",
    batch_rows: int = BATCH_ROWS,
    encoding: str | None = None,
) -> ImportReport:
    """Import contacts from ``source`` (a path, or lines) into ``campaign_id``.

    The import is recorded in the audit trail as ``contacts.imported`` by ``actor``.

    Raises :class:`ColumnError` (nothing imported) if the header has no number column,
    :class:`~dialguard.store.UnknownRecord` if the campaign is not in the store,
    ``ValueError`` for an unknown ``default_region`` and ``OSError`` if the file cannot
    be read. Bad rows do not raise: they are in the report's ``rejects``.

    ``encoding``: the file's text encoding; None detects it (importing/encoding.py) and
    the report says which was used. One the reader cannot use raises ``EncodingError``
    (a ValueError) before anything is read.
    """
    region = check_region(default_region)
    if await store.campaigns.get(campaign_id) is None:
        raise UnknownRecord(f"campaign {campaign_id!r} is not in the store")
    chosen = choose_encoding(source, encoding)
    report = ImportReport(encoding=chosen.label, encoding_how=chosen.how)
    with opened(source) as (lines, total):
        records = CsvRecords(lines, encoding=chosen.name)
        batches = _batches(records, region, report, batch_rows)
        while (batch := await asyncio.to_thread(next, batches, None)) is not None:
            if batch.contacts:
                counts = await store.contacts.insert(campaign_id, batch.contacts, score=_score)
                report.imported += counts.inserted
                report.duplicates_in_store += counts.already_present
            if on_progress is not None:
                on_progress(batch.bytes_read, total)
    await store.audit.record(
        actor,
        "contacts.imported",
        campaign_id=campaign_id,
        new=report.counts(),
        detail=describe_source(source),
    )
    log.info(
        "contacts_imported",
        campaign_id=campaign_id,
        **report.counts(),
        encoding=report.encoding,
        encoding_how=report.encoding_how,
    )
    return report
