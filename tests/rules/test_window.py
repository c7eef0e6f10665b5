"""CallingWindow: local-time schedules, DST, holidays, overlap of zones, exact next opening."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dialguard.config.campaign import CallingWindowConfig, TimeRange
from dialguard.rules.types import WeeklySpan
from dialguard.rules.window import CallingWindow, next_window_open
from dialguard.rules.zones import UnknownZoneError, load_zones
from tests.rules.helpers import DAY, LA, NY, PARIS, SYDNEY, at, oracle_open, show, utc

TCPA = CallingWindow.preset("tcpa")
FRANCE = CallingWindow.preset("france")
AUSTRALIA = CallingWindow.preset("australia")


def zi(*names: str) -> tuple[ZoneInfo, ...]:
    return load_zones(names)


# -- presets at their boundaries ---------------------------------------------------------


def test_tcpa_opens_at_eight_and_closes_at_nine_local() -> None:
    z = zi(NY)
    assert not TCPA.is_open(z, at(NY, 2026, 11, 23, 7, 59, 59))
    assert TCPA.is_open(z, at(NY, 2026, 11, 23, 8, 0))
    assert TCPA.is_open(z, at(NY, 2026, 11, 23, 20, 59, 59))
    assert not TCPA.is_open(z, at(NY, 2026, 11, 23, 21, 0))
    # Sunday is a calling day under TCPA.
    assert TCPA.is_open(z, at(NY, 2026, 11, 22, 12, 0))


def test_france_lunch_gap_and_weekend() -> None:
    z = zi(PARIS)
    mon = (2026, 11, 23)
    assert not FRANCE.is_open(z, at(PARIS, *mon, 9, 59, 59))
    assert FRANCE.is_open(z, at(PARIS, *mon, 10, 0))
    assert FRANCE.is_open(z, at(PARIS, *mon, 12, 59, 59))
    assert not FRANCE.is_open(z, at(PARIS, *mon, 13, 0))
    assert not FRANCE.is_open(z, at(PARIS, *mon, 13, 59, 59))
    assert FRANCE.is_open(z, at(PARIS, *mon, 14, 0))
    assert not FRANCE.is_open(z, at(PARIS, *mon, 20, 0))
    assert FRANCE.next_open(z, at(PARIS, *mon, 13, 0)) == at(PARIS, *mon, 14, 0)
    # Saturday 11:00 is closed; the next opening is Monday 10:00.
    assert not FRANCE.is_open(z, at(PARIS, 2026, 11, 21, 11, 0))
    assert FRANCE.next_open(z, at(PARIS, 2026, 11, 21, 11, 0)) == at(PARIS, *mon, 10, 0)


def test_australia_saturday_closes_at_five_and_sunday_is_closed() -> None:
    z = zi(SYDNEY)
    sat = (2026, 11, 28)
    assert AUSTRALIA.is_open(z, at(SYDNEY, *sat, 16, 59, 59))
    assert not AUSTRALIA.is_open(z, at(SYDNEY, *sat, 17, 0))
    assert not AUSTRALIA.is_open(z, at(SYDNEY, 2026, 11, 29, 12, 0))
    # Saturday 17:00 → Monday 09:00 (Sunday skipped).
    assert AUSTRALIA.next_open(z, at(SYDNEY, *sat, 17, 0)) == at(SYDNEY, 2026, 11, 30, 9, 0)
    # A weekday runs to 20:00.
    assert AUSTRALIA.is_open(z, at(SYDNEY, 2026, 11, 27, 19, 59, 59))
    assert not AUSTRALIA.is_open(z, at(SYDNEY, 2026, 11, 27, 20, 0))


def test_regime_none_is_always_open_but_holidays_still_block() -> None:
    none = CallingWindow.preset("none")
    assert none.is_open(zi(NY), at(NY, 2026, 11, 23, 3, 0))
    assert not none.needs_zone
    hol = CallingWindow.preset("none", [dt.date(2026, 12, 25)])
    assert hol.needs_zone
    assert not hol.is_open(zi(NY), at(NY, 2026, 12, 25, 3, 0))
    assert hol.next_open(zi(NY), at(NY, 2026, 12, 25, 3, 0)) == at(NY, 2026, 12, 26, 0, 0)


# -- DST ---------------------------------------------------------------------------------


def test_us_spring_forward_day_opens_at_eight_local_which_is_an_hour_earlier_in_utc() -> None:
    z = zi(NY)
    # 2026-03-08: clocks go 02:00 EST → 03:00 EDT. 08:00 EDT is 12:00 UTC (13:00 the day before).
    assert TCPA.next_open(z, utc(2026, 3, 7, 2, 0)) == utc(2026, 3, 7, 13, 0)
    assert TCPA.next_open(z, utc(2026, 3, 8, 2, 0)) == utc(2026, 3, 8, 12, 0)
    assert TCPA.is_open(z, utc(2026, 3, 8, 12, 0))
    assert not TCPA.is_open(z, utc(2026, 3, 8, 11, 59, 59))
    # 21:00 EDT is 01:00 UTC next day.
    assert TCPA.is_open(z, utc(2026, 3, 9, 0, 59, 59))
    assert not TCPA.is_open(z, utc(2026, 3, 9, 1, 0))


def test_us_fall_back_day() -> None:
    z = zi(NY)
    # 2026-11-01: 02:00 EDT → 01:00 EST. 08:00 EST = 13:00 UTC.
    assert TCPA.next_open(z, utc(2026, 11, 1, 7, 0)) == utc(2026, 11, 1, 13, 0)
    assert not TCPA.is_open(z, utc(2026, 11, 1, 12, 59, 59))


def test_eu_dst_days_move_the_french_window_in_utc() -> None:
    z = zi(PARIS)
    # Before the 2026-03-29 change: Friday 10:00 CET = 09:00 UTC.
    assert FRANCE.next_open(z, utc(2026, 3, 27, 0, 0)) == utc(2026, 3, 27, 9, 0)
    # Friday 19:00 UTC (20:00 CET, closed) → Monday 10:00 CEST = 08:00 UTC.
    assert FRANCE.next_open(z, utc(2026, 3, 27, 19, 0)) == utc(2026, 3, 30, 8, 0)
    # The autumn change on Sunday 2026-10-25: Monday 10:00 CET = 09:00 UTC.
    assert FRANCE.next_open(z, utc(2026, 10, 23, 18, 0)) == utc(2026, 10, 26, 9, 0)


def test_custom_window_inside_the_spring_gap_opens_when_the_clock_reaches_it() -> None:
    # 02:30–04:00 on 2026-03-08 in New York: wall times 02:00–03:00 do not exist, so the
    # first instant whose local time is ≥ 02:30 is 03:00 EDT (07:00 UTC).
    w = CallingWindow.from_spans([WeeklySpan.of(["sun"], "02:30", "04:00")])
    z = zi(NY)
    assert w.next_open(z, utc(2026, 3, 8, 5, 0)) == utc(2026, 3, 8, 7, 0)
    assert not w.is_open(z, utc(2026, 3, 8, 6, 59, 59))
    assert w.intervals(z[0], utc(2026, 3, 8, 0), utc(2026, 3, 9, 0)) == [
        (utc(2026, 3, 8, 7, 0), utc(2026, 3, 8, 8, 0))
    ]


def test_custom_window_in_the_repeated_hour_is_open_twice() -> None:
    # 01:15–01:45 local on 2026-11-01 in New York happens in EDT and again in EST.
    w = CallingWindow.from_spans([WeeklySpan.of(["sun"], "01:15", "01:45")])
    ivs = w.intervals(zi(NY)[0], utc(2026, 11, 1, 0), utc(2026, 11, 2, 0))
    assert ivs == [
        (utc(2026, 11, 1, 5, 15), utc(2026, 11, 1, 5, 45)),
        (utc(2026, 11, 1, 6, 15), utc(2026, 11, 1, 6, 45)),
    ]


# -- zones, holidays, narrowing ----------------------------------------------------------


def test_several_zones_allow_only_the_overlap() -> None:
    z = zi(NY, LA)
    # 08:00 in LA is 11:00 in NY; 21:00 in NY is 18:00 in LA.
    assert not TCPA.is_open(z, at(LA, 2026, 11, 23, 7, 59))
    assert TCPA.next_open(z, at(NY, 2026, 11, 23, 8, 0)) == at(LA, 2026, 11, 23, 8, 0)
    assert TCPA.is_open(z, at(NY, 2026, 11, 23, 20, 59))
    assert not TCPA.is_open(z, at(NY, 2026, 11, 23, 21, 0))


def test_holiday_blocks_the_callees_local_day() -> None:
    w = CallingWindow.preset("tcpa", [dt.date(2026, 12, 25)])
    z = zi(NY)
    assert not w.is_open(z, at(NY, 2026, 12, 25, 12, 0))
    assert w.holiday_in(z, at(NY, 2026, 12, 25, 12, 0)) == (z[0], dt.date(2026, 12, 25))
    assert w.next_open(z, at(NY, 2026, 12, 25, 12, 0)) == at(NY, 2026, 12, 26, 8, 0)
    # 20:00 on the 24th in New York is already the 25th in Auckland: with both zones
    # the holiday (Auckland's local date) closes the window.
    both = zi(NY, "Pacific/Auckland")
    assert w.holiday_in(both, at(NY, 2026, 12, 24, 20, 0)) is not None


def test_narrowing_never_widens() -> None:
    pref = [WeeklySpan.of(["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "06:00", "09:00")]
    w = TCPA.narrowed(pref)
    z = zi(NY)
    assert not w.is_open(z, at(NY, 2026, 11, 23, 7, 0))  # preferred, but not legal
    assert w.is_open(z, at(NY, 2026, 11, 23, 8, 30))
    assert not w.is_open(z, at(NY, 2026, 11, 23, 9, 0))
    disjoint = FRANCE.narrowed([WeeklySpan.of(["sat", "sun"], "10:00", "12:00")])
    assert disjoint.never_opens
    assert disjoint.next_open(zi(PARIS), utc(2026, 11, 23)) is None


def test_from_config_custom_and_day_end() -> None:
    cfg = CallingWindowConfig(
        regime="custom",
        custom=[TimeRange(days=["sat"], start="18:00", end="24:00")],
        holidays=[dt.date(2026, 11, 28)],
    )
    w = CallingWindow.from_config(cfg)
    z = zi(NY)
    # The 28th is a holiday, so the next Saturday evening is the 5th of December.
    assert w.next_open(z, at(NY, 2026, 11, 27, 0, 0)) == at(NY, 2026, 12, 5, 18, 0)
    assert w.is_open(z, at(NY, 2026, 12, 5, 23, 59, 59))
    assert not w.is_open(z, at(NY, 2026, 12, 6, 0, 0))
    assert w.describe() == "sat 18:00–24:00"


def test_unknown_zones_raise_a_clear_error() -> None:
    with pytest.raises(UnknownZoneError, match="no candidate zones"):
        next_window_open([], utc(2026, 1, 1), TCPA)
    with pytest.raises(UnknownZoneError, match="Mars/Olympus"):
        next_window_open(["Mars/Olympus"], utc(2026, 1, 1), TCPA)
    assert not TCPA.is_open((), utc(2026, 1, 1, 15))


def test_next_open_gives_up_after_the_horizon() -> None:
    every_day = [dt.date(2026, 1, 1) + dt.timedelta(days=i) for i in range(40)]
    w = CallingWindow.preset("tcpa", every_day)
    assert w.next_open(zi(NY), utc(2026, 1, 1, 12), horizon_s=30 * DAY) is None
    assert w.next_open(zi(NY), utc(2026, 1, 1, 12)) == at(NY, 2026, 2, 10, 8, 0)


# -- properties ----------------------------------------------------------------------------

ZONES = [
    NY,
    LA,
    PARIS,
    SYDNEY,
    "Europe/London",
    "America/Chicago",
    "America/Phoenix",
    "America/St_Johns",
    "Asia/Kolkata",
    "Australia/Adelaide",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "Pacific/Honolulu",
    "America/Santiago",
    "Pacific/Auckland",
]
instants = st.integers(int(utc(2000, 1, 1)), int(utc(2060, 1, 1)))
zone_sets = st.lists(st.sampled_from(ZONES), min_size=1, max_size=3, unique=True).map(tuple)
regimes = st.sampled_from(["tcpa", "france", "australia"])
holiday_sets = st.frozensets(st.dates(dt.date(1999, 12, 25), dt.date(2060, 2, 1)), max_size=3)
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(regimes, zone_sets, instants, holiday_sets)
def test_is_open_matches_the_law_in_every_candidate_zone(
    regime: str, zones: tuple[str, ...], t: int, holidays: frozenset[dt.date]
) -> None:
    w = CallingWindow.preset(regime, holidays)  # type: ignore[arg-type]
    assert w.is_open(load_zones(zones), t) == oracle_open(regime, zones, t, holidays)


@FAST
@given(regimes, zone_sets, instants, st.sets(st.integers(-1, 9), max_size=4))
def test_next_open_is_allowed_and_nothing_earlier_is(
    regime: str, zones: tuple[str, ...], t: int, holiday_offsets: set[int]
) -> None:
    # Holidays a few days around `t`, so they actually get in the way.
    today = dt.datetime.fromtimestamp(t, dt.UTC).date()
    holidays = frozenset(today + dt.timedelta(days=k) for k in holiday_offsets)
    w = CallingWindow.preset(regime, holidays)  # type: ignore[arg-type]
    r = w.next_open(load_zones(zones), t)
    if r is None:
        # No overlap (zones too far apart for this regime): none on a coarse 2-week grid.
        assert not any(oracle_open(regime, zones, t + k * 900, holidays) for k in range(1344))
        return
    assert r >= t
    assert oracle_open(regime, zones, r, holidays), show(r)
    if r > t:
        assert not oracle_open(regime, zones, r - 1, holidays), show(r)
    # No allowed instant earlier on a 15-minute grid.
    k = 0
    while t + k * 900 < r:
        assert not oracle_open(regime, zones, t + k * 900, holidays), show(t + k * 900)
        k += 1


@st.composite
def weekly_spans(draw: st.DrawFn) -> WeeklySpan:
    days = draw(st.sets(st.integers(0, 6), min_size=1))
    a = draw(st.integers(0, 1439))
    b = draw(st.integers(a + 1, 1440))
    return WeeklySpan(frozenset(days), a * 60, b * 60)


@FAST
@given(st.lists(weekly_spans(), min_size=1, max_size=3), zone_sets, instants, holiday_sets)
def test_intervals_agree_with_is_open(
    spans_: list[WeeklySpan], zones: tuple[str, ...], t: int, holidays: frozenset[dt.date]
) -> None:
    w = CallingWindow.from_spans(spans_, holidays)
    for z in load_zones(zones):
        ivs = w.intervals(z, t, t + 3 * DAY)
        assert all(a < b for a, b in ivs)
        assert all(ivs[i][1] < ivs[i + 1][0] for i in range(len(ivs) - 1))
        for k in range(0, 3 * DAY, 1800):
            inside = any(a <= t + k < b for a, b in ivs)
            assert inside == w.is_open_in(z, t + k), show(t + k, str(z))
        for a, b in ivs:  # edges are exact
            assert w.is_open_in(z, a)
            assert not w.is_open_in(z, b) or b == t + 3 * DAY
            assert a == t or not w.is_open_in(z, a - 1)
