"""Seeding the governor from the store: a restart keeps the abandon window (issue 17)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dialguard.engine.answer_history import answer_history
from dialguard.pacing import AnswerHistory, Pacer, PacingParams
from dialguard.store import Store
from tests.support.attempts import play_attempt

NOW = 1_795_435_200.0  # wall clock


async def _attempt(store: Store, t: float, **fields: Any) -> None:
    aid = await store.attempts.open(
        campaign_id="c1", contact_id=None, number="+12025550100", mode="predictive", now=t
    )
    await play_attempt(store, aid, invite_at=t, **fields)


async def test_the_seed_is_the_windows_live_answers_by_the_shared_definition(
    tmp_path: Path,
) -> None:
    async with await Store.open(tmp_path / "s.sqlite3") as store:
        await store.campaigns.upsert("c1", "C1", "{}", state="active")
        h = 3600.0
        await _attempt(store, NOW - 25 * h, answered_at=NOW - 25 * h + 5, outcome="connected")
        await _attempt(store, NOW - 5 * h, answered_at=NOW - 5 * h + 5,
                       connected_at=NOW - 5 * h + 6, outcome="connected")  # fmt: skip
        await _attempt(store, NOW - 4 * h, answered_at=NOW - 4 * h + 5, outcome="abandoned",
                       abandoned=True, abandon_reason="no_agent")  # fmt: skip
        await _attempt(
            store,
            NOW - 3 * h,
            answered_at=NOW - 3 * h + 5,
            connected_at=NOW - 3 * h + 7.5,
            outcome="connected",
        )  # late: abandoned
        await _attempt(store, NOW - 2 * h, answered_at=NOW - 2 * h + 5, outcome="voicemail")
        await _attempt(store, NOW - 1 * h, outcome="no_answer")
        day = await answer_history(store, "c1", "24h", NOW)
        month = await answer_history(store, "c1", "30d", NOW)
    assert day == AnswerHistory(
        ((NOW - 5 * h + 5, False), (NOW - 4 * h + 5, True), (NOW - 3 * h + 5, True)), NOW
    )
    assert len(month.answers) == 4  # the one 25 h ago is inside 30 days


def test_the_pacer_maps_the_wall_clock_seed_onto_its_own_clock() -> None:
    """The pacer runs on the loop's monotonic clock (here 100 s after boot); answers an
    hour ago on the wall clock are an hour ago on its clock, and stay in the window."""
    pacer = Pacer(PacingParams(mode="predictive"), now=100.0)
    seed = tuple((NOW - 3600 + i, i % 50 == 0) for i in range(100))
    pacer.handle(AnswerHistory(seed, NOW), 100.0)
    view = pacer.budget.view(100.0)
    assert (view.answered, view.abandoned) == (100, 2)
    assert pacer.budget.answers()[0][0] == 100.0 - 3600
    # 22 h later (pacer clock) they are still counted; a day after them they are gone
    assert pacer.budget.view(100.0 + 22 * 3600).answered == 100
    assert pacer.budget.view(100.0 + 86_400).answered == 0


def test_a_window_change_keeps_the_answers_the_pacer_has() -> None:
    pacer = Pacer(PacingParams(mode="predictive"), now=0.0)
    pacer.handle(AnswerHistory(tuple((NOW - 60 + i, False) for i in range(10)), NOW), 0.0)
    pacer.configure(PacingParams(mode="predictive", abandon_window="30d"), 1.0)
    assert pacer.budget.window_s == 30 * 86_400 and pacer.budget.answered == 10
