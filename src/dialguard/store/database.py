"""The database: the interface every repository runs its SQL through, and its SQLite
implementation (one file, a write and a read connection, its transactions and its
schema).

:class:`Database` is what repositories see; :class:`SqliteDatabase` (here) and
:class:`~dialguard.store.postgres.PostgresDatabase` implement it, and
:class:`~dialguard.store.fencing.FencedDatabase` wraps either with a campaign lease's
fencing check. Repository SQL is written once, with ``?`` placeholders, in the subset
both databases speak (``ON CONFLICT``, ``RETURNING``, ``FILTER``); what differs by
dialect lives in :class:`Dialect`.

Every repository of the store (:mod:`~dialguard.store.campaigns`,
:mod:`~dialguard.store.contacts`, ...) runs its SQL through one :class:`Database`; none
opens a connection or a transaction of its own. Nothing outside ``dialguard.store``
sees this class (``tests/store/test_boundary.py``).

Why it is built this way:

- WAL journal, so reports and a second process (``dialguard import`` while the daemon
  runs) read while the engine writes; ``busy_timeout`` so a writer waits for another
  instead of failing at once.
- Every write runs in an explicit ``BEGIN IMMEDIATE`` transaction (:meth:`transaction`)
  under an asyncio lock: the connection is shared by coroutines, and without the lock
  one coroutine's statement would land inside another's transaction and be committed or
  rolled back with it. A repository that writes two tables at once (a campaign change
  and its audit entry) does both inside one ``transaction()``.
- Reads outside a transaction run on a second, read-only connection (its own thread):
  the engine's picks and history checks do not wait behind the write-behind's batches
  (engine/writes.py) on the write connection's thread, WAL lets them run beside a
  write, and they see only committed rows. Reads inside a transaction stay on its
  connection and see its writes. ``:memory:`` keeps one connection (a second would
  open another, empty database).
- Time comes from an injectable clock (epoch seconds, UTC) so tests and the simulator
  control it; methods whose time matters to the law also take ``now`` explicitly.
- All SQL is parameterised and written out in full in the repositories: no column name
  is ever formatted into a statement from a caller's argument.
"""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import json
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, Self

import aiosqlite

from dialguard.logs import get_logger
from dialguard.store.errors import StoreError, UnknownRecord
from dialguard.store.migrations import BOOTSTRAP_SQL, MIGRATIONS, pending
from dialguard.store.records import InsertCounts

__all__ = [
    "BATCH_ROWS",
    "SQLITE",
    "Clock",
    "Cursor",
    "Database",
    "Dialect",
    "Row",
    "SqliteDatabase",
    "Tx",
    "check_choice",
    "dumps",
]

log = get_logger(__name__)

Clock = Callable[[], float]

# Rows per transaction in batch inserts: big enough to amortise the commit, small
# enough that the engine never waits long for the write lock behind an import.
BATCH_ROWS = 5000


Row = Any
"""A result row: by index (``row[0]``), by column name (``row["id"]``) and ``row.keys()``
(``sqlite3.Row``, or :class:`~dialguard.store.postgres.PgRow`)."""


class Cursor(Protocol):
    """What a statement run inside a transaction gives back."""

    @property
    def rowcount(self) -> int: ...

    async def fetchone(self) -> Row | None: ...

    async def fetchall(self) -> Iterable[Row]: ...

    async def close(self) -> None: ...


class Tx(Protocol):
    """The handle :meth:`Database.transaction` yields: statements on its connection."""

    def execute(self, sql: str, parameters: Iterable[Any] | None = ..., /) -> Awaitable[Cursor]: ...

    def executemany(
        self, sql: str, parameters: Iterable[Iterable[Any]], /
    ) -> Awaitable[Cursor]: ...


@dataclass(frozen=True, slots=True)
class Dialect:
    """The few things the two databases say differently, in one place.

    ``lock_rows``: appended to a SELECT whose rows the transaction is about to change, so
    a concurrent transaction on another node skips them (PostgreSQL) or, where the whole
    database is locked by ``BEGIN IMMEDIATE`` anyway (SQLite), nothing.
    ``share_row``: appended to a SELECT of a row that must not change until commit (the
    fencing check reads its lease this way).
    ``index_hints``: SQLite takes ``INDEXED BY`` (the due walks name their partial index
    so the planner cannot pick one that needs a sort); PostgreSQL has no such clause."""

    name: str
    lock_rows: str
    share_row: str
    index_hints: bool = False

    def indexed_by(self, index: str) -> str:
        """`` INDEXED BY index`` where the database takes it, else nothing."""
        return f" INDEXED BY {index}" if self.index_hints else ""


SQLITE = Dialect("sqlite", lock_rows="", share_row="", index_hints=True)


def check_choice(what: str, value: str, allowed: Sequence[str]) -> None:
    """A ValueError naming ``what`` unless ``value`` is one of ``allowed``.

    The types say which values are allowed; this says so at run time too, where a
    caller's string came from a file or a request rather than from typed code."""
    if value not in allowed:
        raise ValueError(f"{what} {value!r} is not one of: {', '.join(allowed)}")


def dumps(value: Any) -> str:
    """JSON as the store keeps it: compact, keys sorted, non-ASCII kept as is."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


class Database(ABC):
    """What the repositories run their SQL through (one per open store).

    ``path`` names the store in messages (a file, or a URL without its password)."""

    path: str
    dialect: Dialect

    def __init__(self, path: str, clock: Clock) -> None:
        self.path = path
        self._clock = clock

    @abstractmethod
    def transaction(self) -> AbstractAsyncContextManager[Tx]:
        """One write transaction (``BEGIN`` … ``COMMIT``, ``ROLLBACK`` if the block
        raises); reads through :meth:`fetchone` / :meth:`fetchall` inside the block see
        its writes."""

    def scratch(self) -> AbstractAsyncContextManager[Tx]:
        """A transaction that writes only the connection's temporary tables (a bulk
        import's sorting): where the database can, it takes no lock on the store's own
        tables, so other writers do not wait behind it (SQLite). Else a
        :meth:`transaction`."""
        return self.transaction()

    @abstractmethod
    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]: ...

    @abstractmethod
    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None: ...

    @abstractmethod
    async def close(self) -> None: ...

    async def schema_version(self) -> int:
        """The newest migration applied to the store (0 for a store with none)."""
        row = await self.fetchone("SELECT max(version) FROM schema_version")
        return int(row[0]) if row and row[0] is not None else 0

    def now(self, now: float | None = None) -> float:
        """``now`` if the caller gave one, else the store's clock."""
        return self._clock() if now is None else now

    async def update_one(self, sql: str, params: Sequence[Any], missing: str) -> None:
        """Run an UPDATE of one row by id; :class:`UnknownRecord` ``missing`` if none."""
        async with self.transaction() as tx:
            cur = await tx.execute(sql, params)
            if cur.rowcount == 0:
                raise UnknownRecord(missing)

    async def insert_in_batches(
        self,
        insert_sql: str,
        params: Iterable[tuple[Any, ...]],
        *,
        refresh: tuple[str, Callable[..., tuple[Any, ...]]] | None = None,
    ) -> InsertCounts:
        """INSERT … ON CONFLICT DO NOTHING ``params`` in transactions of BATCH_ROWS rows,
        counting rows new and already present; ``refresh`` (SQL, row → its parameters)
        then updates the rows of each batch that were already there."""
        inserted = present = 0
        it = iter(params)
        while batch := list(itertools.islice(it, BATCH_ROWS)):
            async with self.transaction() as db:
                cur = await db.executemany(insert_sql, batch)
                n = cur.rowcount
                await cur.close()
                if refresh is not None:
                    sql, of = refresh
                    cur = await db.executemany(sql, [of(*row) for row in batch])
                    await cur.close()
            inserted += n
            present += len(batch) - n
        return InsertCounts(inserted=inserted, already_present=present)


class SqliteDatabase(Database):
    """One open SQLite store file. Create with ``await SqliteDatabase.open(path)``."""

    dialect = SQLITE

    def __init__(self, db: aiosqlite.Connection, path: str, clock: Clock) -> None:
        super().__init__(path, clock)
        self._db = db
        self._write_lock = asyncio.Lock()
        # Reads outside a transaction go to a second connection (see _open_reader); None
        # until then, and for ":memory:", whose data a second connection would not see.
        self._reader: aiosqlite.Connection | None = None
        self._in_tx: contextvars.ContextVar[bool] = contextvars.ContextVar(
            f"dialguard_sqlite_tx_{id(self)}", default=False
        )

    # ------------------------------------------------------------------ lifecycle

    @classmethod
    async def open(cls, path: Path | str, *, clock: Clock, busy_timeout_s: float) -> Self:
        """Open (creating if needed) the file at ``path`` and bring its schema up to date.

        Raises :class:`SchemaTooNew` if a newer dialguard wrote the file and
        :class:`StoreError` if it is not an SQLite database or cannot be created.
        """
        shown = str(path)
        if shown != ":memory:":
            try:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise StoreError(f"{shown}: cannot create its directory ({e.strerror})") from None
        try:
            db = await aiosqlite.connect(shown, isolation_level=None)
        except sqlite3.Error as e:
            raise StoreError(f"{shown}: cannot open the store ({e})") from None
        database = cls(db, shown, clock)
        try:
            await database._configure(busy_timeout_s)
            await database._migrate()
            if shown != ":memory:":
                await database._open_reader(busy_timeout_s)
        except BaseException:
            await database.close()
            raise
        return database

    async def _open_reader(self, busy_timeout_s: float) -> None:
        """The read connection: a thread of its own, so the engine's reads (the contact
        pick, a number's history) never queue behind the write-behind's transactions on
        the write connection's thread, and SQLite runs them beside a write (WAL: a reader
        sees the last commit and is never blocked by the writer). Read-only by pragma."""
        try:
            reader = await aiosqlite.connect(self.path, isolation_level=None)
        except sqlite3.Error as e:
            raise StoreError(f"{self.path}: cannot open a read connection ({e})") from None
        self._reader = reader
        reader.row_factory = sqlite3.Row
        await reader.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
        await reader.execute("PRAGMA query_only = ON")

    async def _configure(self, busy_timeout_s: float) -> None:
        db = self._db
        db.row_factory = sqlite3.Row
        try:
            await db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
            async with db.execute("PRAGMA journal_mode = WAL") as cur:
                row = await cur.fetchone()
        except sqlite3.DatabaseError as e:
            raise StoreError(f"{self.path}: not a dialguard store ({e})") from None
        mode = str(row[0]).lower() if row else "?"
        if mode not in ("wal", "memory"):
            log.warning("store_not_wal", path=self.path, journal_mode=mode)
        await db.execute("PRAGMA foreign_keys = ON")
        # NORMAL is durable across application crashes in WAL mode; only an OS crash or
        # power loss can lose the last transactions, and it never corrupts the file.
        await db.execute("PRAGMA synchronous = NORMAL")

    async def _migrate(self) -> None:
        db = self._db
        await db.executescript(BOOTSTRAP_SQL)
        for m in pending(MIGRATIONS, await self.schema_version(), self.path):
            # The script carries its own BEGIN/COMMIT: executescript() would otherwise
            # commit a transaction opened around it. Applied-at is computed by SQLite.
            script = (
                "BEGIN IMMEDIATE;\n"
                f"{m.sql}\n"
                "INSERT INTO schema_version (version, description, applied_at) VALUES "
                f"({m.version}, {_sql_literal(m.description)}, "
                "(julianday('now') - 2440587.5) * 86400.0);\n"
                "COMMIT;"
            )
            try:
                await db.executescript(script)
            except sqlite3.Error as e:
                if db.in_transaction:
                    await db.rollback()
                # Another process may have applied it between our read and our BEGIN.
                if await self.schema_version() >= m.version:
                    continue
                raise StoreError(f"{self.path}: migration {m.version} failed: {e}") from None
            log.info("store_migrated", path=self.path, version=m.version)

    async def close(self) -> None:
        if self._reader is not None:
            await self._reader.close()
        await self._db.close()

    # ------------------------------------------------------------------ statements

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        """``BEGIN IMMEDIATE`` … ``COMMIT``, or ``ROLLBACK`` if the block raises.

        Yields the connection to run the block's statements on; reads through
        :meth:`fetchone` / :meth:`fetchall` inside the block (in the same task) run on
        it too and see its writes; other tasks' reads see only what is committed."""
        async with self._on_writer("BEGIN IMMEDIATE") as tx:
            yield tx

    @asynccontextmanager
    async def scratch(self) -> AsyncIterator[Tx]:
        """A deferred ``BEGIN``: writes to TEMP tables lock only the temporary database,
        so the engine's writes to the store go on while an import sorts its list."""
        async with self._on_writer("BEGIN") as tx:
            yield tx

    @asynccontextmanager
    async def _on_writer(self, begin: str) -> AsyncIterator[Tx]:
        """``begin`` … ``COMMIT`` (``ROLLBACK`` if the block raises) on the write
        connection; reads of this task meanwhile run on it too (and see its writes and
        its temporary tables)."""
        async with self._write_lock:
            await self._db.execute(begin)
            token = self._in_tx.set(True)
            try:
                yield self._db
            except BaseException:
                await self._db.rollback()
                raise
            finally:
                self._in_tx.reset(token)
            await self._db.commit()

    def _read_on(self) -> aiosqlite.Connection:
        if self._reader is None or self._in_tx.get():
            return self._db
        return self._reader

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        async with self._read_on().execute(sql, params) as cur:
            return list(await cur.fetchall())

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        async with self._read_on().execute(sql, params) as cur:
            row: sqlite3.Row | None = await cur.fetchone()
            return row


def _sql_literal(text: str) -> str:
    """Quote a constant (a migration's description) as an SQL string literal."""
    return "'" + text.replace("'", "''") + "'"
