"""Importing a contacts CSV: exact rejects with line numbers, idempotence, stored values."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dialguard.importing import (
    ColumnError,
    ImportReport,
    Reject,
    import_contacts,
    parse_preferred_hours,
)
from dialguard.importing.contacts import _batches
from dialguard.importing.records import CsvRecords
from dialguard.store import Store, UnknownRecord

# A list as it arrives from the wild. Line numbers are the file's physical lines.
MESSY = (
    b"\xef\xbb\xbfName,Phone,Priority,preferred_hours,region,Account\r\n"  # 1 header (BOM)
    b"Ann,020 7946 0000,1,18:00-20:00,,A-1\r\n"  # 2 ok
    b"\r\n"  # 3 blank: skipped silently
    b"Bob,12,0,,,\r\n"  # 4 too short
    b"Caf\xe9 Owner,020 7946 0001,0,,,\r\n"  # 5 Latin-1 byte
    b"Dup,+44 20 7946 0000,0,,,\r\n"  # 6 same number as line 2
    b"Eve,020 7946 0002,high,,,\r\n"  # 7 bad priority
    b"Fay,020 7946 0003,0,18-20,,\r\n"  # 8 bad hours
    b"Gus,020 7946 0004,0,,,,extra\r\n"  # 9 too many fields
    b"Hal,not a number,0,,,\r\n"  # 10 not a number
    b"Ida,09065 123456,0,,,\r\n"  # 11 premium rate
    b",,,,,\r\n"  # 12 empty cells: skipped
    b'"Jo\r\nSmith",(212) 555-0134,3,,US,"B,2"\r\n'  # 13-14 ok, quoted newline and comma
    b"Kim,020 7946 0005,0,,XX,\r\n"  # 15 bad region
    b"Lee,,0,,,\r\n"  # 16 no number
    b"Max,020 7946 000,0,,,\r\n"  # 17 invalid for GB
    b"Ned,020 7946 0006,0,20:00-18:00,,\r\n"  # 18 hours backwards
    b"Oli,020 7946 0007,0\r\n"  # 19 too few fields
    b"Pam,+1 212 555 0199,7,,,\r\n"  # 20 ok
)

EXPECTED_REJECTS = [
    Reject(4, "bad number: too short", "Bob,12,0,,,"),
    Reject(5, "not valid UTF-8 (byte 0xe9 at column 4)", "Caf\\xe9 Owner,020 7946 0001,0,,,"),
    Reject(6, "duplicate number (line 6 duplicates line 2)", "Dup,+44 20 7946 0000,0,,,"),
    Reject(7, "bad priority 'high' (must be a whole number)", "Eve,020 7946 0002,high,,,"),
    Reject(
        8,
        "bad preferred_hours '18-20' (expected HH:MM-HH:MM, e.g. 18:00-20:00)",
        "Fay,020 7946 0003,0,18-20,,",
    ),
    Reject(9, "too many fields (7; the header has 6)", "Gus,020 7946 0004,0,,,,extra"),
    Reject(10, "bad number: not a phone number", "Hal,not a number,0,,,"),
    Reject(11, "bad number: premium-rate number", "Ida,09065 123456,0,,,"),
    Reject(
        15,
        "unknown region 'XX' (expected an ISO country code like GB)",
        "Kim,020 7946 0005,0,,XX,",
    ),
    Reject(16, "no number", "Lee,,0,,,"),
    Reject(17, "bad number: not a valid number for GB", "Max,020 7946 000,0,,,"),
    Reject(
        18,
        "bad preferred_hours '20:00-18:00' (start must be before end)",
        "Ned,020 7946 0006,0,20:00-18:00,,",
    ),
    Reject(19, "too few fields (3; the header has 6)", "Oli,020 7946 0007,0"),
]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with await Store.open(tmp_path / "store.sqlite3") as s:
        await s.campaigns.upsert("spring", "Spring", "{}")
        yield s


@pytest.fixture
def messy(tmp_path: Path) -> Path:
    path = tmp_path / "messy.csv"
    path.write_bytes(MESSY)
    return path


async def test_messy_csv_rejects_exactly_and_stores_the_good_rows(
    store: Store, messy: Path
) -> None:
    report = await import_contacts(store, messy, "spring", "GB")
    assert report.rejects == EXPECTED_REJECTS
    assert (report.read, report.imported, report.duplicates_in_store) == (16, 3, 0)
    assert report.read == report.imported + report.rejected
    stored = {c.number: c for c in await store.contacts.due("spring", 1e12, 100)}
    assert sorted(stored) == ["+12125550134", "+12125550199", "+442079460000"]
    ann = stored["+442079460000"]
    assert (ann.name, ann.priority, ann.region) == ("Ann", 1, "GB")
    assert ann.preferred_hours == {"start": "18:00", "end": "20:00"}
    assert ann.timezones == ("Europe/London",)
    assert ann.custom == {"Account": "A-1"}
    jo = stored["+12125550134"]  # parsed in the row's own region (US), not the default
    assert (jo.name, jo.region, jo.custom) == ("Jo\r\nSmith", "US", {"Account": "B,2"})
    assert jo.timezones == ("America/New_York",)


async def test_reimport_is_idempotent(store: Store, messy: Path) -> None:
    await import_contacts(store, messy, "spring", "GB")
    again = await import_contacts(store, messy, "spring", "GB")
    assert (again.imported, again.duplicates_in_store) == (0, 3)
    assert again.rejects == EXPECTED_REJECTS
    assert await store.contacts.count("spring") == 3


async def test_reimport_does_not_reset_a_called_contact(store: Store) -> None:
    lines = [b"number\n", b"020 7946 0000\n"]
    await import_contacts(store, lines, "spring", "GB")
    [c] = await store.contacts.due("spring", 1e12, 1)
    await store.contacts.settle(c.id, "done", attempts=2, last_outcome="connected")
    await import_contacts(store, lines, "spring", "GB")
    again = await store.contacts.get(c.id)
    assert again is not None
    assert (again.status, again.attempts, again.last_outcome) == ("done", 2, "connected")


async def test_small_batches_give_the_same_result(store: Store, messy: Path) -> None:
    report = await import_contacts(store, messy, "spring", "GB", batch_rows=1)
    assert report.rejects == EXPECTED_REJECTS
    assert report.imported == 3


async def test_default_region_applies_to_national_numbers(store: Store) -> None:
    report = await import_contacts(store, [b"phone\n", b"(212) 555-0134\n"], "spring", "US")
    assert report.imported == 1
    [c] = await store.contacts.due("spring", 1e12, 1)
    assert c.number == "+12125550134"


async def test_wrong_number_column_imports_nothing(store: Store) -> None:
    with pytest.raises(ColumnError, match=r"no number column: found 'name', 'tel'"):
        await import_contacts(store, [b"name,tel\n", b"Ann,020 7946 0000\n"], "spring", "GB")
    assert await store.contacts.count("spring") == 0


async def test_empty_file_is_a_column_error(store: Store) -> None:
    with pytest.raises(ColumnError, match="the file is empty"):
        await import_contacts(store, [b"\n", b"\n"], "spring", "GB")


async def test_undecodable_header_is_a_column_error(store: Store) -> None:
    with pytest.raises(ColumnError, match=r"line 1: the header cannot be read: not valid UTF-8"):
        await import_contacts(store, [b"n\xe9m,number\n"], "spring", "GB")


async def test_header_only_file_imports_nothing_without_error(store: Store) -> None:
    report = await import_contacts(store, [b"number,name\n"], "spring", "GB")
    assert (report.read, report.imported, report.rejects) == (0, 0, [])


async def test_unknown_campaign_and_region_are_refused(store: Store) -> None:
    with pytest.raises(UnknownRecord, match="campaign 'autumn' is not in the store"):
        await import_contacts(store, [b"number\n"], "autumn", "GB")
    with pytest.raises(ValueError, match="unknown region 'QQ'"):
        await import_contacts(store, [b"number\n"], "spring", "QQ")


async def test_progress_reports_bytes_up_to_the_file_size(store: Store, messy: Path) -> None:
    seen: list[tuple[int, int | None]] = []
    await import_contacts(
        store, messy, "spring", "GB", on_progress=lambda d, t: seen.append((d, t)), batch_rows=2
    )
    assert len(seen) >= 2
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert seen[-1] == (len(MESSY), len(MESSY))


async def test_missing_file_raises_oserror(store: Store, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        await import_contacts(store, tmp_path / "nope.csv", "spring", "GB")


async def test_priority_bounds(store: Store) -> None:
    report = await import_contacts(
        store, [b"number,priority\n", b"020 7946 0000,1001\n", b"020 7946 0001,-1000\n"],
        "spring", "GB",
    )  # fmt: skip
    assert report.rejects == [
        Reject(2, "bad priority 1001 (must be between -1000 and 1000)", "020 7946 0000,1001")
    ]
    assert report.imported == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("18:00-20:00", {"start": "18:00", "end": "20:00"}),
        (" 9:30 – 12:00 ", {"start": "09:30", "end": "12:00"}),
        ("20:00-24:00", {"start": "20:00", "end": "24:00"}),
    ],
)
def test_preferred_hours_accepted(text: str, expected: dict[str, str]) -> None:
    assert parse_preferred_hours(text) == expected


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("evenings", "expected HH:MM-HH:MM"),
        ("18:00-25:00", "25:00 is not a time of day"),
        ("18:60-19:00", "18:60 is not a time of day"),
        ("18:00-18:00", "start must be before end"),
    ],
)
def test_preferred_hours_refused(text: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        parse_preferred_hours(text)


async def test_semicolon_separated_export_imports(store: Store) -> None:
    lines = [b"Name;Telefon;Phone\n", b"Ann;x;020 7946 0000\n"]
    report = await import_contacts(store, lines, "spring", "GB")
    assert (report.imported, report.rejects) == (1, [])
    [c] = await store.contacts.due("spring", 1e12, 1)
    assert c.custom == {"Telefon": "x"}


async def test_spreadsheet_scientific_notation_is_explained(store: Store) -> None:
    report = await import_contacts(store, [b"number\n", b"4.42079E+11\n"], "spring", "GB")
    assert report.rejects == [
        Reject(
            2,
            "bad number: spreadsheet scientific notation (4.42079E+11); "
            "format the column as text and export again",
            "4.42079E+11",
        )
    ]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.binary(max_size=30),
            st.sampled_from(
                [b"Ann,020 7946 0000,1", b"Bob,+1 212 555 0134,x", b",,", b'"q,1', b"a,b,c,d"]
            ),
        ),
        max_size=15,
    )
)
def test_every_row_read_is_stored_or_rejected(rows: list[bytes]) -> None:
    """Accounting: rows read = rows handed to the store + rows rejected, whatever the input."""
    lines = [b"name,number,priority\n", *(r.replace(b"\n", b"") + b"\n" for r in rows)]
    report = ImportReport()
    stored = sum(len(b.contacts) for b in _batches(CsvRecords(lines), "GB", report, batch_rows=4))
    assert report.read == stored + report.rejected
    assert [r.line for r in report.rejects] == sorted({r.line for r in report.rejects})


async def test_import_is_audited_with_its_counts(store: Store, messy: Path) -> None:
    await import_contacts(store, messy, "spring", "GB", actor="cli:ann")
    last = (await store.audit.events("spring"))[-1]
    assert (last.actor, last.action, last.detail) == ("cli:ann", "contacts.imported", str(messy))
    assert last.new == {"read": 16, "imported": 3, "already_present": 0, "rejected": 13}
