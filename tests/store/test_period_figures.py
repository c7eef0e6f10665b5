"""The report's aggregate queries: abandon and live answer as rules.abandoned says."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dialguard.rules.abandoned import live_answer
from dialguard.store import ATTEMPT_OUTCOMES, Store
from dialguard.store.period_figures import HONOURED_SLOTS, _sources
from tests.store.helpers import FakeClock
from tests.support.attempts import play_attempt

T0 = 1_800_000_000.0


async def test_a_connect_at_the_deadline_is_not_abandoned_one_after_is(store: Store) -> None:
    for i, wait in enumerate((2.0, 2.01)):
        aid = await store.attempts.open(
            campaign_id="spring", contact_id=None, number=f"+1202555000{i}", mode="p", now=T0
        )
        await play_attempt(
            store, aid, invite_at=T0, answered_at=T0 + 5, connected_at=T0 + 5 + wait,
            outcome="connected",
        )  # fmt: skip
    [hour] = await store.attempts.hour_figures("spring", [(T0, T0 + 60)], ["internal"])
    assert (hour.attempts, hour.live_answers, hour.connects, hour.abandoned) == (2, 2, 2, 1)
    assert await store.attempts.abandon_reasons("spring", T0, T0 + 60) == {"late_connect": 1}
    lives = await store.attempts.live_answer_times("spring", T0, T0 + 60)
    assert sorted(lives) == [(T0 + 5, False), (T0 + 5, True)]


def test_dnc_sources_are_checked_and_padded() -> None:
    """One placeholder per honoured list, up to HONOURED_SLOTS, whatever their names (a
    declared list, robinson_de, counts like a built-in one)."""
    assert _sources(["internal", "usdnc"]) == ("internal", "usdnc", *("internal",) * 14)
    assert _sources(["internal", "robinson_de"])[:3] == ("internal", "robinson_de", "internal")
    assert len(_sources(["internal"])) == HONOURED_SLOTS
    with pytest.raises(ValueError, match="not a list name"):
        _sources(["F-PS"])
    with pytest.raises(ValueError, match="DNC sources"):
        _sources([])
    with pytest.raises(ValueError, match="DNC sources"):
        _sources([f"l{i}" for i in range(HONOURED_SLOTS + 1)])


@settings(max_examples=100, deadline=None)
@given(
    flagged=st.booleans(),
    outcome=st.none() | st.sampled_from(ATTEMPT_OUTCOMES),
    answered=st.none() | st.floats(0, 50, allow_nan=False),
    connect=st.none() | st.sampled_from([2.0, 2.0000001]) | st.floats(0, 5, allow_nan=False),
)
def test_one_row_is_classified_as_live_answer_says(
    flagged: bool, outcome: str | None, answered: float | None, connect: float | None
) -> None:
    import asyncio

    async def run() -> tuple[list[tuple[float, bool]], int]:
        async with await Store.open(":memory:", clock=FakeClock()) as store:
            await store.campaigns.upsert("spring", "Spring", "{}")
            aid = await store.attempts.open(
                campaign_id="spring", contact_id=None, number="+12025550100", mode="p", now=T0
            )
            answered_at = None if answered is None else T0 + answered
            await play_attempt(
                store,
                aid,
                invite_at=T0,
                answered_at=answered_at,
                connected_at=None
                if connect is None or answered_at is None
                else answered_at + connect,
                abandoned=flagged,
                outcome=outcome,  # type: ignore[arg-type]
            )
            hours = await store.attempts.hour_figures("spring", [(T0, T0 + 60)], ["internal"])
            lives = await store.attempts.live_answer_times("spring", T0, T0 + 60)
            reasons = await store.attempts.abandon_reasons("spring", T0, T0 + 60)
            assert sum(reasons.values()) == sum(h.abandoned for h in hours)
            return lives, sum(h.abandoned for h in hours)

    lives, abandoned = asyncio.run(run())
    answered_at = None if answered is None else T0 + answered
    expected = live_answer(
        flagged=flagged,
        outcome=outcome,
        created_at=T0,
        answered_at=answered_at,
        connected_at=None if connect is None or answered_at is None else answered_at + connect,
    )
    assert lives == ([] if expected is None else [(expected.at, expected.abandoned)])
    assert abandoned == (expected is not None and expected.abandoned)
