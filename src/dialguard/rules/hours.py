"""Time-of-day rules in the callee's local time: zone known, holiday, window, preferences.

Checked in that order by the gate: ``timezone_unknown`` (fail closed when the window
depends on a zone the number does not reveal), ``holiday`` (the local date in any
candidate zone is a configured holiday), ``calling_window`` (outside the legal window in
at least one candidate zone) and ``preferred_hours`` (legal now, but outside the hours the
contact asked for). Each refusal's ``retry_at`` is the exact next instant the relevant
window opens in every candidate zone.
"""

from __future__ import annotations

from collections.abc import Sequence
from zoneinfo import ZoneInfo

from dialguard.rules.types import DAY_NAMES, Verdict, WeeklySpan, format_hhmm
from dialguard.rules.window import CallingWindow
from dialguard.rules.zones import UnknownZoneError, load_zones


def resolve_zones(
    zone_names: Sequence[str], window: CallingWindow, preferred: Sequence[WeeklySpan] = ()
) -> tuple[tuple[ZoneInfo, ...], Verdict]:
    """The candidate zones, or a ``timezone_unknown`` refusal when they are needed but
    empty or unknown. Zones are not needed only for "any time, no holidays, no
    preferred hours" (regime ``none``)."""
    if not window.needs_zone and not preferred:
        return (), Verdict.allow("timezone_unknown", "the window does not depend on the zone")
    try:
        zones = load_zones(zone_names)
    except UnknownZoneError as e:
        return (), Verdict.refuse("timezone_unknown", f"{e}; refusing to call (fail closed)")
    return zones, Verdict.allow("timezone_unknown", f"zones {', '.join(map(str, zones))}")


def _local_text(zone: ZoneInfo, at: float) -> str:
    date, sod = CallingWindow.local(zone, at)
    return f"{DAY_NAMES[date.weekday()]} {date.isoformat()} {format_hhmm(int(sod))} in {zone}"


def check_holiday(zones: Sequence[ZoneInfo], window: CallingWindow, now: float) -> Verdict:
    """Refuse on a configured holiday in any candidate zone's local date."""
    hit = window.holiday_in(zones, now)
    if hit is None:
        return Verdict.allow("holiday", "not a holiday in the callee's zones")
    zone, date = hit
    return Verdict.refuse(
        "holiday",
        f"{date.isoformat()} is a holiday in the callee's local time ({zone}: "
        f"{window.holiday_name(date, zone)})",
        window.next_open(zones, now),
    )


def check_calling_window(zones: Sequence[ZoneInfo], window: CallingWindow, now: float) -> Verdict:
    """Refuse unless ``window`` is open at ``now`` in every candidate zone."""
    if window.schedule is None:
        return Verdict.allow("calling_window", "no hour limit")
    closed = [z for z in zones if not window.is_open_in(z, now)]
    if zones and not closed:
        return Verdict.allow("calling_window", "inside the calling window in every zone")
    where = _local_text(closed[0], now) if closed else "no zone"
    extra = f" (and {len(closed) - 1} more zones)" if len(closed) > 1 else ""
    return Verdict.refuse(
        "calling_window",
        f"local time {where}{extra} is outside the {window.label} window ({window.describe()})",
        window.next_open(zones, now),
    )


def window_allows(zone_names: Sequence[str], window: CallingWindow, at: float) -> bool:
    """The calling-window rules alone, as yes or no: would a call to a callee in these
    candidate zones have been inside the window (and not on a holiday) at ``at``? For
    re-checking dials after the fact (compliance reports, the demo's summary); unknown
    zones count as outside, as the gate refuses them."""
    zones, known = resolve_zones(zone_names, window)
    return (
        known.allowed
        and check_holiday(zones, window, at).allowed
        and check_calling_window(zones, window, at).allowed
    )


def check_preferred_hours(
    zones: Sequence[ZoneInfo],
    window: CallingWindow,
    preferred: Sequence[WeeklySpan],
    now: float,
) -> Verdict:
    """Refuse outside the contact's preferred hours; they only narrow ``window``."""
    if not preferred:
        return Verdict.allow("preferred_hours", "no preferred hours")
    narrowed = window.narrowed(preferred)
    wanted = "; ".join(p.describe() for p in preferred)
    if narrowed.never_opens:
        return Verdict.refuse(
            "preferred_hours",
            f"preferred hours ({wanted}) never overlap the {window.label} window "
            f"({window.describe()})",
        )
    if narrowed.is_open(zones, now):
        return Verdict.allow("preferred_hours", "inside the contact's preferred hours")
    closed = next((z for z in zones if not narrowed.is_open_in(z, now)), None)
    where = _local_text(closed, now) if closed is not None else "unknown"
    return Verdict.refuse(
        "preferred_hours",
        f"local time {where} is outside the contact's preferred hours ({wanted})",
        narrowed.next_open(zones, now),
    )
