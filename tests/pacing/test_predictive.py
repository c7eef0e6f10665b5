"""The over-dial model and its feedback loop."""

from __future__ import annotations

import random

import pytest

from dialguard.pacing.predictive import OverDialController, dials_allowed, free_within


def test_no_over_dial_beyond_supply_at_high_risk_aversion() -> None:
    # one free agent, answer chance 0.3: z = 3 allows no dial that could overflow
    assert dials_allowed(0.0, 0.0, 0.3, 1.0, 3.0, 10) == 0
    # z = 0: expected answers fill the agent: 3 dials (0.9 ≤ 1)
    assert dials_allowed(0.0, 0.0, 0.3, 1.0, 0.0, 10) == 3
    assert dials_allowed(0.0, 0.0, 0.3, 1.0, 0.0, 2) == 2  # ratio ceiling wins


def test_calls_already_ringing_count_against_supply() -> None:
    assert dials_allowed(0.9, 0.21, 0.3, 1.0, 0.0, 10) == 0
    assert dials_allowed(0.9, 0.21, 0.3, 2.0, 0.0, 10) > 0


def test_free_within_is_exponential_talk_then_a_mean_wrap_up() -> None:
    assert free_within(8.0, talk_mean_s=100, wrap_mean_s=10) == 0.0
    p = free_within(20.0, talk_mean_s=100, wrap_mean_s=10)
    assert p == pytest.approx(1 - 2.718281828 ** (-0.1), rel=1e-6)


def test_controller_settles_where_the_abandon_rate_meets_its_target() -> None:
    # a toy world: the chance of an abandon falls as z rises
    rng = random.Random(7)
    c = OverDialController(z=0.0, step=0.05)
    hits = 0
    n = 40_000
    for _ in range(n):
        p = 0.08 / (1 + max(c.z, -0.9) + 1) ** 2
        ab = rng.random() < p
        hits += ab
        c.observe(abandoned=ab, target_rate=0.02)
    late = 0
    for _ in range(10_000):
        p = 0.08 / (1 + max(c.z, -0.9) + 1) ** 2
        ab = rng.random() < p
        late += ab
        c.observe(abandoned=ab, target_rate=0.02)
    assert late / 10_000 == pytest.approx(0.02, abs=0.005)
