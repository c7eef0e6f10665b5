"""Importing do-not-call lists: optional header, list date recorded, lenient numbers."""

from __future__ import annotations

import contextlib
import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from dialguard import phone
from dialguard.importing import ColumnError, ImportReport, Reject, import_dnc
from dialguard.phone import InvalidNumber
from dialguard.store import Store


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with await Store.open(tmp_path / "store.sqlite3") as s:
        yield s


async def test_list_without_header_with_date_recorded(store: Store) -> None:
    lines = [b"020 7946 0000\n", b"\n", b"+1 212 555 0134\n", b"12\n", b"020 7946 0000\n"]
    report = await import_dnc(store, lines, "tps", "2026-11-20", "GB")
    assert report.rejects == [
        Reject(3, "not a GB number (+12125550134); this list holds GB numbers only", lines[2]
               .decode().strip()),
        Reject(4, "bad number: too short", "12"),
        Reject(5, "duplicate number (line 5 duplicates line 1)", "020 7946 0000"),
    ]  # fmt: skip
    assert (report.read, report.imported, report.duplicates_in_store) == (4, 1, 0)
    [hit] = await store.dnc.lookup("+442079460000")
    assert (hit.source, hit.list_date) == ("tps", "2026-11-20")
    assert await store.dnc.lookup("+12125550134") == []
    info = (await store.dnc.list_dates())["tps"]
    assert (info.list_date, info.rows) == ("2026-11-20", 1)


async def test_header_with_number_alias_and_reason_column(store: Store) -> None:
    lines = [b"Reason,Telephone\n", b"pressed 9,020 7946 0000\n", b",020 7946 0001\n"]
    report = await import_dnc(store, lines, "internal", None, "GB")
    assert (report.read, report.imported, report.rejects) == (2, 2, [])
    [hit] = await store.dnc.lookup("+442079460000")
    assert (hit.source, hit.list_date, hit.reason) == ("internal", None, "pressed 9")
    assert (await store.dnc.lookup("+442079460001"))[0].reason is None
    assert await store.dnc.list_dates() == {}  # no date given, nothing recorded


async def test_single_column_header_of_any_name(store: Store) -> None:
    report = await import_dnc(
        store, [b"TPS numbers\n", b"02079460000\n"], "ctps", "2026-11-01", "GB"
    )
    assert (report.read, report.imported) == (1, 1)


async def test_numbers_unknown_to_the_numbering_plan_are_still_suppressed(store: Store) -> None:
    # 07700 900xxx is not a valid range in libphonenumber, but a listed number must stay
    # blocked even if a later metadata update makes the range valid.
    report = await import_dnc(store, [b"07700 900123\n"], "tps", "2026-11-01", "GB")
    assert report.imported == 1
    assert await store.dnc.lookup("+447700900123") != []


async def test_reimport_is_idempotent_and_refreshes_the_date(store: Store) -> None:
    lines = [b"number\n", b"212 736 3100\n", b"212 736 3101\n"]
    await import_dnc(store, lines, "usdnc", "2026-11-01", "GB")
    again = await import_dnc(store, lines, "usdnc", "2026-11-15", "GB")
    assert (again.imported, again.duplicates_in_store) == (0, 2)
    assert (await store.dnc.list_dates())["usdnc"].list_date == "2026-11-15"
    assert (await store.dnc.lookup("+12127363101"))[0].list_date == "2026-11-15"


async def test_multi_column_header_without_number_column(store: Store) -> None:
    with pytest.raises(ColumnError, match=r"no number column: found 'a', 'b'"):
        await import_dnc(store, [b"a,b\n", b"1,2\n"], "tps", "2026-11-01", "GB")


async def test_bad_utf8_and_short_lines_are_rejected(store: Store) -> None:
    lines = [b"reason,number\n", b"caf\xe9,020 7946 0000\n", b"only reason\n"]
    report = await import_dnc(store, lines, "internal", None, "GB")
    assert report.rejects == [
        Reject(2, "not valid UTF-8 (byte 0xe9 at column 4)", "caf\\xe9,020 7946 0000"),
        Reject(3, "no number (the line is too short)", "only reason"),
    ]


@pytest.mark.parametrize(
    ("source", "date", "message"),
    [
        ("fps", "2026-11-01", "DNC source 'fps' is not one of: internal, tps, ctps, usdnc"),
        ("tps", None, "a tps list needs its list date"),
        ("tps", "2026-11-31", "not a real calendar date"),
        ("usdnc", "1/11/2026", "must be written YYYY-MM-DD"),
    ],
)
async def test_bad_source_or_date_is_refused_before_reading(
    store: Store, source: str, date: str | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        await import_dnc(store, [b"020 7946 0000\n"], source, date, "GB")
    assert await store.dnc.lookup("+442079460000") == []


async def test_import_is_audited_with_source_and_date(store: Store) -> None:
    await import_dnc(store, [b"020 7946 0000\n"], "tps", "2026-11-20", "GB", actor="cli:bo")
    [event] = await store.audit.events()
    assert (event.actor, event.action, event.campaign_id, event.detail) == (
        "cli:bo",
        "dnc.imported",
        None,
        "<lines>",
    )
    assert event.new == {
        "source": "tps",
        "list_date": "2026-11-20",
        "region": "GB",
        "read": 1,
        "imported": 1,
        "already_present": 0,
        "rejected": 0,
    }


# --- a list knows its country (issue 17 item 1) ------------------------------------------


async def test_a_us_registry_file_is_read_as_us_numbers_whatever_the_default_region(
    store: Store,
) -> None:
    """With the shipped default_region GB, 212-736-3100 was stored as +442127363100 and
    18085868250 rejected as too long: a person on the US registry could be called."""
    lines = [b"212-736-3100\n", b"18085868250\n", b"020 7946 0000\n", b"+44 20 7946 0001\n"]
    report = await import_dnc(store, lines, "usdnc", "2026-11-20", "GB")
    assert (report.region, report.imported) == ("US", 2)
    assert [h.source for h in await store.dnc.lookup("+12127363100")] == ["usdnc"]
    assert [h.source for h in await store.dnc.lookup("+18085868250")] == ["usdnc"]
    assert await store.dnc.lookup("+442127363100") == []
    assert [(r.line, r.reason) for r in report.rejects] == [
        (3, "bad number: too long"),  # a UK national number is no US number
        (4, "not a US number (+442079460001); this list holds US numbers only"),
    ]


async def test_a_bloctel_file_is_read_as_french_numbers_under_the_shipped_gb_default(
    store: Store,
) -> None:
    """Before issue 17's bloctel source, a Bloctel file could only go in the internal
    list, read in the GB default: 01 42 68 53 00 became +44142685300."""
    lines = [b"01 42 68 53 00\n", b"+33 6 12 34 56 78\n", b"0033 (0)1 45 00 00 01\n",
             b"01.45.00.00.02\n", b"+44 20 7946 0000\n"]  # fmt: skip
    report = await import_dnc(store, lines, "bloctel", "2026-11-20", "GB")
    assert (report.region, report.imported) == ("FR", 4)
    for number in ("+33142685300", "+33612345678", "+33145000001", "+33145000002"):
        assert [h.source for h in await store.dnc.lookup(number)] == ["bloctel"], number
    assert await store.dnc.lookup("+44142685300") == []
    assert [(r.line, r.reason) for r in report.rejects] == [
        (5, "not a FR number (+442079460000); this list holds FR numbers only"),
    ]
    assert (await store.dnc.list_dates())["bloctel"].rows == 4


async def test_a_dncr_file_is_read_as_australian_numbers_under_the_shipped_gb_default(
    store: Store,
) -> None:
    lines = [b"(02) 9374 4000\n", b"0412 345 678\n", b"0011 61 3 9650 0000\n",
             b"+64 9 123 4567\n"]  # fmt: skip
    report = await import_dnc(store, lines, "dncr", "2026-11-20", "GB")
    assert (report.region, report.imported) == ("AU", 3)
    for number in ("+61293744000", "+61412345678", "+61396500000"):
        assert [h.source for h in await store.dnc.lookup(number)] == ["dncr"], number
    assert [(r.line, r.reason) for r in report.rejects] == [
        (4, "not a AU number (+6491234567); this list holds AU numbers only"),
    ]


async def test_tps_is_read_as_uk_numbers_even_when_the_engine_defaults_to_us(store: Store) -> None:
    report = await import_dnc(store, [b"020 7946 0000\n", b"07700 900123\n"], "tps",
                              "2026-11-20", "US")  # fmt: skip
    assert (report.region, report.imported, report.rejects) == ("GB", 2, [])
    assert await store.dnc.lookup("+442079460000") != []
    assert await store.dnc.lookup("+447700900123") != []


async def test_the_internal_list_is_read_in_the_configured_region(store: Store) -> None:
    report = await import_dnc(store, [b"212 736 3100\n"], "internal", None, "US")
    assert (report.region, report.imported) == ("US", 1)
    assert await store.dnc.lookup("+12127363100") != []


US_WRITINGS = ["212-736-3100", "(212) 736-3100", "212.736.3100", "1 212 736 3100",
               "+1 (212) 736-3100", "2127363100", "+12127363100"]  # fmt: skip
GB_WRITINGS = ["020 7946 0000", "(020) 7946 0000", "+44 20 7946 0000", "0044 20 7946 0000",
               "+44 (0)20 7946 0000", "02079460000", "+442079460000"]  # fmt: skip
FR_WRITINGS = ["01 42 68 53 00", "01.42.68.53.00", "+33 1 42 68 53 00", "0033 1 42 68 53 00",
               "+33 (0)1 42 68 53 00", "0142685300", "+33142685300"]  # fmt: skip
AU_WRITINGS = ["(02) 9374 4000", "02 9374 4000", "+61 2 9374 4000", "0011 61 2 9374 4000",
               "+61 (0)2 9374 4000", "0293744000", "+61293744000"]  # fmt: skip


@pytest.mark.parametrize(
    ("source", "contact_region", "listed", "contact"),
    [
        *(("usdnc", "US", w, c) for w in US_WRITINGS for c in US_WRITINGS[::3]),
        *(("usdnc", "GB", w, "+1 212 736 3100") for w in US_WRITINGS),
        *(("tps", "GB", w, c) for w in GB_WRITINGS for c in GB_WRITINGS[::3]),
        *(("tps", "US", w, "+44 20 7946 0000") for w in GB_WRITINGS),
        *(("bloctel", "FR", w, c) for w in FR_WRITINGS for c in FR_WRITINGS[::3]),
        *(("bloctel", "GB", w, "+33 1 42 68 53 00") for w in FR_WRITINGS),
        *(("dncr", "AU", w, c) for w in AU_WRITINGS for c in AU_WRITINGS[::3]),
        *(("dncr", "GB", w, "+61 2 9374 4000") for w in AU_WRITINGS),
    ],
)
async def test_a_contact_and_a_list_entry_written_differently_always_match(
    store: Store, source: str, contact_region: str, listed: str, contact: str
) -> None:
    """The contact is parsed as a contact import does (parse_number in the engine's
    region); the entry as its list's country says. Same number, same E.164."""
    from dialguard.phone import parse_number

    report = await import_dnc(store, [listed.encode() + b"\n"], source, "2026-11-20", "GB")
    assert (report.imported, report.rejects) == (1, [])
    number = parse_number(contact, contact_region).e164
    assert [h.source for h in await store.dnc.lookup(number)] == [source]


async def test_a_number_repeated_batches_apart_is_reported_in_line_order(store: Store) -> None:
    lines = [b"020 7946 0000\n", b"020 7946 0001\n", b"12\n", b"020 7946 0000\n", b"x\n",
             b"020 7946 0001\n"]  # fmt: skip
    report = await import_dnc(store, lines, "tps", "2026-11-20", "GB", batch_rows=2)
    assert [(r.line, r.reason) for r in report.rejects] == [
        (3, "bad number: too short"),
        (4, "duplicate number (line 4 duplicates line 1)"),
        (5, "bad number: not a phone number"),
        (6, "duplicate number (line 6 duplicates line 2)"),
    ]
    assert report.rejects[1].raw == "020 7946 0000"
    assert (report.read, report.imported, report.duplicates_in_store) == (6, 2, 0)


def _mixed_list(region: str, rows: int, seed: int) -> list[bytes]:
    """A national list as they come: mostly bare digits in every written form, some
    punctuated, some of another country, some not numbers, some repeated."""
    rng = random.Random(seed)
    national = {"US": ("{n}", "1{n}", "+1{n}", "({a}) {b}-{c}"), "GB": ("0{n}", "+44{n}", "{n}")}
    digits = "0123456789"
    out: list[bytes] = []
    for _ in range(rows):
        roll = rng.random()
        if roll < 0.05 and out:
            out.append(rng.choice(out))
            continue
        if roll < 0.1:
            out.append(rng.choice([b"12\n", b"not a number\n", b"+44 20 7946 0000\n",
                                   b"+1 212 555 0134\n", b"0\n", b"\n"]))  # fmt: skip
            continue
        n = "".join(rng.choice(digits) for _ in range(rng.choice((8, 9, 10, 10, 10, 11))))
        form = rng.choice(national[region])
        out.append((form.format(n=n, a=n[:3], b=n[3:6], c=n[6:]) + "\n").encode())
    return out


@pytest.mark.parametrize(("source", "region"), [("usdnc", "US"), ("tps", "GB")])
async def test_an_import_gives_the_same_report_and_list_with_or_without_the_fast_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str, region: str
) -> None:
    lines = _mixed_list(region, 3000, seed=16)

    expected = set()
    for line in lines:
        with contextlib.suppress(InvalidNumber):
            expected.add(phone._normalise_parsed(line.decode(), region))

    async def run(name: str) -> tuple[ImportReport, set[str]]:
        async with await Store.open(tmp_path / f"{name}.sqlite3") as store:
            report = await import_dnc(store, lines, source, "2026-11-20", region, batch_rows=500)
            listed = await store.dnc.lookup_many(sorted(expected))
        return report, set(listed)

    fast = await run("fast")
    monkeypatch.setattr(phone, "_FAST_PATHS", {})
    phone._fast_path.cache_clear()
    try:
        slow = await run("slow")
    finally:
        phone._fast_path.cache_clear()
    assert fast == slow
    report, listed = fast
    assert report.imported == len(listed) > 1000 and report.rejects  # nothing else listed
