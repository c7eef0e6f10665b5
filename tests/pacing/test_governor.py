"""The abandon budget: cold start, the one-sided bound, spending, recovery, rollover."""

from __future__ import annotations

import pytest

from dialguard.pacing import AbandonBudget


def feed(b: AbandonBudget, now: float, answered: int, abandoned: int) -> None:
    for i in range(answered):
        b.record(now, abandoned=i < abandoned)


def test_cold_start_allows_no_over_dial_until_enough_answers() -> None:
    b = AbandonBudget(0.03, 86_400)
    assert b.warmup == 67  # one abandon among them stays under half the cap
    feed(b, 10.0, 66, 0)
    assert b.state(10.0) == "cold" and b.allowed_rate(10.0) == 0.0
    b.record(11.0, abandoned=False)
    assert b.state(11.0) == "open"
    assert b.target_rate == pytest.approx(0.03 * 0.8)
    assert b.allowed_rate(11.0) == pytest.approx(b.target_rate)


def test_allowed_rate_shrinks_as_abandons_eat_the_budget_before_the_cap() -> None:
    b = AbandonBudget(0.03, 86_400, warmup=10)
    feed(b, 0.0, 1000, 10)  # 1 %: plenty left
    assert b.state(0.0) == "open"
    feed(b, 0.0, 100, 19)  # 29 of 1100 = 2.6 %: still under the cap, but thin
    assert b.state(0.0) == "tight"
    tight = b.allowed_rate(0.0)
    assert 0 < tight < 0.021
    # whatever it allows keeps the bound on the final rate under the cap (with margin)
    assert b.upper_bound(tight) <= 0.03 * 0.9 + 1e-9
    feed(b, 0.0, 2, 2)  # 31 of 1102 = 2.8 %: spent while still under the 3 % cap
    assert b.state(0.0) == "spent" and b.allowed_rate(0.0) == 0.0


def test_spent_budget_recovers_as_connected_calls_dilute_the_rate() -> None:
    b = AbandonBudget(0.03, 86_400, warmup=10)
    feed(b, 0.0, 1000, 30)  # 3 %: spent
    assert b.state(0.0) == "spent"
    feed(b, 0.0, 1000, 0)  # guaranteed calls only: 1.5 %
    assert b.state(0.0) in ("open", "tight") and b.allowed_rate(0.0) > 0


def test_window_rollover_restarts_counts_and_the_cold_start() -> None:
    b = AbandonBudget(0.03, 86_400, start=1000.0, warmup=10)
    feed(b, 2000.0, 100, 0)
    assert b.view(2000.0).answered == 100 and b.state(2000.0) == "open"
    assert not b.roll(1000.0 + 86_399)
    view = b.view(1000.0 + 86_400 * 3 + 5)  # three windows later
    assert view.answered == 0 and view.abandoned == 0 and view.state == "cold"
    assert view.window_start == 1000.0 + 86_400 * 3


def test_thirty_day_window_keeps_counting_across_days() -> None:
    b = AbandonBudget(0.03, 30 * 86_400, warmup=10)
    feed(b, 0.0, 50, 1)
    feed(b, 5 * 86_400.0, 50, 1)
    assert b.view(5 * 86_400.0).answered == 100


def test_lower_cap_tightens_at_once_and_bad_caps_are_refused() -> None:
    b = AbandonBudget(0.03, 86_400, warmup=10)
    feed(b, 0.0, 1000, 15)  # 1.5 %
    assert b.state(0.0) == "open"
    b.set_cap(0.01)
    assert b.state(0.0) == "spent"
    with pytest.raises(ValueError, match=r"cap: 0\.05"):
        b.set_cap(0.05)
    with pytest.raises(ValueError, match="window_s"):
        AbandonBudget(0.03, 0)
