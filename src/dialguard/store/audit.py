"""The audit trail: who changed what, when (``audit``), and why a contact was not
dialled (``skips``).

Both are append-only: nothing here updates or deletes a row. Other repositories write
their audit entry inside their own transaction through :meth:`AuditLog.write`, so a
change and its record commit together or not at all.
"""

from __future__ import annotations

from typing import Any

from dialguard.store.database import Database, Tx, dumps
from dialguard.store.records import AuditRecord, SkipRecord

__all__ = ["AuditLog", "Skips"]

_INSERT_AUDIT = (
    "INSERT INTO audit (ts, actor, action, campaign_id, old, new, detail)"
    " VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id"
)


class AuditLog:
    """The ``audit`` table."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def record(
        self,
        actor: str,
        action: str,
        *,
        campaign_id: str | None = None,
        old: Any = None,
        new: Any = None,
        detail: str | None = None,
        now: float | None = None,
    ) -> int:
        """Who changed what, when; ``old``/``new`` are stored as JSON. The entry's id."""
        ts = self._db.now(now)
        async with self._db.transaction() as tx:
            return await self.write(tx, ts, actor, action, campaign_id, old, new, detail)

    @staticmethod
    async def write(
        tx: Tx,
        ts: float,
        actor: str,
        action: str,
        campaign_id: str | None,
        old: Any,
        new: Any,
        detail: str | None = None,
    ) -> int:
        """Add an entry inside a transaction the caller holds (``Database.transaction``)."""
        cur = await tx.execute(
            _INSERT_AUDIT,
            (
                ts,
                actor,
                action,
                campaign_id,
                None if old is None else dumps(old),
                None if new is None else dumps(new),
                detail,
            ),
        )
        row = await cur.fetchone()
        assert row is not None
        return int(row[0])

    async def events(self, campaign_id: str | None = None, since: float = 0.0) -> list[AuditRecord]:
        """Entries at or after ``since`` (of one campaign, or all), oldest first."""
        if campaign_id is None:
            rows = await self._db.fetchall(
                "SELECT * FROM audit WHERE ts >= ? ORDER BY ts, id", (since,)
            )
        else:
            rows = await self._db.fetchall(
                "SELECT * FROM audit WHERE campaign_id = ? AND ts >= ? ORDER BY ts, id",
                (campaign_id, since),
            )
        return [AuditRecord.from_row(r) for r in rows]


class Skips:
    """The ``skips`` table: each refusal of the compliance gate, with its rule."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def record(
        self,
        campaign_id: str,
        contact_id: int | None,
        rule: str,
        reason: str,
        *,
        now: float | None = None,
    ) -> int:
        """Why a contact was not dialled (rule name + human reason); the skip's id."""
        ts = self._db.now(now)
        async with self._db.transaction() as tx:
            cur = await tx.execute(
                "INSERT INTO skips (ts, campaign_id, contact_id, rule, reason)"
                " VALUES (?, ?, ?, ?, ?) RETURNING id",
                (ts, campaign_id, contact_id, rule, reason),
            )
            row = await cur.fetchone()
        assert row is not None
        return int(row[0])

    async def between(self, campaign_id: str, since: float, until: float) -> list[SkipRecord]:
        """A campaign's skips in ``[since, until)``, oldest first."""
        rows = await self._db.fetchall(
            "SELECT * FROM skips WHERE campaign_id = ? AND ts >= ? AND ts < ? ORDER BY ts, id",
            (campaign_id, since, until),
        )
        return [SkipRecord.from_row(r) for r in rows]
