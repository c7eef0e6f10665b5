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

from dialguard.store.database import BATCH_ROWS, Database, check_choice
from dialguard.store.records import (
    DNC_SOURCES,
    DncListInfo,
    DncSource,
    InsertCounts,
    SuppressionHit,
)

__all__ = ["BatchResult", "DncImport", "DncLists", "check_list_date"]

_LIST_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

# A streaming import (:class:`DncImport`) goes set-based, one batch at a time, through
# two temporary tables of the import's connection: ``dnc_batch`` holds the batch, and
# ``dnc_seen`` the first line of every number the import has met, so a number repeated
# anywhere in a 20M-line file is reported with the line it repeats, in bounded memory
# (a temporary table lives on disk, not in the process). Plain SQL that PostgreSQL runs
# as is (CREATE TEMP TABLE, INSERT … SELECT … ON CONFLICT); "WHERE true" keeps SQLite
# from reading ON CONFLICT as a join's ON.
_CREATE_BATCH = """
CREATE TEMP TABLE IF NOT EXISTS dnc_batch (
    number TEXT NOT NULL,
    line   INTEGER NOT NULL,
    reason TEXT
)
"""
_CREATE_SEEN = """
CREATE TEMP TABLE IF NOT EXISTS dnc_seen (
    number TEXT PRIMARY KEY,
    line   INTEGER NOT NULL
)
"""
_CLEAR_BATCH = "DELETE FROM dnc_batch"
_CLEAR_SEEN = "DELETE FROM dnc_seen"
_DROP_BATCH = "DROP TABLE IF EXISTS dnc_batch"
_DROP_SEEN = "DROP TABLE IF EXISTS dnc_seen"
_FILL_BATCH = "INSERT INTO dnc_batch (number, line, reason) VALUES (?, ?, ?)"
_MARK_SEEN = """
INSERT INTO dnc_seen (number, line)
SELECT number, min(line) FROM dnc_batch WHERE true GROUP BY number
ON CONFLICT (number) DO NOTHING
"""
_REPEATS = """
SELECT b.line, s.line FROM dnc_batch b JOIN dnc_seen s ON s.number = b.number
WHERE b.line <> s.line ORDER BY b.line
"""
_DROP_REPEATS = """
DELETE FROM dnc_batch WHERE NOT EXISTS (
    SELECT 1 FROM dnc_seen s WHERE s.number = dnc_batch.number AND s.line = dnc_batch.line)
"""
_PRESENT = """
SELECT count(*) FROM dnc_batch b JOIN suppressions s ON s.number = b.number AND s.source = ?
"""
# One upsert per row: a new number keeps this import's time as ``added_at`` for good; a
# number already listed takes the newer list date and, if this file gives one, reason.
_UPSERT = """
INSERT INTO suppressions (number, source, list_date, reason, added_at)
SELECT number, ?, ?, reason, ? FROM dnc_batch WHERE true ORDER BY number
ON CONFLICT (number, source) DO UPDATE SET
    list_date = excluded.list_date, reason = coalesce(excluded.reason, suppressions.reason)
"""


@dataclass(frozen=True, slots=True)
class BatchResult:
    """What one batch did: numbers new to the list, numbers already on it (they took
    this list's date), and ``(line, first line)`` of each number the import had met."""

    inserted: int
    already_present: int
    repeats: list[tuple[int, int]]


class DncImport:
    """One import into one list, fed batch by batch (:meth:`DncLists.importing`)."""

    def __init__(self, db: Database, source: DncSource, list_date: str | None, ts: float) -> None:
        self._db = db
        self._params = (source, list_date, ts)

    async def add(self, entries: Sequence[tuple[int, str, str | None]]) -> BatchResult:
        """Store ``(line, E.164 number, reason)`` entries in one transaction."""
        if not entries:
            return BatchResult(0, 0, [])
        async with self._db.transaction() as tx:
            await tx.execute(_CLEAR_BATCH)
            await tx.executemany(_FILL_BATCH, [(n, line, why) for line, n, why in entries])
            cur = await tx.execute(_MARK_SEEN)
            fresh = cur.rowcount
            repeats: list[tuple[int, int]] = []
            if fresh < len(entries):
                cur = await tx.execute(_REPEATS)
                repeats = [(int(r[0]), int(r[1])) for r in await cur.fetchall()]
                await tx.execute(_DROP_REPEATS)
            cur = await tx.execute(_PRESENT, (self._params[0],))
            row = await cur.fetchone()
            present = int(row[0]) if row else 0
            await tx.execute(_UPSERT, self._params)
        return BatchResult(len(entries) - len(repeats) - present, present, repeats)


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
        inserted = present = 0
        async with self.importing(source, list_date, now=now) as imp:
            batch: list[tuple[int, str, str | None]] = []
            for line, item in enumerate(numbers, 1):
                batch.append((line, item, None) if isinstance(item, str) else (line, *item))
                if len(batch) >= BATCH_ROWS:
                    done = await imp.add(batch)
                    inserted += done.inserted
                    present += done.already_present + len(done.repeats)
                    batch = []
            done = await imp.add(batch)
        inserted += done.inserted
        present += done.already_present + len(done.repeats)
        return InsertCounts(inserted=inserted, already_present=present)

    @asynccontextmanager
    async def importing(
        self, source: DncSource, list_date: str | None, *, now: float | None = None
    ) -> AsyncIterator[DncImport]:
        """A streaming import into the ``source`` list: feed it batches with
        :meth:`DncImport.add`. One import at a time per store (they share the
        connection's temporary tables); its numbers all get ``now`` as first seen."""
        check_choice("DNC source", source, DNC_SOURCES)
        if list_date is not None:
            check_list_date(list_date)
        elif source != "internal":
            raise ValueError(f"a {source} list needs its list date (YYYY-MM-DD)")
        ts = self._db.now(now)
        async with self._import_lock:
            async with self._db.transaction() as tx:
                for sql in (_CREATE_BATCH, _CREATE_SEEN, _CLEAR_BATCH, _CLEAR_SEEN):
                    await tx.execute(sql)
            try:
                yield DncImport(self._db, source, list_date, ts)
            finally:
                async with self._db.transaction() as tx:
                    await tx.execute(_DROP_BATCH)
                    await tx.execute(_DROP_SEEN)

    async def record_list(
        self, source: DncSource, list_date: str, rows: int, *, now: float | None = None
    ) -> DncListInfo:
        """Record that a list dated ``list_date`` was imported; the newest date wins."""
        check_choice("DNC source", source, DNC_SOURCES)
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
