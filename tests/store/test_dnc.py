"""Do-not-call lists: entries keep when first seen, list dates, listed contacts."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from dialguard.store import Store
from tests.store.helpers import FakeClock, contact


async def test_suppressions_counts_and_hits(store: Store, clock: FakeClock) -> None:
    counts = await store.dnc.add(["+442079460000", "+442079460001"], "tps", "2026-11-01")
    assert (counts.inserted, counts.already_present) == (2, 0)
    await store.dnc.add([("+442079460000", "pressed 9")], "internal", None)
    hits = await store.dnc.lookup("+442079460000")
    assert [(h.source, h.list_date, h.reason) for h in hits] == [
        ("internal", None, "pressed 9"),
        ("tps", "2026-11-01", None),
    ]
    assert await store.dnc.lookup("+442079469999") == []


async def test_refreshed_list_keeps_first_seen_time(store: Store, clock: FakeClock) -> None:
    await store.dnc.add(["+442079460000"], "tps", "2026-10-01")
    first_seen = clock.now
    clock.now += 86400 * 30
    counts = await store.dnc.add(["+442079460000", "+442079460001"], "tps", "2026-11-01")
    assert (counts.inserted, counts.already_present) == (1, 1)
    [hit] = await store.dnc.lookup("+442079460000")
    assert (hit.list_date, hit.added_at) == ("2026-11-01", first_seen)


async def test_suppression_argument_checks(store: Store) -> None:
    with pytest.raises(ValueError, match="DNC source 'F-PS' is not a list name"):
        await store.dnc.add(["+442079460000"], "F-PS", "2026-11-01")
    with pytest.raises(ValueError, match="a tps list needs its list date"):
        await store.dnc.add(["+442079460000"], "tps", None)
    with pytest.raises(ValueError, match="list date '01/11/2026' must be written YYYY-MM-DD"):
        await store.dnc.add(["+442079460000"], "tps", "01/11/2026")
    with pytest.raises(ValueError, match="'2026-02-30' is not a real calendar date"):
        await store.dnc.add(["+442079460000"], "tps", "2026-02-30")


async def test_dnc_list_dates_newest_wins(store: Store, clock: FakeClock) -> None:
    assert await store.dnc.list_dates() == {}
    await store.dnc.record_list("tps", "2026-11-01", 100)
    clock.now += 10
    await store.dnc.record_list("tps", "2026-10-01", 90)  # an older file, imported later
    await store.dnc.record_list("usdnc", "2026-11-05", 7)
    dates = await store.dnc.list_dates()
    assert (dates["tps"].list_date, dates["tps"].rows) == ("2026-11-01", 100)
    assert dates["usdnc"].list_date == "2026-11-05"
    clock.now += 10
    info = await store.dnc.record_list("tps", "2026-11-20", 120)
    assert (info.list_date, info.rows, info.imported_at) == ("2026-11-20", 120, clock.now)


async def test_listed_contacts_counts_by_source(store: Store) -> None:
    await store.campaigns.upsert("other", "Other", "{}")
    await store.contacts.insert("spring", [contact(f"+44207946000{i}") for i in range(5)])
    await store.contacts.insert("other", [contact("+442079460009")])
    assert await store.dnc.listed_contacts("spring") == {}
    await store.dnc.add(["+442079460000", "+442079460001"], "tps", "2026-11-01")
    await store.dnc.add(["+442079460001", "+442079460009"], "internal", None)
    assert await store.dnc.listed_contacts("spring") == {"internal": 1, "tps": 2}
    assert await store.dnc.listed_contacts("other") == {"internal": 1}


async def test_a_streaming_import_finds_repeats_across_batches(
    store: Store, clock: FakeClock
) -> None:
    await store.dnc.add([("+442079460009", "pressed 9")], "tps", "2026-10-01")
    first_seen = clock.now
    clock.now += 100
    async with store.dnc.importing("tps", "2026-11-01") as imp:
        await imp.add(
            [
                (2, "+442079460001", None, "020 7946 0001"),
                (3, "+442079460002", None, "02079460002"),
                (5, "+442079460001", None, "+442079460001"),
            ]
        )
        await imp.add([])
        assert await store.dnc.lookup("+442079460001") == []  # staged, not listed yet
        await imp.add([(7, "+442079460002", None, "x"), (8, "+442079460009", None, "y")])
        done = await imp.finish()
    assert (done.inserted, done.already_present) == (2, 1)
    assert done.repeats == [(5, 2, "+442079460001"), (7, 3, "x")]
    [hit] = await store.dnc.lookup("+442079460009")  # refreshed: new date, first seen kept
    assert (hit.list_date, hit.added_at, hit.reason) == ("2026-11-01", first_seen, "pressed 9")
    [new] = await store.dnc.lookup("+442079460001")
    assert (new.list_date, new.added_at) == ("2026-11-01", clock.now)
    async with store.dnc.importing("tps", "2026-11-02") as imp:  # a new import starts afresh
        await imp.add([(1, "+442079460001", None, None)])
        again = await imp.finish()
    assert (again.inserted, again.already_present, again.repeats) == (0, 1, [])


async def test_a_streaming_import_lists_in_chunks_across_key_order(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chunks of the upsert end where the next begins: none lost, none twice."""
    monkeypatch.setattr("dialguard.store.dnc.BATCH_ROWS", 3)
    numbers = [f"+44207946{n:04d}" for n in (7, 3, 9, 1, 5, 2, 8, 4, 6, 0, 3)]
    await store.dnc.add(numbers[:2], "tps", "2026-10-01")
    async with store.dnc.importing("tps", "2026-11-01") as imp:
        await imp.add([(i, n, "why", None) for i, n in enumerate(numbers, 1)])
        done = await imp.finish()
    assert (done.inserted, done.already_present) == (8, 2)
    assert done.repeats == [(11, 2, None)]
    for n in set(numbers):
        [hit] = await store.dnc.lookup(n)
        assert hit.list_date == "2026-11-01" and hit.reason == "why"


async def test_an_import_that_fails_half_way_lists_nothing(store: Store) -> None:
    with pytest.raises(RuntimeError):
        async with store.dnc.importing("tps", "2026-11-01") as imp:
            await imp.add([(1, "+442079460001", None, None)])
            raise RuntimeError("the file broke")
    assert await store.dnc.lookup("+442079460001") == []
    async with store.dnc.importing("tps", "2026-11-02") as imp:  # temp tables start empty
        assert (await imp.finish()).inserted == 0


async def test_add_counts_a_number_given_twice_once_as_each(store: Store) -> None:
    counts = await store.dnc.add(["+442079460000", "+442079460000"], "internal", None)
    assert (counts.inserted, counts.already_present) == (1, 1)


@pytest.mark.sqlite_only
async def test_an_import_sorting_its_list_leaves_the_store_writable(
    location: Path | str, store: Store
) -> None:
    """The sort of a big list (seconds for millions of numbers) runs in a scratch
    transaction: another connection (the engine's) writes meanwhile without waiting;
    inside a write transaction it would time out."""
    async with await Store.open(location, busy_timeout_s=0.05) as engine:
        async with store._database.scratch() as tx:
            await tx.execute("CREATE TEMP TABLE sorting (n TEXT)")
            await tx.execute("INSERT INTO sorting VALUES ('+442079460000')")
            await engine.dnc.add(["+442079460001"], "internal", None)
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            async with store._database.transaction():
                await engine.dnc.add(["+442079460002"], "internal", None)


async def test_any_list_name_of_the_right_shape_is_stored_and_others_are_refused(
    store: Store, location: object
) -> None:
    """Migrations 7 and 8 (SQLite rebuilds the tables, PostgreSQL swaps the CHECK in
    place): built-in and declared lists (``robinson_de``) fit on both, and a source that
    is not a lower-case token is refused by the store and by the schema itself."""
    await store.dnc.add(["+33142685300"], "bloctel", "2026-11-20")
    await store.dnc.add(["+61293744000"], "dncr", "2026-11-21")
    await store.dnc.add(["+4930901820"], "robinson_de", "2026-11-22")
    await store.dnc.record_list("bloctel", "2026-11-20", 1)
    await store.dnc.record_list("dncr", "2026-11-21", 1)
    await store.dnc.record_list("robinson_de", "2026-11-22", 1)
    assert [h.source for h in await store.dnc.lookup("+33142685300")] == ["bloctel"]
    assert [h.source for h in await store.dnc.lookup("+61293744000")] == ["dncr"]
    assert [h.source for h in await store.dnc.lookup("+4930901820")] == ["robinson_de"]
    assert {k: v.list_date for k, v in (await store.dnc.list_dates()).items()} == {
        "bloctel": "2026-11-20", "dncr": "2026-11-21", "robinson_de": "2026-11-22"
    }  # fmt: skip
    with pytest.raises(ValueError, match="'Robinson-DE' is not a list name"):
        await store.dnc.record_list("Robinson-DE", "2026-11-22", 1)
    for name in ("Robinson", "robinson-de", "9tps", "", "a" * 33):
        bad = (
            "INSERT INTO dnc_lists (source, list_date, imported_at, rows)"
            f" VALUES ('{name}', 'x', 0, 0)"
        )
        if isinstance(location, str):
            import psycopg

            with psycopg.connect(location) as pg, pytest.raises(psycopg.errors.CheckViolation):
                pg.execute(bad)
        else:
            import sqlite3

            with sqlite3.connect(str(location)) as db, pytest.raises(sqlite3.IntegrityError):
                db.execute(bad)
