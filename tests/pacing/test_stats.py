"""What the pacer learns: the answer-time curve, the dial-ahead lead, the ring timeout."""

from __future__ import annotations

import pytest

from dialguard.pacing import OutcomeStats
from dialguard.pacing.stats import RingSample


def test_answer_curve_gives_the_chance_a_call_in_flight_is_still_answered() -> None:
    s = OutcomeStats(min_answers=10)
    for _ in range(30):
        s.answered(5.5)  # answered in bin 5
    for _ in range(70):
        s.failed(21.0)  # unanswered, ended at 21 s
    assert s.answer_rate == pytest.approx(0.3)
    assert s.p_answer_after(0.0) == pytest.approx(0.3)
    assert s.p_answer_after(5.0) == pytest.approx(0.3)
    assert s.p_answer_after(6.0) == 0.0  # past every answer: only failures remain


def test_dial_ahead_lead_is_zero_when_cold_then_a_low_quantile_of_answer_times() -> None:
    s = OutcomeStats(min_answers=30)
    for i in range(29):
        s.answered(4.0 + i * 0.5)
    assert s.earliest_answer_s == 0.0
    for _ in range(100):
        s.answered(9.0)
    # 2 % of 129 answers is the 3rd earliest (5.0 s): the lead is its bin's lower edge
    assert s.earliest_answer_s == 5.0


def test_ring_timeout_keeps_ringing_long_enough_for_late_answers_that_bring_talk() -> None:
    s = OutcomeStats()
    for i in range(300):
        if i % 2:
            s.attempt(RingSample(2.0, True, 18.0, 20.0, 200.0))  # late, long talks
        else:
            s.attempt(RingSample(2.0, True, None, 20.0, 0.0))
    assert s.suggested_ring_timeout(20.0) == 18.0  # the shortest that still catches them


def test_ring_timeout_shortens_when_late_answers_are_short_machines() -> None:
    s = OutcomeStats()
    for i in range(300):
        if i % 3 == 0:
            s.attempt(RingSample(2.0, True, 6.0, 20.0, 120.0))  # live: early, long
        elif i % 3 == 1:
            s.attempt(RingSample(2.0, True, 19.0, 20.0, 6.0))  # voicemail: late, short
        else:
            s.attempt(RingSample(2.0, True, None, 20.0, 0.0))
    assert s.suggested_ring_timeout(20.0) == 15.0
    assert s.suggested_ring_timeout(30.0) <= 20.0  # never past the shortest timeout used


def test_too_few_records_keep_the_configured_timeout() -> None:
    s = OutcomeStats()
    for _ in range(10):
        s.attempt(RingSample(2.0, True, None, 20.0, 0.0))
    assert s.suggested_ring_timeout(20.0) == 20.0
