"""Seeding the governor: the campaign's live answers in its abandon window, from the store.

The pacer never reads the store (sans-I/O); the engine reads the attempt records and
hands them over as one :class:`~dialguard.pacing.events.AnswerHistory` event, on the
wall clock, at a runner's start and after a pacing change. So a campaign restarted at
noon carries the morning's answers and abandons into its 24 h (or 30-day) window rather
than starting the budget afresh. What counts as a live answer and as abandoned is
:mod:`dialguard.rules.abandoned`, the compliance report's definition.
"""

from __future__ import annotations

from dialguard.law import ABANDON_WINDOW_S, AbandonWindow
from dialguard.pacing.events import AnswerHistory
from dialguard.rules.abandoned import live_answer
from dialguard.store import Store

__all__ = ["answer_history"]


async def answer_history(
    store: Store,
    campaign_id: str,
    abandon_window: AbandonWindow,
    wall_now: float,
    until: float | None = None,
) -> AnswerHistory:
    """The window's live answers of ``campaign_id`` as the pacer's seed event; ``until``
    tells the pacer to take them only up to it (:class:`AnswerHistory`)."""
    since = wall_now - ABANDON_WINDOW_S[abandon_window]
    answers = []
    for a in await store.attempts.answered_since(campaign_id, since):
        live = live_answer(
            flagged=a.abandoned,
            outcome=a.outcome,
            created_at=a.created_at,
            answered_at=a.answered_at,
            connected_at=a.connected_at,
        )
        if live is not None:
            answers.append((live.at, live.abandoned))
    return AnswerHistory(tuple(answers), wall_now, until)
