"""Calling windows: when a callee may be rung, in their local wall-clock time, DST-correct.

A :class:`CallingWindow` is a weekly schedule (spans of local time per weekday) plus
holiday dates. Whether it is open at an instant depends on the zone; with several
candidate zones the call is allowed only when the window is open in every one of them
(docs/design.md safeguard 6: only the overlap).

Theory of operation for :meth:`CallingWindow.next_open` (exact, no minute scanning):
within a stretch of time where a zone's UTC offset is constant, local time is UTC plus
that offset, so each schedule span of each local day maps to one UTC interval. The UTC
offset changes only at DST transitions; those are found by sampling the offset every
6 hours and bisecting to the second (tzdata transitions fall on whole seconds and are
months apart). Per zone this gives a sorted list of open UTC intervals; intersecting the
lists of all zones gives the overlap, and its first interval's start is the answer.
:meth:`CallingWindow.is_open` uses the same arithmetic, so the two always agree.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from dialguard.config.campaign import CallingWindowConfig, Regime
from dialguard.law import REGIME_HOLIDAY_COUNTRY
from dialguard.rules.holidays import HolidayCalendar
from dialguard.rules.types import DAY_NAMES, DAY_S, WeeklySpan, format_hhmm
from dialguard.rules.zones import load_zones

Interval = tuple[float, float]
DaySpans = tuple[tuple[int, int], ...]
Schedule = tuple[DaySpans, ...]
"""Seven entries (Monday first), each the sorted, merged ``(start, end)`` seconds open."""

_EPOCH_DATE = dt.date(1970, 1, 1)
_OFFSET_SAMPLE_S = 6 * 3600
_FIRST_CHUNK_S = 2 * DAY_S
_MAX_CHUNK_S = 32 * DAY_S
DEFAULT_HORIZON_S = 400 * DAY_S
"""How far :meth:`CallingWindow.next_open` looks before saying "never" (over a year, so a
weekly schedule with a long holiday list still finds its next opening)."""

_H = 3600
_WEEKDAYS = frozenset(range(5))
PRESETS: dict[str, tuple[WeeklySpan, ...]] = {
    # 47 CFR 64.1200(c)(1): not before 8 a.m. or after 9 p.m. at the called party's location.
    "tcpa": (WeeklySpan(frozenset(range(7)), 8 * _H, 21 * _H),),
    # Décret n° 2022-1313: Mon–Fri 10:00–13:00 and 14:00–20:00; no weekends or holidays.
    "france": (WeeklySpan(_WEEKDAYS, 10 * _H, 13 * _H), WeeklySpan(_WEEKDAYS, 14 * _H, 20 * _H)),
    # Telemarketing and Research Calls Industry Standard 2017: weekdays 9–20, Sat 9–17.
    "australia": (
        WeeklySpan(_WEEKDAYS, 9 * _H, 20 * _H),
        WeeklySpan(frozenset({5}), 9 * _H, 17 * _H),
    ),
}


def _merge(spans: Iterable[tuple[int, int]]) -> DaySpans:
    out: list[tuple[int, int]] = []
    for s, e in sorted(spans):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return tuple(out)


def _intersect_spans(
    a: Sequence[tuple[float, float]], b: Sequence[tuple[float, float]]
) -> list[tuple[float, float]]:
    """Intersection of two sorted lists of disjoint half-open intervals."""
    out: list[tuple[float, float]] = []
    i = j = 0
    while i < len(a) and j < len(b):
        lo = max(a[i][0], b[j][0])
        hi = min(a[i][1], b[j][1])
        if lo < hi:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def schedule_of(spans: Iterable[WeeklySpan]) -> Schedule:
    """The per-weekday merged form of a set of spans."""
    spans = tuple(spans)
    return tuple(_merge((s.start, s.end) for s in spans if day in s.days) for day in range(7))


def _offset(zone: ZoneInfo, t: float) -> int:
    """UTC offset in seconds at instant ``t`` (floored: transitions fall on whole seconds)."""
    off = dt.datetime.fromtimestamp(math.floor(t), zone).utcoffset()
    assert off is not None  # a ZoneInfo always answers
    return int(off.total_seconds())


def _offset_pieces(zone: ZoneInfo, a: float, b: float) -> list[tuple[float, float, int]]:
    """Split ``[a, b)`` into stretches of constant UTC offset: ``(start, end, offset)``."""
    pieces: list[tuple[float, float, int]] = []
    cur_start, cur_off = a, _offset(zone, a)
    prev = a
    while prev < b:
        nxt = min(prev + _OFFSET_SAMPLE_S, b)
        if _offset(zone, nxt) != cur_off:
            lo, hi = math.floor(prev), math.ceil(nxt)  # offset(lo) == cur_off != offset(hi)
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if _offset(zone, mid) == cur_off:
                    lo = mid
                else:
                    hi = mid
            if hi < b:
                pieces.append((cur_start, float(hi), cur_off))
                cur_start, cur_off = float(hi), _offset(zone, hi)
        prev = nxt
    pieces.append((cur_start, b, cur_off))
    return pieces


@dataclass(frozen=True, slots=True)
class CallingWindow:
    """When calls are allowed, in local time: a weekly schedule and holiday dates.

    ``schedule`` is ``None`` for "no hour limit" (regime ``none``); ``holidays`` (the
    campaign's own dates) and ``calendar`` (the regime's public holidays, see
    :mod:`dialguard.rules.holidays`) block the whole local day. ``label`` names the
    window in reasons ("TCPA", "France", …).
    """

    schedule: Schedule | None
    holidays: frozenset[dt.date] = frozenset()
    label: str = ""
    calendar: HolidayCalendar | None = None

    @classmethod
    def from_spans(
        cls,
        spans: Iterable[WeeklySpan],
        holidays: Iterable[dt.date] = (),
        label: str = "",
        calendar: HolidayCalendar | None = None,
    ) -> CallingWindow:
        return cls(schedule_of(spans), frozenset(holidays), label, calendar)

    @classmethod
    def preset(
        cls,
        regime: Regime,
        holidays: Iterable[dt.date] = (),
        holiday_subdivisions: Iterable[str] = (),
    ) -> CallingWindow:
        """The statutory window of ``regime``: its hours and, where its law forbids calls
        on public holidays, its country's calendar; ``holidays`` are added to it
        (``none``: no hour limit, listed holidays still apply)."""
        if regime == "none":
            return cls(None, frozenset(holidays), "no hour limit")
        if regime not in PRESETS:
            raise ValueError(f"calling window regime {regime!r} has no preset (custom needs spans)")
        label = {"tcpa": "TCPA", "france": "France", "australia": "Australia"}[regime]
        country = REGIME_HOLIDAY_COUNTRY.get(regime)
        calendar = HolidayCalendar.of(country, holiday_subdivisions) if country else None
        return cls.from_spans(PRESETS[regime], holidays, label, calendar)

    @classmethod
    def from_config(cls, cfg: CallingWindowConfig) -> CallingWindow:
        """The window a campaign's ``[calling_window]`` section describes."""
        if cfg.regime == "custom":
            spans = [WeeklySpan.of(r.days, r.start, r.end) for r in cfg.custom]
            return cls.from_spans(spans, cfg.holidays, "custom")
        return cls.preset(cfg.regime, cfg.holidays, cfg.holiday_subdivisions)

    @property
    def needs_zone(self) -> bool:
        """Whether the callee's zone matters (always, unless no hours and no holidays)."""
        return self.schedule is not None or bool(self.holidays) or self.calendar is not None

    def holiday_name(self, date: dt.date, zone: ZoneInfo) -> str | None:
        """Why ``date`` is a holiday for a callee in ``zone`` (None if it is not)."""
        if date in self.holidays:
            return "a campaign holiday"
        if self.calendar is not None:
            return self.calendar.name_of(date, zone.key)
        return None

    @property
    def never_opens(self) -> bool:
        """True when the schedule has no open span on any weekday."""
        return self.schedule is not None and not any(self.schedule)

    def narrowed(self, preferred: Sequence[WeeklySpan]) -> CallingWindow:
        """This window cut down to a contact's preferred hours (never widened by them)."""
        if not preferred:
            return self
        pref = schedule_of(preferred)
        if self.schedule is None:
            sched = pref
        else:
            sched = tuple(
                tuple((int(s), int(e)) for s, e in _intersect_spans(mine, theirs))
                for mine, theirs in zip(self.schedule, pref, strict=True)
            )
        return CallingWindow(sched, self.holidays, f"{self.label} ∩ preferred hours", self.calendar)

    def describe(self) -> str:
        """Human text of the schedule, e.g. ``mon–sun 08:00–21:00``."""
        if self.schedule is None:
            return "any time"
        groups: list[tuple[list[int], DaySpans]] = []
        for day, spans in enumerate(self.schedule):
            if not spans:
                continue
            if groups and groups[-1][1] == spans and groups[-1][0][-1] == day - 1:
                groups[-1][0].append(day)
            else:
                groups.append(([day], spans))
        parts = []
        for days, spans in groups:
            names = DAY_NAMES[days[0]] + (f"–{DAY_NAMES[days[-1]]}" if len(days) > 1 else "")
            hours = ", ".join(f"{format_hhmm(s)}–{format_hhmm(e)}" for s, e in spans)
            parts.append(f"{names} {hours}")
        return "; ".join(parts) if parts else "never"

    # -- one zone ---------------------------------------------------------------------

    @staticmethod
    def local(zone: ZoneInfo, at: float) -> tuple[dt.date, float]:
        """Local date and seconds after local midnight at instant ``at`` in ``zone``."""
        wall = at + _offset(zone, at)
        day = math.floor(wall / DAY_S)
        return _EPOCH_DATE + dt.timedelta(days=day), wall - day * DAY_S

    def _day_spans(self, date: dt.date, zone: ZoneInfo) -> DaySpans:
        if self.holiday_name(date, zone) is not None:
            return ()
        if self.schedule is None:
            return ((0, DAY_S),)
        return self.schedule[date.weekday()]

    def is_open_in(self, zone: ZoneInfo, at: float) -> bool:
        date, sod = self.local(zone, at)
        return any(s <= sod < e for s, e in self._day_spans(date, zone))

    def intervals(self, zone: ZoneInfo, start: float, end: float) -> list[Interval]:
        """Open UTC intervals of this window in ``zone`` within ``[start, end)``, sorted."""
        out: list[Interval] = []
        for p0, p1, off in _offset_pieces(zone, start, end):
            first_day = math.floor((p0 + off) / DAY_S)
            last_day = math.ceil((p1 + off) / DAY_S) - 1
            for day in range(first_day, last_day + 1):
                base = day * DAY_S - off
                for s, e in self._day_spans(_EPOCH_DATE + dt.timedelta(days=day), zone):
                    lo, hi = max(base + s, p0), min(base + e, p1)
                    if lo < hi:
                        if out and lo <= out[-1][1]:
                            out[-1] = (out[-1][0], max(hi, out[-1][1]))
                        else:
                            out.append((lo, hi))
        return out

    # -- all candidate zones ----------------------------------------------------------

    def is_open(self, zones: Sequence[ZoneInfo], at: float) -> bool:
        """Open at ``at`` in every candidate zone (an empty zone list is never open)."""
        return bool(zones) and all(self.is_open_in(z, at) for z in zones)

    def holiday_in(self, zones: Sequence[ZoneInfo], at: float) -> tuple[ZoneInfo, dt.date] | None:
        """The first candidate zone whose local date at ``at`` is a holiday, and that date."""
        for z in zones:
            date, _ = self.local(z, at)
            if self.holiday_name(date, z) is not None:
                return z, date
        return None

    def next_open(
        self, zones: Sequence[ZoneInfo], after: float, horizon_s: float = DEFAULT_HORIZON_S
    ) -> float | None:
        """The earliest instant ``≥ after`` open in every zone; ``None`` if none within
        ``horizon_s`` (or the zone list is empty)."""
        if not zones or not math.isfinite(after):
            return None
        if self.is_open(zones, after):
            return after
        if self.never_opens:
            return None
        start, chunk = after, _FIRST_CHUNK_S
        while start < after + horizon_s:
            end = min(start + chunk, after + horizon_s)
            chunk = min(chunk * 2, _MAX_CHUNK_S)  # most windows reopen within a day
            acc: list[Interval] | None = None
            for z in zones:
                ivs = self.intervals(z, start, end)
                acc = ivs if acc is None else _intersect_spans(acc, ivs)
                if not acc:
                    break
            if acc:
                return float(acc[0][0])
            start = end
        return None


def next_window_open(
    zones: Sequence[str], after: float, window: CallingWindow, horizon_s: float = DEFAULT_HORIZON_S
) -> float | None:
    """Epoch second from which ``window`` is open in all of ``zones`` (IANA names).

    Returns ``after`` itself when already open, ``None`` when it does not open within
    ``horizon_s``. Raises :class:`~dialguard.rules.zones.UnknownZoneError` for an
    empty or unknown zone list.
    """
    return window.next_open(load_zones(zones), after, horizon_s)
