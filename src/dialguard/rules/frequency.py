"""Frequency caps: how many times one number may be dialled in a rolling day, 7 and 30 days.

Caps count attempts to the *number* across all campaigns, not per campaign: the person
receiving the calls experiences the contact centre, not its campaign split, and the
rules the caps implement are per consumer — Reg F's 7 calls in 7 days (12 CFR
1006.14(b)(2)), France's 4 per 30 days (Décret n° 2022-1313), Ofcom's persistent-misuse
policy. Counting across campaigns can only refuse more, never less.

Windows are rolling and half-open, ``(now − span, now]``: an attempt exactly one span ago
has aged out. A refusal's ``retry_at`` is the exact instant enough attempts age out.

The 7- and 30-day spans are *calendar* days in the callee's zone where the zone is known
(France's "4 in 30 days" is 30 days of the callee's calendar): the span starts at the
same local wall-clock time N days earlier, which across a DST change is an hour more or
less than N × 86,400 s. With several candidate zones, and against N × 86,400 s, the
longest span is used, so counting in calendar days can only refuse more.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from dialguard.config.campaign import FrequencyCaps
from dialguard.rules.types import DAY_S, PastAttempt, Verdict


@dataclass(frozen=True, slots=True)
class CapSpan:
    rule: str
    field: str
    span_s: int
    label: str
    calendar_days: int = 0  # > 0: also N calendar days in the callee's zone

    def start(self, now: float, zones: Sequence[ZoneInfo]) -> float:
        """Where the span ending at ``now`` begins: the earliest of ``now − span_s`` and,
        per zone, the same local time ``calendar_days`` earlier."""
        starts = [now - self.span_s]
        if self.calendar_days:
            back = dt.timedelta(days=self.calendar_days)
            starts += [(dt.datetime.fromtimestamp(now, z) - back).timestamp() for z in zones]
        return min(starts)

    def ages_out(self, at: float, zones: Sequence[ZoneInfo]) -> float:
        """When an attempt made at ``at`` stops counting: the latest of ``at + span_s``
        and, per zone, the same local time ``calendar_days`` later."""
        ends = [at + self.span_s]
        if self.calendar_days:
            ahead = dt.timedelta(days=self.calendar_days)
            ends += [(dt.datetime.fromtimestamp(at, z) + ahead).timestamp() for z in zones]
        return max(ends)


CAP_SPANS: tuple[CapSpan, ...] = (
    CapSpan("cap_day", "per_day", DAY_S, "24 hours"),
    CapSpan("cap_7d", "per_7_days", 7 * DAY_S, "7 days", calendar_days=7),
    CapSpan("cap_30d", "per_30_days", 30 * DAY_S, "30 days", calendar_days=30),
)


def check_cap(
    history: Iterable[PastAttempt],
    limit: int,
    span: CapSpan,
    now: float,
    zones: Sequence[ZoneInfo] = (),
) -> Verdict:
    """Refuse (``span.rule``) when ``limit`` attempts fall in ``(start, now]``.

    ``limit`` 0 means no cap on that span. Attempts dated after ``now`` (clock skew
    between nodes) count too: the cap errs towards fewer calls. ``zones`` are the
    callee's candidate zones, for the calendar-day spans.
    """
    if limit <= 0:
        return Verdict.allow(span.rule, f"no cap per {span.label}")
    start = span.start(now, zones)
    times = sorted(a.at for a in history if a.at > start)
    if len(times) < limit:
        return Verdict.allow(span.rule, f"{len(times)} of {limit} attempts per {span.label}")
    # After the (n − limit + 1) oldest age out, fewer than `limit` remain.
    retry_at = span.ages_out(times[len(times) - limit], zones)
    return Verdict.refuse(
        span.rule,
        f"{len(times)} attempts to this number in the last {span.label} "
        f"(cap {limit} per {span.label}, across all campaigns)",
        retry_at,
    )


def check_caps(
    history: Iterable[PastAttempt],
    caps: FrequencyCaps,
    now: float,
    zones: Sequence[ZoneInfo] = (),
) -> list[Verdict]:
    """The day, 7-day and 30-day verdicts, in that order. Pass the caps in force
    (``CampaignConfig.caps_in_force()``: the campaign's, tightened by its regime's)."""
    past = list(history)
    return [check_cap(past, getattr(caps, s.field), s, now, zones) for s in CAP_SPANS]
