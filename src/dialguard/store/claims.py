"""Claiming due contacts in one statement, safe when several transactions claim at once.

``claim_due`` marks up to ``limit`` due contacts of a campaign ``in_progress`` and
returns them, in one ``UPDATE … WHERE id IN (SELECT … LIMIT ?) RETURNING *``. On
PostgreSQL the inner SELECT carries ``FOR UPDATE SKIP LOCKED``
(:attr:`~dialguard.store.database.Dialect.lock_rows`): a second claimer running at the
same moment — a second launch on this node, or a node still finishing a hand-over —
skips the rows the first has locked instead of waiting for them and then claiming them
too, so no contact is handed out twice. On SQLite ``BEGIN IMMEDIATE`` already makes
claims one at a time, and the suffix is empty.

The compliance gate still decides which of the claimed contacts may be dialled; the ones
it refuses are released, deferred or closed by the caller (``contacts.release`` …).
"""

from __future__ import annotations

from dialguard.store.database import Database
from dialguard.store.records import ContactRecord

__all__ = ["Claims"]

_PRIORITY = "priority DESC, next_attempt_at, id"


class Claims:
    """Batch claims of the ``contacts`` table."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def claim_due(self, campaign_id: str, now: float, limit: int) -> list[ContactRecord]:
        """Up to ``limit`` pending contacts due at ``now``, now ``in_progress``, in
        priority order; none that another transaction has claimed or is claiming."""
        sql = (
            "UPDATE contacts SET status = 'in_progress' WHERE id IN ("
            "SELECT id FROM contacts WHERE campaign_id = ? AND status = 'pending'"
            f" AND next_attempt_at <= ? ORDER BY {_PRIORITY} LIMIT ?"
            f"{self._db.dialect.lock_rows}) RETURNING *"
        )
        async with self._db.transaction() as tx:
            cur = await tx.execute(sql, (campaign_id, now, limit))
            rows = list(await cur.fetchall())
            await cur.close()
        claimed = [ContactRecord.from_row(r) for r in rows]
        claimed.sort(key=lambda c: (-c.priority, c.next_attempt_at, c.id))
        return claimed
