"""Do-not-call lists: the numbers on each (``suppressions``) and each list's date
(``dnc_lists``).

An entry keeps the first time its number was seen on that list (``added_at``): the
compliance report asks "was it listed when we called?", and moving ``added_at`` forward
on a refresh would hide that. A list's date is the newest one imported, so importing an
older file after a newer one does not make the store look staler than it is.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

from dialguard.law import LIST_NAME_PATTERN
from dialguard.store.database import BATCH_ROWS, Database
from dialguard.store.records import (
    DncListInfo,
    DncSource,
    InsertCounts,
    SuppressionHit,
)

__all__ = ["DncImport", "DncLists", "ImportResult", "check_list_date"]

_LIST_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

# A streaming import (:class:`DncImport`) goes set-based through temporary tables of the
# import's connection (on disk, not in the process, so a 20M-line file stays bounded in
# memory). Batches are only appended to ``dnc_staged``; at the end, one sort puts the
# first line of every number into ``dnc_unique`` (keyed by number, so a number repeated
# anywhere in the file is reported with the line it repeats), and ``suppressions`` is
# upserted from it in key order, :data:`BATCH_ROWS` numbers a transaction. Upserting
# each batch as it came (random numbers across the whole list) rewrote most of the
# table's pages on every commit: 13–25k numbers/s at 1M, falling as the list grew.
# Plain SQL that PostgreSQL runs as is (CREATE TEMP TABLE, window functions, INSERT …
# SELECT … ON CONFLICT); "WHERE true" keeps SQLite from reading ON CONFLICT as a join's ON.
_CREATE_STAGED = """
CREATE TEMP TABLE IF NOT EXISTS dnc_staged (
    line   INTEGER PRIMARY KEY,
    number TEXT NOT NULL,
    reason TEXT,
    raw    TEXT
)
"""
_CREATE_UNIQUE = """
CREATE TEMP TABLE IF NOT EXISTS dnc_unique (
    number TEXT PRIMARY KEY,
    line   INTEGER NOT NULL,
    reason TEXT,
    copies INTEGER NOT NULL
)
"""
_CREATE_REPEATED = """
CREATE TEMP TABLE IF NOT EXISTS dnc_repeated (
    number TEXT PRIMARY KEY,
    line   INTEGER NOT NULL
)
"""
_CLEAR = ("DELETE FROM dnc_staged", "DELETE FROM dnc_unique", "DELETE FROM dnc_repeated")
_DROP = (
    "DROP TABLE IF EXISTS dnc_staged",
    "DROP TABLE IF EXISTS dnc_unique",
    "DROP TABLE IF EXISTS dnc_repeated",
)
_STAGE = "INSERT INTO dnc_staged (line, number, reason, raw) VALUES (?, ?, ?, ?)"
# The first line of each number and how often the file gives it; in number order, so
# the primary key is built by appending (a GROUP BY: half the time of window functions).
_UNIQUE = """
INSERT INTO dnc_unique (number, line, reason, copies)
SELECT number, min(line), NULL, count(*) FROM dnc_staged WHERE true GROUP BY number
ORDER BY number
"""
# The first line's reason, for a file that gives reasons (the internal list's).
_UNIQUE_REASONS = """
UPDATE dnc_unique SET reason = (SELECT s.reason FROM dnc_staged s WHERE s.line = dnc_unique.line)
"""
_REPEATED = """
INSERT INTO dnc_repeated (number, line) SELECT number, line FROM dnc_unique WHERE copies > 1
"""
_REPEATS = """
SELECT s.line, r.line, s.raw FROM dnc_staged s JOIN dnc_repeated r ON r.number = s.number
WHERE s.line <> r.line ORDER BY s.line
"""
# The last number of the next chunk after ``?`` (and how many it holds: 0 at the end).
_CHUNK_END = """
SELECT max(number), count(*) FROM (
    SELECT number FROM dnc_unique WHERE number > ? ORDER BY number LIMIT ?) c
"""
_PRESENT = """
SELECT count(*) FROM dnc_unique u JOIN suppressions s ON s.number = u.number AND s.source = ?
WHERE u.number > ? AND u.number <= ?
"""
# One upsert per number: a new number keeps this import's time as ``added_at`` for good;
# a number already listed takes the newer list date and, if this file gives one, reason.
_UPSERT = """
INSERT INTO suppressions (number, source, list_date, reason, added_at)
SELECT number, ?, ?, reason, ? FROM dnc_unique WHERE number > ? AND number <= ?
ORDER BY number
ON CONFLICT (number, source) DO UPDATE SET
    list_date = excluded.list_date, reason = coalesce(excluded.reason, suppressions.reason)
"""


def check_source_name(source: str) -> None:
    """A ValueError naming ``source`` unless it has a list name's shape (the schema's
    CHECK since migration 8); whether such a list exists is the engine config's call."""
    if not isinstance(source, str) or re.fullmatch(LIST_NAME_PATTERN, source) is None:
        raise ValueError(
            f"DNC source {source!r} is not a list name (a lower-case token: a-z, 0-9, _,"
            " at most 32 characters)"
        )


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What an import did: numbers new to the list, numbers already on it (they took
    this list's date), and ``(line, first line, the line as read)`` of each number the
    file repeats, by line."""

    inserted: int
    already_present: int
    repeats: list[tuple[int, int, str | None]]


class DncImport:
    """One import into one list, fed batch by batch (:meth:`DncLists.importing`), then
    stored at once by :meth:`finish`."""

    def __init__(self, db: Database, source: DncSource, list_date: str | None, ts: float) -> None:
        self._db = db
        self._source = source
        self._list_date = list_date
        self._ts = ts
        self._staged = 0
        self._reasons = False

    async def add(self, entries: Sequence[tuple[int, str, str | None, str | None]]) -> None:
        """Stage ``(line, E.164 number, reason, the line as read)`` entries, each line
        once (the text is kept to quote it if it repeats a number); nothing is listed
        until :meth:`finish` (an import that fails half-way lists nothing)."""
        if not entries:
            return
        async with self._db.scratch() as tx:
            await tx.executemany(_STAGE, [(line, n, why, raw) for line, n, why, raw in entries])
        self._staged += len(entries)
        self._reasons = self._reasons or any(e[2] is not None for e in entries)

    async def finish(self) -> ImportResult:
        """List every staged number: find the file's repeats, then upsert in key order,
        :data:`BATCH_ROWS` numbers a transaction (the engine never waits long behind)."""
        if not self._staged:
            return ImportResult(0, 0, [])
        async with self._db.scratch() as tx:  # temporary tables only: no store lock
            cur = await tx.execute(_UNIQUE)
            unique = cur.rowcount
            if self._reasons:
                await tx.execute(_UNIQUE_REASONS)
            repeats: list[tuple[int, int, str | None]] = []
            if unique < self._staged:
                await tx.execute(_REPEATED)
                cur = await tx.execute(_REPEATS)
                repeats = [(int(r[0]), int(r[1]), r[2]) for r in await cur.fetchall()]
        present, after = 0, ""
        while True:
            async with self._db.scratch() as tx:  # TEMP tables live on the write connection
                cur = await tx.execute(_CHUNK_END, (after, BATCH_ROWS))
                row = await cur.fetchone()
            if row is None or not row[1]:
                break
            last = str(row[0])
            async with self._db.transaction() as tx:
                cur = await tx.execute(_PRESENT, (self._source, after, last))
                found = await cur.fetchone()
                present += int(found[0]) if found else 0
                params = (self._source, self._list_date, self._ts, after, last)
                await tx.execute(_UPSERT, params)
            after = last
        return ImportResult(unique - present, present, repeats)


def check_list_date(value: str) -> str:
    """``YYYY-MM-DD`` or a ValueError naming the value; lists are dated by calendar day."""
    if not _LIST_DATE.match(value):
        raise ValueError(f"list date {value!r} must be written YYYY-MM-DD")
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"list date {value!r} is not a real calendar date") from None
    return value


class DncLists:
    """The ``suppressions`` and ``dnc_lists`` tables."""

    def __init__(self, database: Database) -> None:
        self._db = database
        self._import_lock = asyncio.Lock()

    async def add(
        self,
        numbers: Iterable[str | tuple[str, str | None]],
        source: DncSource,
        list_date: str | None,
        *,
        now: float | None = None,
    ) -> InsertCounts:
        """Put E.164 numbers on a do-not-call list (``(number, reason)`` pairs allowed).

        ``inserted`` counts numbers new to that list; ``already_present`` the rest (a
        number given twice counts once as each), which take the newer list date and
        reason. National lists need ``list_date``; internal entries may leave it None.
        """
        async with self.importing(source, list_date, now=now) as imp:
            batch: list[tuple[int, str, str | None, str | None]] = []
            for line, item in enumerate(numbers, 1):
                number, why = (item, None) if isinstance(item, str) else item
                batch.append((line, number, why, None))
                if len(batch) >= BATCH_ROWS:
                    await imp.add(batch)
                    batch = []
            await imp.add(batch)
            done = await imp.finish()
        present = done.already_present + len(done.repeats)
        return InsertCounts(inserted=done.inserted, already_present=present)

    @asynccontextmanager
    async def importing(
        self, source: DncSource, list_date: str | None, *, now: float | None = None
    ) -> AsyncIterator[DncImport]:
        """A streaming import into the ``source`` list: feed it batches with
        :meth:`DncImport.add`, then :meth:`DncImport.finish`. One import at a time per
        store (they share the connection's temporary tables); its numbers all get
        ``now`` as first seen."""
        check_source_name(source)
        if list_date is not None:
            check_list_date(list_date)
        elif source != "internal":
            raise ValueError(f"a {source} list needs its list date (YYYY-MM-DD)")
        ts = self._db.now(now)
        async with self._import_lock:
            async with self._db.transaction() as tx:
                for sql in (_CREATE_STAGED, _CREATE_UNIQUE, _CREATE_REPEATED, *_CLEAR):
                    await tx.execute(sql)
            try:
                yield DncImport(self._db, source, list_date, ts)
            finally:
                async with self._db.transaction() as tx:
                    for sql in _DROP:
                        await tx.execute(sql)

    async def record_list(
        self, source: DncSource, list_date: str, rows: int, *, now: float | None = None
    ) -> DncListInfo:
        """Record that a list dated ``list_date`` was imported; the newest date wins."""
        check_source_name(source)
        check_list_date(list_date)
        ts = self._db.now(now)
        async with self._db.transaction() as tx:
            await tx.execute(
                "INSERT INTO dnc_lists (source, list_date, imported_at, rows) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (source) DO UPDATE SET list_date = excluded.list_date,"
                " imported_at = excluded.imported_at, rows = excluded.rows"
                " WHERE excluded.list_date >= dnc_lists.list_date",
                (source, list_date, ts, rows),
            )
        return (await self.list_dates())[source]

    async def list_dates(self) -> dict[str, DncListInfo]:
        """Newest imported list per source, for the engine's list-age check."""
        rows = await self._db.fetchall("SELECT * FROM dnc_lists ORDER BY source")
        return {r["source"]: DncListInfo(**{k: r[k] for k in r.keys()}) for r in rows}  # noqa: SIM118

    async def lookup(self, number: str) -> list[SuppressionHit]:
        """Every list ``number`` (E.164) is on; empty if none."""
        rows = await self._db.fetchall(
            "SELECT source, list_date, reason, added_at FROM suppressions WHERE number = ?"
            " ORDER BY source",
            (number,),
        )
        return [SuppressionHit(r[0], r[1], r[2], r[3]) for r in rows]

    async def lookup_many(self, numbers: Sequence[str]) -> dict[str, list[SuppressionHit]]:
        """:meth:`lookup` for many numbers in one query; numbers on no list are absent."""
        found: dict[str, list[SuppressionHit]] = {}
        if not numbers:
            return found
        marks = ",".join("?" * len(numbers))
        rows = await self._db.fetchall(
            "SELECT number, source, list_date, reason, added_at FROM suppressions"
            f" WHERE number IN ({marks}) ORDER BY number, source",
            list(numbers),
        )
        for r in rows:
            found.setdefault(r[0], []).append(SuppressionHit(r[1], r[2], r[3], r[4]))
        return found

    async def listed_contacts(self, campaign_id: str) -> dict[str, int]:
        """How many of a campaign's contacts are on each list, by source.

        One indexed pass; the import reports it so a supervisor sees at once how much of
        a new list the engine will refuse to dial.
        """
        rows = await self._db.fetchall(
            "SELECT s.source, count(*) FROM contacts c JOIN suppressions s"
            " ON s.number = c.number WHERE c.campaign_id = ? GROUP BY s.source ORDER BY s.source",
            (campaign_id,),
        )
        return {r[0]: int(r[1]) for r in rows}

    async def listings_of_dialled(
        self, campaign_id: str, since: float, until: float
    ) -> dict[str, list[tuple[str, float]]]:
        """(source, added_at) of every entry for a number the campaign dialled in
        ``[since, until)``, by number: the compliance report's DNC re-check, in one query."""
        out: dict[str, list[tuple[str, float]]] = {}
        for number, source, added_at in await self._db.fetchall(
            "SELECT s.number, s.source, s.added_at FROM suppressions s WHERE s.number IN"
            " (SELECT DISTINCT number FROM attempts"
            "  WHERE campaign_id = ? AND created_at >= ? AND created_at < ?)",
            (campaign_id, since, until),
        ):
            out.setdefault(str(number), []).append((str(source), float(added_at)))
        return out
