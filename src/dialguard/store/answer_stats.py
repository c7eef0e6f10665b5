"""The answer model's counts, per campaign (``answer_stats``, migration 5).

The model itself (dialguard.propensity) is pure and the store may not import it, so its
counts travel as plain tuples ``(scope, key, bucket, tries, answers, expected)``: the
engine adds each outcome's increments here and loads them all back after a restart,
which rebuilds exactly the model it had.
"""

from __future__ import annotations

from collections.abc import Iterable

from dialguard.store.database import Database

__all__ = ["AnswerStats", "StatTuple"]

StatTuple = tuple[str, str, int, float, float, float]

_ADD = """
INSERT INTO answer_stats (campaign_id, scope, key, bucket, tries, answers, expected)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (campaign_id, scope, key, bucket) DO UPDATE SET
    tries = tries + excluded.tries,
    answers = answers + excluded.answers,
    expected = expected + excluded.expected
"""


class AnswerStats:
    """The ``answer_stats`` table."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def add(self, campaign_id: str, rows: Iterable[StatTuple]) -> None:
        """Add increments (one outcome's, or several) in one transaction."""
        params = [(campaign_id, *r) for r in rows]
        async with self._db.transaction() as tx:
            await tx.executemany(_ADD, params)

    async def all(self, campaign_id: str) -> list[StatTuple]:
        """Every count of the campaign, as stored."""
        rows = await self._db.fetchall(
            "SELECT scope, key, bucket, tries, answers, expected FROM answer_stats"
            " WHERE campaign_id = ? ORDER BY scope, key, bucket",
            (campaign_id,),
        )
        return [(r[0], r[1], int(r[2]), float(r[3]), float(r[4]), float(r[5])) for r in rows]
