"""The SQLite and PostgreSQL schemas have the same tables and columns, so a migration
added to one list without its twin in the other fails here, not on a customer's node."""

from __future__ import annotations

from pathlib import Path

import pytest

from dialguard.store import Store
from dialguard.store.postgres_migrations import PG_ONLY_TABLES
from tests.support.postgres import scratch_database


async def _sqlite_columns(path: Path) -> dict[str, set[str]]:
    import sqlite3

    async with await Store.open(path):
        pass
    db = sqlite3.connect(path)
    try:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: {r[1] for r in db.execute(f'PRAGMA table_info("{t}")')} for t in tables}
    finally:
        db.close()


async def _pg_columns(url: str) -> dict[str, set[str]]:
    import psycopg

    async with await Store.open(url):
        pass
    with psycopg.connect(url) as db:
        rows = db.execute(
            "SELECT table_name, column_name FROM information_schema.columns"
            " WHERE table_schema = 'public'"
        ).fetchall()
    out: dict[str, set[str]] = {}
    for table, column in rows:
        out.setdefault(table, set()).add(column)
    return out


async def test_both_backends_have_the_same_tables_and_columns(tmp_path: Path) -> None:
    sqlite = await _sqlite_columns(tmp_path / "s.sqlite3")
    with scratch_database() as url:
        pg = await _pg_columns(url)
    assert set(pg) >= PG_ONLY_TABLES, "the scale-out tables exist on PostgreSQL"
    shared = {t: c for t, c in pg.items() if t not in PG_ONLY_TABLES}
    assert set(shared) == set(sqlite), "tables differ between the two schemas"
    for table, columns in sqlite.items():
        assert shared[table] == columns, f"{table}: columns differ"


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_a_newer_postgresql_schema_is_refused(backend: str) -> None:
    import psycopg

    from dialguard.store import SchemaTooNew

    with scratch_database() as url:
        async with await Store.open(url):
            pass
        with psycopg.connect(url, autocommit=True) as db:
            db.execute(
                "INSERT INTO schema_version (version, description, applied_at)"
                " VALUES (999, 'from the future', 0)"
            )
        with pytest.raises(SchemaTooNew, match="999"):
            await Store.open(url)


def test_every_sqlite_migration_reaches_postgresql_and_sqlite_only_syntax_is_refused() -> None:
    from dialguard.store.migrations import MIGRATIONS as SQLITE
    from dialguard.store.migrations import Migration
    from dialguard.store.postgres_migrations import MIGRATIONS as PG
    from dialguard.store.postgres_migrations import to_postgres

    assert {m.version for m in SQLITE} < {m.version for m in PG}
    assert [m.version for m in PG] == sorted(m.version for m in PG)
    with pytest.raises(ValueError, match="migration 99 uses 'PRAGMA'"):
        to_postgres(Migration(99, "x", "PRAGMA user_version = 3;"))
