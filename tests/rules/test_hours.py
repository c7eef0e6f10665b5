"""Time-of-day rules: unknown zone fails closed, holiday, legal window, preferred hours."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from dialguard.rules.hours import (
    check_calling_window,
    check_holiday,
    check_preferred_hours,
    resolve_zones,
    window_allows,
)
from dialguard.rules.types import WeeklySpan
from dialguard.rules.window import CallingWindow
from dialguard.rules.zones import load_zones
from tests.rules.helpers import LA, NY, PARIS, at, oracle_open, utc

TCPA = CallingWindow.preset("tcpa")


def test_unknown_zone_fails_closed_unless_the_window_ignores_zones() -> None:
    zones, v = resolve_zones((), TCPA)
    assert (zones, v.allowed, v.rule, v.retry_at) == ((), False, "timezone_unknown", None)
    assert "fail closed" in v.reason
    _, v = resolve_zones(("Bogus/Zone",), TCPA)
    assert not v.allowed and "'Bogus/Zone'" in v.reason
    # regime none: any time is fine, so no zone is needed …
    assert resolve_zones((), CallingWindow.preset("none"))[1].allowed
    # … unless holidays or preferred hours make the local date/time matter.
    assert not resolve_zones((), CallingWindow.preset("none", [dt.date(2026, 12, 25)]))[1].allowed
    pref = (WeeklySpan.of(["mon"], "09:00", "10:00"),)
    assert not resolve_zones((), CallingWindow.preset("none"), pref)[1].allowed
    zones, v = resolve_zones((NY, LA), TCPA)
    assert v.allowed and [str(z) for z in zones] == [NY, LA]


def test_calling_window_refusal_says_where_and_when() -> None:
    z = load_zones([NY])
    now = at(NY, 2026, 11, 23, 21, 30)
    v = check_calling_window(z, TCPA, now)
    assert (v.allowed, v.rule) == (False, "calling_window")
    assert v.retry_at == at(NY, 2026, 11, 24, 8, 0)
    assert "21:30" in v.reason and "America/New_York" in v.reason and "TCPA" in v.reason
    assert check_calling_window(z, TCPA, at(NY, 2026, 11, 23, 12, 0)).allowed
    assert check_calling_window((), CallingWindow.preset("none"), now).allowed


def test_calling_window_with_two_zones_names_the_closed_one() -> None:
    z = load_zones([NY, LA])
    v = check_calling_window(z, TCPA, at(LA, 2026, 11, 23, 7, 30))
    assert not v.allowed and LA in v.reason and NY not in v.reason
    assert v.retry_at == at(LA, 2026, 11, 23, 8, 0)


def test_holiday_refusal_waits_for_the_next_open_day() -> None:
    w = CallingWindow.preset("france", [dt.date(2026, 12, 25)])
    z = load_zones([PARIS])
    v = check_holiday(z, w, at(PARIS, 2026, 12, 25, 11, 0))
    assert (v.allowed, v.rule) == (False, "holiday")
    assert "2026-12-25" in v.reason
    assert v.retry_at == at(PARIS, 2026, 12, 28, 10, 0)  # Sat, Sun skipped → Monday
    assert check_holiday(z, w, at(PARIS, 2026, 12, 24, 11, 0)).allowed


def test_preferred_hours_narrow_the_window() -> None:
    z = load_zones([NY])
    pref = (WeeklySpan.of(["mon", "tue", "wed", "thu", "fri"], "18:00", "23:00"),)
    v = check_preferred_hours(z, TCPA, pref, at(NY, 2026, 11, 23, 12, 0))
    assert (v.allowed, v.rule) == (False, "preferred_hours")
    assert v.retry_at == at(NY, 2026, 11, 23, 18, 0)
    assert check_preferred_hours(z, TCPA, pref, at(NY, 2026, 11, 23, 20, 59)).allowed
    # 22:00 is preferred but not legal: the narrowed window is closed, next is Tue 18:00.
    v = check_preferred_hours(z, TCPA, pref, at(NY, 2026, 11, 23, 22, 0))
    assert not v.allowed and v.retry_at == at(NY, 2026, 11, 24, 18, 0)
    assert check_preferred_hours(z, TCPA, (), at(NY, 2026, 11, 23, 3, 0)).allowed


def test_preferred_hours_outside_every_legal_hour_never_open() -> None:
    pref = (WeeklySpan.of(["sat", "sun"], "10:00", "12:00"),)
    v = check_preferred_hours(load_zones([PARIS]), CallingWindow.preset("france"), pref, 0.0)
    assert (v.allowed, v.retry_at) == (False, None)
    assert "never overlap" in v.reason


ZONES = [NY, LA, PARIS, "Australia/Sydney", "Asia/Kolkata", "America/St_Johns", "Europe/London"]


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["tcpa", "france", "australia"]),
    st.lists(st.sampled_from(ZONES), min_size=1, max_size=3, unique=True).map(tuple),
    st.integers(int(utc(2020, 1, 1)), int(utc(2040, 1, 1))),
    st.frozensets(st.dates(dt.date(2019, 12, 25), dt.date(2040, 1, 2)), max_size=2),
)
def test_holiday_and_window_rules_allow_only_inside_every_zones_window(
    regime: str, names: tuple[str, ...], t: int, holidays: frozenset[dt.date]
) -> None:
    w = CallingWindow.preset(regime, holidays)  # type: ignore[arg-type]
    zones = load_zones(names)
    allowed = check_holiday(zones, w, t).allowed and check_calling_window(zones, w, t).allowed
    assert allowed == oracle_open(regime, names, t, holidays)
    if not allowed:
        v = check_calling_window(zones, w, t)
        if v.allowed:
            v = check_holiday(zones, w, t)
        assert v.retry_at is None or oracle_open(regime, names, v.retry_at, holidays)


def test_window_allows_is_the_gate_s_window_rules_as_yes_or_no() -> None:
    xmas = CallingWindow.preset("tcpa", holidays=[dt.date(2026, 12, 25)])
    assert window_allows((NY,), xmas, at(NY, 2026, 12, 24, 10))
    assert not window_allows((NY,), xmas, at(NY, 2026, 12, 24, 21))  # after hours
    assert not window_allows((NY,), xmas, at(NY, 2026, 12, 25, 10))  # holiday
    # 08:30 in New York is 05:30 in Los Angeles: both zones must be open
    assert not window_allows((NY, LA), xmas, at(NY, 2026, 12, 24, 8, 30))
    assert not window_allows((), xmas, at(NY, 2026, 12, 24, 10))  # unknown zone
    assert window_allows((), CallingWindow.preset("none"), at(NY, 2026, 12, 25, 3))
