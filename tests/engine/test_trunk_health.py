"""The trunk breaker: a trunk that refuses calls stops new dials for the stated time,
lets one probe through, and closes again once a call gets past it."""

from __future__ import annotations

from dialguard.engine.trunk_health import (
    PAUSE_MIN_S,
    STORM_COUNT,
    TrunkBreaker,
    is_trunk_refusal,
)


def test_retry_after_opens_at_once_for_the_stated_time() -> None:
    b = TrunkBreaker()
    assert b.refused(100.0, 503, 30.0)
    assert b.view().state == "open" and b.view().paused_until == 130.0
    assert "Retry-After 30" in b.view().reason
    assert not b.allows(129.9)
    assert b.allows(130.0)  # the probe
    assert not b.allows(130.1)  # only one
    assert b.allows(130.0 + PAUSE_MIN_S)  # a withdrawn probe is tried again later
    assert b.carried() and b.view().state == "closed"
    assert b.allows(131.0)


def test_a_storm_without_retry_after_opens_after_storm_count_refusals() -> None:
    b = TrunkBreaker()
    for i in range(STORM_COUNT - 1):
        assert not b.refused(100.0 + i, 408, None)
    assert b.allows(104.5)
    assert b.refused(104.9, None, None)
    assert not b.allows(105.0)


def test_a_refused_probe_doubles_the_pause_and_a_carried_call_resets_the_count() -> None:
    b = TrunkBreaker()
    b.refused(0.0, 503, 1.0)
    until = b.view().paused_until
    assert until == PAUSE_MIN_S  # never shorter than the minimum pause
    assert b.allows(until)
    b.refused(until, 503, None)
    assert b.view().paused_until == until + 2 * PAUSE_MIN_S
    b.carried()
    for i in range(STORM_COUNT - 1):
        b.refused(100.0 + i, 503, None)
    b.carried()
    assert not b.refused(105.0, 503, None)  # the count started again


def test_what_counts_as_the_trunk_refusing() -> None:
    assert is_trunk_refusal(503) and is_trunk_refusal(408) and is_trunk_refusal(None)
    assert is_trunk_refusal(500, 10.0)
    assert not is_trunk_refusal(486) and not is_trunk_refusal(404)
