"""The answered attempts of one campaign since a time: what the governor's seed needs.

The engine seeds the pacer's abandon budget from these at start and after a pacing
change (docs/pacing.md), so only the five columns that decide "live answer? abandoned?"
are read (:func:`dialguard.rules.abandoned.live_answer` decides), not whole rows: a
30-day window of a busy campaign is hundreds of thousands of attempts.
"""

from __future__ import annotations

from dataclasses import dataclass

from dialguard.store.database import Database

__all__ = ["ANSWER_LEAD_S", "AnsweredAttempt", "answered_attempts"]

ANSWER_LEAD_S = 3600.0
"""How long before its answer an attempt's row may have been written (ring time is at
most 120 s): the query narrows on the indexed ``created_at`` by this much."""


@dataclass(frozen=True, slots=True)
class AnsweredAttempt:
    """An attempt that was answered or is marked abandoned (wall-clock epoch seconds)."""

    created_at: float
    answered_at: float | None
    connected_at: float | None
    outcome: str | None
    abandoned: bool


async def answered_attempts(db: Database, campaign_id: str, since: float) -> list[AnsweredAttempt]:
    """Attempts of ``campaign_id`` answered (or abandoned) after ``since``, oldest first."""
    rows = await db.fetchall(
        "SELECT created_at, answered_at, connected_at, outcome, abandoned FROM attempts"
        " WHERE campaign_id = ? AND created_at > ?"
        " AND coalesce(answered_at, created_at) > ?"
        " AND (answered_at IS NOT NULL OR abandoned = 1 OR outcome = 'abandoned')"
        " ORDER BY coalesce(answered_at, created_at), id",
        (campaign_id, since - ANSWER_LEAD_S, since),
    )
    return [
        AnsweredAttempt(
            created_at=float(r[0]),
            answered_at=None if r[1] is None else float(r[1]),
            connected_at=None if r[2] is None else float(r[2]),
            outcome=r[3],
            abandoned=bool(r[4]),
        )
        for r in rows
    ]
