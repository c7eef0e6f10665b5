"""Do-not-call lists: the numbers on each (``suppressions``) and each list's date
(``dnc_lists``).

An entry keeps the first time its number was seen on that list (``added_at``): the
compliance report asks "was it listed when we called?", and moving ``added_at`` forward
on a refresh would hide that. A list's date is the newest one imported, so importing an
older file after a newer one does not make the store look staler than it is.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence

from dialguard.store.database import Database, check_choice
from dialguard.store.records import (
    DNC_SOURCES,
    DncListInfo,
    DncSource,
    InsertCounts,
    SuppressionHit,
)

__all__ = ["DncLists", "check_list_date"]

_LIST_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

_INSERT = """
INSERT INTO suppressions (number, source, list_date, reason, added_at)
VALUES (?, ?, ?, ?, ?)
ON CONFLICT (number, source) DO NOTHING
"""
_REFRESH = """
UPDATE suppressions SET list_date = ?, reason = coalesce(?, reason)
WHERE number = ? AND source = ?
"""


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

    async def add(
        self,
        numbers: Iterable[str | tuple[str, str | None]],
        source: DncSource,
        list_date: str | None,
        *,
        now: float | None = None,
    ) -> InsertCounts:
        """Put E.164 numbers on a do-not-call list (``(number, reason)`` pairs allowed).

        ``inserted`` counts numbers new to that list; ``already_present`` the rest, which
        take the newer list date and reason. National lists need ``list_date``; internal
        entries may leave it None.
        """
        check_choice("DNC source", source, DNC_SOURCES)
        if list_date is not None:
            check_list_date(list_date)
        elif source != "internal":
            raise ValueError(f"a {source} list needs its list date (YYYY-MM-DD)")
        ts = self._db.now(now)
        params = (
            (item, source, list_date, None, ts)
            if isinstance(item, str)
            else (item[0], source, list_date, item[1], ts)
            for item in numbers
        )
        return await self._db.insert_in_batches(
            _INSERT, params, refresh=(_REFRESH, lambda num, src, d, r, _ts: (d, r, num, src))
        )

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
