"""The ordering score: expected value first, and nobody waits forever (the aging bound)."""

from __future__ import annotations

import heapq
import random

from dialguard.propensity import AGING_S, DEFAULT_PROPENSITY, expected_value, order_score


def test_expected_value_is_probability_times_propensity() -> None:
    assert expected_value(0.4, 0.5) == 0.2
    assert expected_value(0.4, None) == 0.4 * DEFAULT_PROPENSITY
    assert order_score(0.9, 1.0, 1000.0) > order_score(0.1, 1.0, 1000.0)


def test_a_worthless_contact_is_not_starved_by_better_ones_arriving() -> None:
    """One dial a minute; every minute two fresh contacts with high value arrive, more
    than can be called. A contact worth nothing (P = 0.001) must still be picked, and
    no later than AGING_S after it became due plus the time to dial those due before
    it (whose number is finite because they are due within AGING_S of it)."""
    rng = random.Random(5)
    heap: list[tuple[float, int, float]] = []  # (-score, id, due_since)
    heapq.heappush(heap, (-order_score(0.001, 0.01, 0.0), 0, 0.0))
    picked_at = None
    next_id = 1
    for minute in range(1, int(3 * AGING_S / 60)):
        now = minute * 60.0
        for _ in range(2):
            p = rng.uniform(0.5, 1.0)
            heapq.heappush(heap, (-order_score(p, rng.uniform(0.5, 1), now), next_id, now))
            next_id += 1
        _, cid, _ = heapq.heappop(heap)
        if cid == 0:
            picked_at = now
            break
    assert picked_at is not None, "the low-value contact was starved"
    assert picked_at <= 1.25 * AGING_S  # bounded: AGING_S plus the backlog due before it
    assert picked_at > 60.0  # and the ordering did prefer the better ones first
