"""Frequency caps over rolling windows, counted per number across campaigns."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from dialguard.config.campaign import FrequencyCaps
from dialguard.rules.frequency import CAP_SPANS, CapSpan, check_cap, check_caps
from dialguard.rules.types import PastAttempt
from dialguard.rules.zones import load_zones
from tests.rules.helpers import DAY, NY, at, utc

NOW = utc(2026, 11, 23, 12)
DAY_SPAN, WEEK_SPAN, MONTH_SPAN = CAP_SPANS


def attempts(*ages: float, campaign: str = "a") -> list[PastAttempt]:
    return [PastAttempt(NOW - age, "no_answer", campaign=campaign) for age in ages]


def test_day_cap_boundary_is_exact() -> None:
    # One attempt exactly 24 h ago has aged out; three within the day reach the cap of 3.
    h = attempts(DAY, DAY - 1, 100, 50)
    v = check_cap(h, 3, DAY_SPAN, NOW)
    assert (v.allowed, v.rule) == (False, "cap_day")
    assert v.retry_at == NOW + 1  # when the attempt made 86399 s ago ages out
    assert "3 attempts" in v.reason and "cap 3 per 24 hours" in v.reason
    assert not check_cap(h, 3, DAY_SPAN, NOW + 0.5).allowed
    assert check_cap(h, 3, DAY_SPAN, NOW + 1).allowed
    assert check_cap(attempts(DAY, 100), 3, DAY_SPAN, NOW).allowed


def test_retry_at_waits_for_enough_attempts_to_age_out() -> None:
    # Five attempts in 7 days, cap 3: fewer than 3 must remain, so the three oldest must
    # age out and the third-oldest (4 days ago) decides.
    h = attempts(6 * DAY, 5 * DAY, 4 * DAY, 3 * DAY, 2 * DAY)
    v = check_cap(h, 3, WEEK_SPAN, NOW)
    assert v.retry_at == NOW - 4 * DAY + 7 * DAY
    assert check_cap(h, 3, WEEK_SPAN, v.retry_at).allowed
    assert not check_cap(h, 3, WEEK_SPAN, v.retry_at - 1).allowed


def test_zero_means_no_cap_and_caps_count_every_campaign() -> None:
    assert check_cap(attempts(*range(1, 50)), 0, DAY_SPAN, NOW).allowed
    h = attempts(10, campaign="a") + attempts(20, campaign="b") + attempts(30, campaign="c")
    assert not check_cap(h, 3, DAY_SPAN, NOW).allowed


def test_future_dated_attempts_count() -> None:
    assert not check_cap(attempts(-5, 10), 2, DAY_SPAN, NOW).allowed


def test_check_caps_reports_each_span_in_order() -> None:
    caps = FrequencyCaps(per_day=0, per_7_days=7, per_30_days=4)
    h = attempts(20 * DAY, 15 * DAY, 10 * DAY, 8 * DAY)
    vs = check_caps(h, caps, NOW)
    assert [v.rule for v in vs] == ["cap_day", "cap_7d", "cap_30d"]
    assert [v.allowed for v in vs] == [True, True, False]
    assert vs[2].retry_at == NOW - 20 * DAY + 30 * DAY


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(0, 40 * DAY), max_size=15),
    st.integers(1, 6),
    st.sampled_from(CAP_SPANS),
)
def test_refused_until_retry_at_then_allowed(ages: list[int], limit: int, s: CapSpan) -> None:
    h = attempts(*ages)
    v = check_cap(h, limit, s, NOW)
    in_window = sum(1 for a in ages if a < s.span_s)
    assert v.allowed == (in_window < limit)
    if not v.allowed:
        assert v.retry_at is not None and v.retry_at > NOW
        assert check_cap(h, limit, s, v.retry_at).allowed
        assert not check_cap(h, limit, s, v.retry_at - 1).allowed


def test_seven_calendar_days_across_a_dst_change_in_the_callees_zone() -> None:
    """7 days are days of the callee's calendar (docs/compliance.md, frequency caps).
    7 × 86,400 s back from 11:00 on 5 Nov in New York is 12:00 on 29 Oct (the clocks
    went back on 1 Nov): a call at 11:30 on 29 Oct, inside 7 calendar days, still
    counts. Across the spring change the longer span, 7 × 86,400 s, is kept."""
    [ny] = load_zones([NY])
    now = at(NY, 2026, 11, 5, 11)
    h = [PastAttempt(at(NY, 2026, 10, 29, 11, 30), "no_answer"), PastAttempt(now - DAY, "busy")]
    v = check_cap(h, 2, WEEK_SPAN, now, [ny])
    assert (v.allowed, v.rule) == (False, "cap_7d")
    assert v.retry_at == at(NY, 2026, 11, 5, 11, 30)  # 7 calendar days after it
    assert check_cap(h, 2, WEEK_SPAN, now).allowed  # no zone: 7 × 86,400 s, aged out
    # The clocks went forward on 8 Mar: 7 calendar days back from 11:00 on 12 Mar is
    # 11:00 on 5 Mar, an hour short of 7 × 86,400 s; a call at 10:30 on 5 Mar is in the
    # longer span and counts.
    spring = at(NY, 2026, 3, 12, 11)
    h = [PastAttempt(spring - 7 * DAY + 1800, "no_answer"), PastAttempt(spring - DAY, "busy")]
    assert not check_cap(h, 2, WEEK_SPAN, spring, [ny]).allowed  # counted by 7 × 86,400 s
