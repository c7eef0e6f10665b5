"""The PostgreSQL store: the same :class:`~dialguard.store.database.Database` the
repositories use on SQLite, over a pool of psycopg 3 connections.

Why it is built this way:

- The repositories' SQL is written once, with SQLite's ``?`` placeholders; each
  statement is translated once (``?`` → ``%s``, a literal ``%`` doubled) and cached, so
  no repository knows which database it runs on.
- A pool, not one connection: several nodes' engines and this engine's coroutines write
  at once, and PostgreSQL's row locks (not an asyncio lock) keep them apart. A dropped
  connection is replaced by the pool instead of failing every later statement.
- A transaction holds its pooled connection for its whole block; reads made inside the
  block (``fetchone`` in ``campaigns.upsert``) run on that connection, found through a
  context variable, so they see the block's own writes exactly as on SQLite.
- Rows answer by index and by column name (:class:`PgRow`), as ``sqlite3.Row`` does, so
  ``records.*.from_row`` serve both.
- Migrations run under a transaction-scoped advisory lock: two nodes started together
  do not both apply the same one.
- The URL never carries the password (``store.url`` refuses one); it is passed apart,
  and the URL shown in messages is the one the operator wrote.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, Self

import psycopg
from psycopg.rows import RowMaker
from psycopg_pool import AsyncConnectionPool

from dialguard.logs import get_logger
from dialguard.store.database import Clock, Cursor, Database, Dialect, Row, Tx
from dialguard.store.errors import StoreError
from dialguard.store.migrations import pending
from dialguard.store.postgres_migrations import BOOTSTRAP_SQL, MIGRATIONS

__all__ = ["POSTGRES", "PgRow", "PostgresDatabase", "translate"]

log = get_logger(__name__)

POSTGRES = Dialect("postgresql", lock_rows=" FOR UPDATE SKIP LOCKED", share_row=" FOR SHARE")

_MIGRATION_LOCK = 0x6469616C  # "dial": the advisory lock key migrations are applied under


@functools.lru_cache(maxsize=1024)
def translate(sql: str) -> str:
    """SQLite's ``?`` placeholders as psycopg's ``%s``; a literal ``%`` doubled; text in
    single quotes (SQL string literals) left exactly as written."""
    out: list[str] = []
    quoted = False
    for ch in sql:
        if ch == "'":
            quoted = not quoted
            out.append(ch)
        elif quoted:
            out.append("%%" if ch == "%" else ch)
        elif ch == "?":
            out.append("%s")
        elif ch == "%":
            out.append("%%")
        else:
            out.append(ch)
    return "".join(out)


class PgRow:
    """One result row: ``row[0]``, ``row["id"]``, ``row.keys()``, unpacking."""

    __slots__ = ("_index", "_values")

    def __init__(self, values: Sequence[Any], index: dict[str, int]) -> None:
        self._values = tuple(values)
        self._index = index

    def __getitem__(self, key: int | str) -> Any:
        if isinstance(key, str):
            return self._values[self._index[key]]
        return self._values[key]

    def keys(self) -> list[str]:
        return list(self._index)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"PgRow({dict(zip(self._index, self._values, strict=True))!r})"


def _pg_row(cursor: psycopg.AsyncCursor[Any]) -> RowMaker[PgRow]:
    names = [c.name for c in cursor.description or ()]
    index = {name: i for i, name in enumerate(names)}
    return lambda values: PgRow(values, index)


class _PgCursor:
    """A statement's result inside a transaction (the :class:`Cursor` protocol)."""

    def __init__(self, cur: psycopg.AsyncCursor[PgRow]) -> None:
        self._cur = cur

    @property
    def rowcount(self) -> int:
        return self._cur.rowcount

    async def fetchone(self) -> Row | None:
        return await self._cur.fetchone()

    async def fetchall(self) -> list[Row]:
        return list(await self._cur.fetchall())

    async def close(self) -> None:
        await self._cur.close()


class _PgTx:
    """The :class:`Tx` a PostgreSQL transaction yields: its connection, translated SQL."""

    def __init__(self, conn: psycopg.AsyncConnection[PgRow]) -> None:
        self._conn = conn

    async def execute(self, sql: str, parameters: Iterable[Any] | None = None, /) -> Cursor:
        cur = self._conn.cursor()
        await cur.execute(translate(sql), tuple(parameters or ()))
        return _PgCursor(cur)

    async def executemany(self, sql: str, parameters: Iterable[Iterable[Any]], /) -> Cursor:
        cur = self._conn.cursor()
        await cur.executemany(translate(sql), [tuple(p) for p in parameters])
        return _PgCursor(cur)


class PostgresDatabase(Database):
    """One PostgreSQL store. Create with ``await PostgresDatabase.open(url)``."""

    dialect = POSTGRES

    def __init__(self, pool: AsyncConnectionPool[Any], url: str, clock: Clock) -> None:
        super().__init__(url, clock)
        self._pool = pool
        # The connection of the transaction the current task is inside, if any.
        self._in_tx: contextvars.ContextVar[psycopg.AsyncConnection[PgRow] | None] = (
            contextvars.ContextVar(f"dialguard_pg_tx_{id(self)}", default=None)
        )

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        clock: Clock,
        password: str | None = None,
        connect_timeout_s: float = 10.0,
        max_connections: int = 8,
    ) -> Self:
        """Connect to the database at ``url`` and bring its schema up to date.

        Raises :class:`SchemaTooNew` if a newer dialguard migrated it and
        :class:`StoreError` naming the URL if it cannot be reached."""
        kwargs: dict[str, Any] = {"autocommit": True, "row_factory": _pg_row}
        if password is not None:
            kwargs["password"] = password
        pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
            url,
            kwargs=kwargs,
            min_size=1,
            max_size=max_connections,
            open=False,
            timeout=connect_timeout_s,
            name="dialguard-store",
        )
        try:
            await pool.open(wait=True, timeout=connect_timeout_s)
        except Exception as e:  # psycopg_pool raises PoolTimeout with the last error logged
            await pool.close()
            raise StoreError(f"{url}: cannot connect to the store ({e})") from None
        database = cls(pool, url, clock)
        try:
            await database._migrate()
        except BaseException:
            await pool.close()
            raise
        return database

    async def _migrate(self) -> None:
        async with self._pool.connection() as conn:
            await conn.execute(BOOTSTRAP_SQL)
        for m in pending(MIGRATIONS, await self.schema_version(), self.path):
            async with self._pool.connection() as conn, conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
                cur = await conn.execute("SELECT max(version) FROM schema_version")
                row = await cur.fetchone()
                if row is not None and row[0] is not None and int(row[0]) >= m.version:
                    continue  # another node applied it while we waited for the lock
                try:
                    await conn.execute(m.sql)
                except psycopg.Error as e:
                    raise StoreError(f"{self.path}: migration {m.version} failed: {e}") from None
                await conn.execute(
                    "INSERT INTO schema_version (version, description, applied_at)"
                    " VALUES (%s, %s, extract(epoch FROM clock_timestamp()))",
                    (m.version, m.description),
                )
            log.info("store_migrated", path=self.path, version=m.version)

    async def close(self) -> None:
        await self._pool.close()

    # ------------------------------------------------------------------ statements

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        """``BEGIN`` … ``COMMIT`` on one pooled connection, ``ROLLBACK`` if the block raises.

        Transactions of different coroutines run at once on different connections;
        PostgreSQL's row locks order the ones that touch the same rows."""
        if self._in_tx.get() is not None:
            raise RuntimeError("a store transaction is already open in this task")
        async with self._pool.connection() as conn, conn.transaction():
            token = self._in_tx.set(conn)
            try:
                yield _PgTx(conn)
            finally:
                self._in_tx.reset(token)

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        rows: list[Row] = await self._read(sql, params, lambda cur: cur.fetchall())
        return rows

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        return await self._read(sql, params, lambda cur: cur.fetchone())

    async def _read(
        self, sql: str, params: Sequence[Any], take: Callable[[psycopg.AsyncCursor[Any]], Any]
    ) -> Any:
        conn = self._in_tx.get()
        if conn is not None:  # inside this task's transaction: see its writes
            async with conn.cursor() as cur:
                await cur.execute(translate(sql), tuple(params))
                return await take(cur)
        async with self._pool.connection() as pooled, pooled.cursor() as cur:
            await cur.execute(translate(sql), tuple(params))
            return await take(cur)
