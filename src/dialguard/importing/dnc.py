"""Import a do-not-call list (TPS, CTPS, US DNC, Bloctel, Australia's Do Not Call
Register, or the internal list) with its date.

A DNC file is one number a line; a header is optional (a first line with no digit is
taken as one; an optional ``reason`` column is kept for internal entries).

A list knows its country (:data:`dialguard.law.NATIONAL_LIST_REGION`): a US registry
file is read as US numbers, TPS/CTPS files as UK numbers, Bloctel as French and the Do
Not Call Register as Australian numbers, whatever the engine's
``default_region``, and an entry of another country is rejected with its line and
reason, so ``212-736-3100`` can never be stored as ``+442127363100``. The internal list
has no country of its own and is read in the configured region. Numbers are
stored in E.164 *without* checking them against today's numbering plan
(:func:`dialguard.phone.normalise_number`): a listed number must stay suppressed even if
this copy of libphonenumber does not yet know its range. The list's date is recorded so
the engine can refuse to dial on a list older than the law allows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from dialguard.importing.columns import (
    NUMBER_ALIASES,
    ColumnError,
    normalise_header,
    resolve_number_column,
)
from dialguard.importing.contacts import Progress
from dialguard.importing.encoding import choose_encoding
from dialguard.importing.records import (
    BadRecord,
    CsvRecords,
    LineSource,
    Record,
    describe_source,
    opened,
)
from dialguard.importing.report import ImportReport, Reject
from dialguard.law import BUILT_IN_LISTS, ListTerms
from dialguard.logs import get_logger
from dialguard.phone import InvalidNumber, check_region, in_country, normalise_number
from dialguard.store import BATCH_ROWS, Store, check_list_date
from dialguard.store.dnc import DncImport

__all__ = ["import_dnc", "list_region"]

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class _Layout:
    number: int
    reason: int | None


def _header_layout(first: Record) -> _Layout | None:
    """Columns from the first record if it is a header; None if it is already data."""
    if any(ch.isdigit() for ch in "".join(first.fields)):
        return None
    names = [normalise_header(f) for f in first.fields]
    number = resolve_number_column(first.fields)
    if number is None:
        if len(first.fields) != 1:
            raise ColumnError(
                f"no number column: found {', '.join(repr(f.strip()) for f in first.fields)};"
                f" name it one of {', '.join(repr(a) for a in NUMBER_ALIASES)}"
                " or give one number per line"
            )
        number = 0
    reason = names.index("reason") if "reason" in names else None
    return _Layout(number, reason)


@dataclass
class _Batch:
    """A batch of entries ``(line, E.164 number, reason, the line as read)`` and the
    rows rejected among them."""

    entries: list[tuple[int, str, str | None, str | None]]
    rejects: list[Reject]
    bytes_read: int


def list_region(
    dnc_source: str, default_region: str, lists: Mapping[str, ListTerms] = BUILT_IN_LISTS
) -> tuple[str, str]:
    """The region a list's numbers are read in, and why: a national list's own country
    (built in, or declared in the engine config: ``lists``), else (the internal list)
    the configured default."""
    terms = lists.get(dnc_source)
    if terms is not None:
        return terms.region, f"the {dnc_source} list holds {terms.region} numbers"
    return check_region(default_region), "engine.default_region (or --region)"


def _batches(
    records: CsvRecords,
    region: str,
    national: bool,
    report: ImportReport,
    batch_rows: int,
) -> Iterator[_Batch]:
    """The file's entries in batches, read and checked; a number repeated in the file is
    found by the store (:class:`~dialguard.store.DncImport`), so memory stays one batch."""
    layout: _Layout | None = None
    batch = _Batch([], [], 0)
    for rec in records:
        if layout is None:
            header = _header_layout(rec) if isinstance(rec, Record) else None
            layout = header or _Layout(0, None)
            if header is not None:
                continue
        report.read += 1
        if isinstance(rec, BadRecord):
            batch.rejects.append(Reject(rec.line, rec.reason, rec.raw))
            continue
        if layout.number >= len(rec.fields):
            batch.rejects.append(Reject(rec.line, "no number (the line is too short)", rec.raw))
            continue
        raw_number = rec.fields[layout.number]
        try:
            number = normalise_number(raw_number, region)
        except InvalidNumber as e:
            reason = "no number" if e.reason == "empty" else f"bad number: {e.reason}"
            batch.rejects.append(Reject(rec.line, reason, rec.raw))
            continue
        if national and not in_country(number, region):
            reason = f"not a {region} number ({number}); this list holds {region} numbers only"
            batch.rejects.append(Reject(rec.line, reason, rec.raw))
            continue
        why = None
        if layout.reason is not None and layout.reason < len(rec.fields):
            why = rec.fields[layout.reason].strip() or None
        batch.entries.append((rec.line, number, why, rec.raw))
        if len(batch.entries) >= batch_rows:
            batch.bytes_read = records.bytes_read
            yield batch
            batch = _Batch([], [], 0)
    batch.bytes_read = records.bytes_read
    yield batch


async def _store_batches(
    batches: Iterator[_Batch],
    listing: DncImport,
    report: ImportReport,
    total: int | None,
    on_progress: Progress | None,
) -> None:
    """Stage each batch while the next is read and parsed in a thread (parsing is
    Python, staging mostly SQLite, which lets go of the GIL, so on two cores the two
    overlap), then list them all at once (:meth:`DncImport.finish`)."""
    rejects: list[Reject] = []
    reading = asyncio.ensure_future(asyncio.to_thread(next, batches, None))
    try:
        while (batch := await reading) is not None:
            reading = asyncio.ensure_future(asyncio.to_thread(next, batches, None))
            await listing.add(batch.entries)
            rejects.extend(batch.rejects)
            if on_progress is not None:
                on_progress(batch.bytes_read, total)
    finally:
        # The reader thread must be done with the file before it is closed.
        if not reading.done():
            try:
                await reading
            except Exception as e:  # the import already failed; this is only the read-ahead
                log.warning("dnc_read_ahead_failed", error=repr(e))
    done = await listing.finish()
    report.imported += done.inserted
    report.duplicates_in_store += done.already_present
    for line, first, raw in done.repeats:
        reason = f"duplicate number (line {line} duplicates line {first})"
        rejects.append(Reject(line, reason, raw or ""))
    report.rejects.extend(sorted(rejects, key=lambda r: r.line))


async def import_dnc(
    store: Store,
    source: LineSource,
    dnc_source: str,
    list_date: str | None,
    default_region: str,
    on_progress: Progress | None = None,
    *,
    actor: str = "import",
    batch_rows: int = BATCH_ROWS,
    encoding: str | None = None,
    lists: Mapping[str, ListTerms] = BUILT_IN_LISTS,
) -> ImportReport:
    """Import a DNC list into the store's suppressions and record the list's date.

    The import is recorded in the audit trail as ``dnc.imported`` by ``actor``.

    ``dnc_source`` is internal or a national list of ``lists`` (built-in and declared,
    ``EngineConfig.national_lists()``); national lists need
    ``list_date`` (YYYY-MM-DD) and are read in their own country (``default_region``
    applies to the internal list only; :func:`list_region`). Raises ValueError for a
    bad source, date or region,
    :class:`ColumnError` for an unusable header, OSError for an unreadable file.
    ``encoding`` as for :func:`~dialguard.importing.import_contacts` (None: detected).
    """
    known = ("internal", *lists)
    if dnc_source not in known:
        raise ValueError(f"DNC source {dnc_source!r} is not one of: {', '.join(known)}")
    listed_on = dnc_source
    if list_date is not None:
        check_list_date(list_date)
    elif dnc_source != "internal":
        raise ValueError(f"a {dnc_source} list needs its list date (YYYY-MM-DD)")
    region, region_how = list_region(dnc_source, default_region, lists)
    national = dnc_source in lists
    chosen = choose_encoding(source, encoding)
    report = ImportReport(
        encoding=chosen.label, encoding_how=chosen.how, region=region, region_how=region_how
    )
    with opened(source) as (lines, total):
        records = CsvRecords(lines, encoding=chosen.name)
        batches = _batches(records, region, national, report, batch_rows)
        async with store.dnc.importing(listed_on, list_date) as listing:
            await _store_batches(batches, listing, report, total, on_progress)
    if list_date is not None:
        await store.dnc.record_list(
            listed_on, list_date, report.imported + report.duplicates_in_store
        )
    await store.audit.record(
        actor,
        "dnc.imported",
        new={"source": dnc_source, "list_date": list_date, "region": region, **report.counts()},
        detail=describe_source(source),
    )
    log.info(
        "dnc_imported",
        source=dnc_source,
        list_date=list_date,
        region=region,
        **report.counts(),
        encoding=report.encoding,
        encoding_how=report.encoding_how,
    )
    return report
