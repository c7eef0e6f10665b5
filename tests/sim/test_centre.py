"""The simulated contact centre: reproducible, calibrated, honest about failures."""

from __future__ import annotations

from dataclasses import replace

import pytest

from dialguard.pacing import Decision, Event, Pacer
from dialguard.sim import (
    S1,
    S2,
    S3,
    ContactCentre,
    SimulationError,
    campaign_params,
    progressive_ceiling,
    simulate_day,
)
from dialguard.sim.ceiling import hit_rate_at
from dialguard.sim.modes import make_pacer


def plain_progressive(w: object, ring_timeout_s: float = 15.0) -> Pacer:
    """Progressive without dial-ahead or ring-timeout learning: the closed form's dialler."""
    params = campaign_params("progressive", w, ring_timeout_s=ring_timeout_s)  # type: ignore[arg-type]
    return Pacer(replace(params, dial_ahead_wrap=False, learn_ring_timeout=False))


def test_same_seed_same_day_other_seed_other_day() -> None:
    a = simulate_day(S3, make_pacer("predictive", S3), seed=11, hours=1)
    b = simulate_day(S3, make_pacer("predictive", S3), seed=11, hours=1)
    c = simulate_day(S3, make_pacer("predictive", S3), seed=12, hours=1)
    assert (a.talk_s, a.attempts, a.abandoned_live) == (b.talk_s, b.attempts, b.abandoned_live)
    assert (a.talk_s, a.attempts) != (c.talk_s, c.attempts)


def test_one_seeded_plain_progressive_day_lands_on_the_closed_form_ceiling() -> None:
    # Tolerance: ±1.5 points of talk share (one 8 h S1 day varies by ~0.6 point between
    # seeds; the closed form ignores the answered call's own ring-time variance).
    day = simulate_day(S1, plain_progressive(S1), seed=0, hours=8)
    assert day.abandoned_all == 0
    assert day.talk_share == pytest.approx(progressive_ceiling(S1, 0.3, 15.0), abs=0.015)
    # the hit rate at the campaign's 15 s ring timeout (S1's p is defined at 20 s)
    assert day.answered_live / day.attempts == pytest.approx(hit_rate_at(S1, 15.0), abs=0.015)


def test_dialguard_progressive_beats_the_ceiling_without_abandoning() -> None:
    day = simulate_day(S3, make_pacer("progressive", S3), seed=3, hours=4)
    assert day.abandoned_all == 0 and day.late_connects == 0
    assert day.talk_share > progressive_ceiling(S3, 0.3, 15.0) - 0.005


def test_predictive_talks_more_than_progressive_on_the_same_seed() -> None:
    prog = simulate_day(S3, make_pacer("progressive", S3), seed=5, hours=3)
    pred = simulate_day(S3, make_pacer("predictive", S3), seed=5, hours=3)
    assert pred.talk_share > prog.talk_share + 0.05
    assert pred.abandon_rate <= 0.03


def test_s2_voicemails_occupy_agents_but_are_not_talk() -> None:
    # voicemail answers at 18–26 s: only a ring timeout past 18 s meets them
    day = simulate_day(S2, plain_progressive(S2, ring_timeout_s=26.0), seed=1, hours=1)
    assert day.voicemail_s > 0
    assert day.occupancy > day.talk_share


class _Broken:
    """A pacer that breaks after a while, to see the seed in the error."""

    def __init__(self) -> None:
        self.inner = make_pacer("progressive", S3)
        self.calls = 0

    def handle(self, event: Event, now: float) -> None:
        self.calls += 1
        if self.calls > 50:
            raise RuntimeError("boom")
        self.inner.handle(event, now)

    def poll(self, now: float) -> list[Decision]:
        return self.inner.poll(now)

    def next_deadline(self) -> float | None:
        return self.inner.next_deadline()


def test_a_failing_day_names_its_seed() -> None:
    with pytest.raises(SimulationError, match=r"^seed 4242: RuntimeError: boom"):
        ContactCentre(S3, _Broken(), seed=4242, hours=1).run()


def test_sampling_records_a_time_series() -> None:
    day = ContactCentre(S3, make_pacer("progressive", S3), seed=1, hours=1, sample_every_s=60).run()
    assert len(day.series) == 60
    assert all(0 <= s.agents_occupied <= S3.agents for s in day.series)
    assert any(s.dials_in_flight > 0 for s in day.series)
