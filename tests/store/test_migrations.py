"""Schema migrations: from an empty file, idempotent on re-open, refused when too new."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from dialguard.store import MIGRATIONS, SCHEMA_VERSION, Migration, SchemaTooNew, Store, StoreError
from dialguard.store import database as store_database

TABLES = {
    "schema_version",
    "campaigns",
    "contacts",
    "suppressions",
    "dnc_lists",
    "attempts",
    "skips",
    "audit",
}


def _tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {r[0] for r in rows}


def _versions(path: Path) -> list[tuple[int, float]]:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT version, applied_at FROM schema_version").fetchall()


def test_migrations_are_numbered_from_one_without_gaps() -> None:
    """Without gaps but 6, PostgreSQL's own (store/postgres_migrations.py)."""
    assert [m.version for m in MIGRATIONS] == [v for v in range(1, SCHEMA_VERSION + 1) if v != 6]
    assert MIGRATIONS[-1].version == SCHEMA_VERSION


async def test_open_creates_every_table_from_an_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "dir" / "store.sqlite3"  # parents are created
    async with await Store.open(path, clock=lambda: 1000.0) as store:
        assert await store.schema_version() == SCHEMA_VERSION
    assert _tables(path) >= TABLES
    versions = _versions(path)
    assert [v for v, _ in versions] == [m.version for m in MIGRATIONS]
    # applied_at is real epoch time from SQLite, not the injected clock.
    assert all(at > 1.7e9 for _, at in versions)


async def test_open_sets_wal_and_foreign_keys(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    async with await Store.open(path) as store:
        with sqlite3.connect(path) as db:  # WAL is a property of the file
            assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        # foreign keys are the store connection's own setting: an attempt of no campaign
        with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
            await store.attempts.open(
                campaign_id="nope", contact_id=None, number="+442079460000", mode="p"
            )


async def test_reopen_is_a_no_op_and_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    async with await Store.open(path) as store:
        await store.campaigns.upsert("spring", "Spring", "{}")
    before = _versions(path)
    async with await Store.open(path) as store:
        assert await store.schema_version() == SCHEMA_VERSION
        assert [c.id for c in await store.campaigns.all()] == ["spring"]
    assert _versions(path) == before


async def test_newer_schema_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    async with await Store.open(path):
        pass
    with sqlite3.connect(path) as db:
        db.execute(
            "INSERT INTO schema_version VALUES (?, 'from the future', 0)", (SCHEMA_VERSION + 1,)
        )
    with pytest.raises(SchemaTooNew) as info:
        await Store.open(path)
    assert info.value.found == SCHEMA_VERSION + 1
    assert info.value.known == SCHEMA_VERSION
    assert str(info.value) == (
        f"{path}: store schema version {SCHEMA_VERSION + 1} is newer than this dialguard "
        f"knows ({SCHEMA_VERSION}); upgrade dialguard or point store.path at another file"
    )
    assert max(v for v, _ in _versions(path)) == SCHEMA_VERSION + 1


async def test_a_file_that_is_not_sqlite_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("this is not a database, just some text that is long enough " * 20)
    with pytest.raises(StoreError, match=r"notes\.txt: not a dialguard store"):
        await Store.open(path)


async def test_failed_migration_rolls_back_entirely(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "s.sqlite3"
    async with await Store.open(path):
        pass
    broken = Migration(
        SCHEMA_VERSION + 1,
        "half a migration",
        "CREATE TABLE half_done (x INTEGER);\nINSERT INTO no_such_table VALUES (1);",
    )
    monkeypatch.setattr(store_database, "MIGRATIONS", (*MIGRATIONS, broken))
    with pytest.raises(StoreError, match=rf"migration {broken.version} failed: no such table"):
        await Store.open(path)
    assert "half_done" not in _tables(path)
    assert max(v for v, _ in _versions(path)) == SCHEMA_VERSION


async def test_new_migration_is_applied_once_on_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "s.sqlite3"
    async with await Store.open(path) as store:
        await store.campaigns.upsert("spring", "Spring", "{}")
    extra = Migration(
        SCHEMA_VERSION + 1, "campaign colour", "ALTER TABLE campaigns ADD COLUMN colour TEXT;"
    )
    monkeypatch.setattr(store_database, "MIGRATIONS", (*MIGRATIONS, extra))
    for _ in range(2):
        async with await Store.open(path) as store:
            assert await store.schema_version() == extra.version
    assert [v for v, _ in _versions(path)] == [*(m.version for m in MIGRATIONS), extra.version]
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT id, colour FROM campaigns").fetchall() == [("spring", None)]


def test_both_backends_take_what_is_pending_from_one_rule() -> None:
    """``pending`` is the one reading of a store's version against a backend's list (the
    SQLite and PostgreSQL stores each wrote it out once)."""
    from dialguard.store import postgres_migrations
    from dialguard.store.migrations import pending

    assert pending(MIGRATIONS, 0, "f.db") == list(MIGRATIONS)
    assert pending(MIGRATIONS, MIGRATIONS[1].version, "f.db") == list(MIGRATIONS[2:])
    assert pending(MIGRATIONS, SCHEMA_VERSION, "f.db") == []
    pg = postgres_migrations.MIGRATIONS
    assert pending(pg, pg[-1].version - 1, "pg") == [pg[-1]]
    with pytest.raises(SchemaTooNew, match=r"f\.db: store schema version 99 is newer"):
        pending(MIGRATIONS, 99, "f.db")


async def test_migration_7_keeps_the_lists_and_takes_bloctel_and_dncr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store of migration 5 (CHECK on four sources) with a TPS list, opened by this
    dialguard: the entries and the list's date are kept, and the new sources fit."""
    path = tmp_path / "s.sqlite3"
    before = tuple(m for m in MIGRATIONS if m.version <= 5)
    monkeypatch.setattr(store_database, "MIGRATIONS", before)
    async with await Store.open(path, clock=lambda: 1000.0) as store:
        await store.dnc.add(["+442079460000"], "tps", "2026-11-20", now=900.0)
        await store.dnc.record_list("tps", "2026-11-20", 1)
    with sqlite3.connect(path) as db, pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        db.execute("INSERT INTO dnc_lists VALUES ('bloctel', '2026-11-20', 0, 0)")
    monkeypatch.undo()
    async with await Store.open(path, clock=lambda: 2000.0) as store:
        assert await store.schema_version() == SCHEMA_VERSION
        [hit] = await store.dnc.lookup("+442079460000")
        assert (hit.source, hit.list_date, hit.added_at) == ("tps", "2026-11-20", 900.0)
        await store.dnc.add(["+33142685300"], "bloctel", "2026-11-21")
        await store.dnc.add(["+61293744000"], "dncr", "2026-11-22")
        await store.dnc.record_list("bloctel", "2026-11-21", 1)
        dates = await store.dnc.list_dates()
        assert {k: v.list_date for k, v in dates.items()} == {
            "tps": "2026-11-20", "bloctel": "2026-11-21"
        }  # fmt: skip
        assert [h.source for h in await store.dnc.lookup("+61293744000")] == ["dncr"]
    with sqlite3.connect(path) as db, pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        db.execute("INSERT INTO dnc_lists VALUES ('FPS', '2026-11-20', 0, 0)")


async def test_migration_8_keeps_the_lists_and_takes_a_declared_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store of migration 7 (CHECK on six names) with a Bloctel list, opened by this
    dialguard: the entries and dates are kept, and a declared list's name now fits."""
    path = tmp_path / "s.sqlite3"
    before = tuple(m for m in MIGRATIONS if m.version <= 7)
    monkeypatch.setattr(store_database, "MIGRATIONS", before)
    async with await Store.open(path, clock=lambda: 1000.0) as store:
        await store.dnc.add(["+33142685300"], "bloctel", "2026-11-20", now=900.0)
        await store.dnc.record_list("bloctel", "2026-11-20", 1)
    with sqlite3.connect(path) as db, pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        db.execute("INSERT INTO dnc_lists VALUES ('robinson_de', '2026-11-20', 0, 0)")
    monkeypatch.undo()
    async with await Store.open(path, clock=lambda: 2000.0) as store:
        assert await store.schema_version() == SCHEMA_VERSION == 8
        [hit] = await store.dnc.lookup("+33142685300")
        assert (hit.source, hit.list_date, hit.added_at) == ("bloctel", "2026-11-20", 900.0)
        await store.dnc.add(["+4930901820"], "robinson_de", "2026-11-21")
        await store.dnc.record_list("robinson_de", "2026-11-21", 1)
        dates = await store.dnc.list_dates()
        assert {k: v.list_date for k, v in dates.items()} == {
            "bloctel": "2026-11-20", "robinson_de": "2026-11-21"
        }  # fmt: skip
