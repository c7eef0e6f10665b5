"""Contacts handed to another channel instead of being dialled (``handoffs``, migration 5).

A contact who asked for SMS, e-mail or no contact at all gets one row, UNIQUE per
(campaign, contact): recording it twice (a restart, a second pick) is a no-op that says
so, which is what makes the hand-off happen once. ``published_at`` stays NULL until the
MQTT event is out, so after a crash between the two the engine publishes the unpublished
rows again (the one case a consumer can see an event twice: MQTT QoS 1 is at least once
anyway, and the event carries the row id to de-duplicate on).
"""

from __future__ import annotations

from dataclasses import dataclass

from dialguard.store.database import Database

__all__ = ["HandoffRecord", "Handoffs"]


@dataclass(frozen=True, slots=True)
class HandoffRecord:
    id: int
    campaign_id: str
    contact_id: int
    channel: str
    reason: str
    created_at: float
    published_at: float | None


class Handoffs:
    """The ``handoffs`` table."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def record(
        self, campaign_id: str, contact_id: int, channel: str, reason: str, *, now: float
    ) -> HandoffRecord | None:
        """Record the hand-off; the new row, or None if the contact was handed over before."""
        async with self._db.transaction() as tx:
            cur = await tx.execute(
                "INSERT INTO handoffs (campaign_id, contact_id, channel, reason, created_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (campaign_id, contact_id) DO NOTHING"
                " RETURNING id",
                (campaign_id, contact_id, channel, reason, now),
            )
            row = await cur.fetchone()
            await cur.close()
        if row is None:  # handed over before
            return None
        return HandoffRecord(int(row[0]), campaign_id, contact_id, channel, reason, now, None)

    async def mark_published(self, handoff_id: int, at: float) -> None:
        await self._db.update_one(
            "UPDATE handoffs SET published_at = ? WHERE id = ?",
            (at, handoff_id),
            f"hand-off {handoff_id} is not in the store",
        )

    async def unpublished(self, campaign_id: str) -> list[HandoffRecord]:
        """Hand-offs recorded but not yet published (after a crash), oldest first."""
        return await self._select("WHERE campaign_id = ? AND published_at IS NULL", campaign_id)

    async def all(self, campaign_id: str) -> list[HandoffRecord]:
        return await self._select("WHERE campaign_id = ?", campaign_id)

    async def _select(self, where: str, campaign_id: str) -> list[HandoffRecord]:
        # ``where`` is one of the constants above, never a caller's text
        rows = await self._db.fetchall(
            "SELECT id, campaign_id, contact_id, channel, reason, created_at, published_at"
            f" FROM handoffs {where} ORDER BY id",
            (campaign_id,),
        )
        return [HandoffRecord(*tuple(r)) for r in rows]
