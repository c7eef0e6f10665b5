"""Frequency caps: how many times one number may be dialled in a rolling day, 7 and 30 days.

Caps count attempts to the *number* across all campaigns, not per campaign: the person
receiving the calls experiences the contact centre, not its campaign split, and the
rules the caps implement are per consumer — Reg F's 7 calls in 7 days (12 CFR
1006.14(b)(2)), France's 4 per 30 days (Décret n° 2022-1313), Ofcom's persistent-misuse
policy. Counting across campaigns can only refuse more, never less.

Windows are rolling and half-open, ``(now − span, now]``: an attempt exactly one span ago
has aged out. A refusal's ``retry_at`` is the exact instant enough attempts age out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from dialguard.config.campaign import FrequencyCaps
from dialguard.rules.types import DAY_S, PastAttempt, Verdict


@dataclass(frozen=True, slots=True)
class CapSpan:
    rule: str
    field: str
    span_s: int
    label: str


CAP_SPANS: tuple[CapSpan, ...] = (
    CapSpan("cap_day", "per_day", DAY_S, "24 hours"),
    CapSpan("cap_7d", "per_7_days", 7 * DAY_S, "7 days"),
    CapSpan("cap_30d", "per_30_days", 30 * DAY_S, "30 days"),
)


def check_cap(history: Iterable[PastAttempt], limit: int, span: CapSpan, now: float) -> Verdict:
    """Refuse (``span.rule``) when ``limit`` attempts fall in ``(now − span, now]``.

    ``limit`` 0 means no cap on that span. Attempts dated after ``now`` (clock skew
    between nodes) count too: the cap errs towards fewer calls.
    """
    if limit <= 0:
        return Verdict.allow(span.rule, f"no cap per {span.label}")
    times = sorted(a.at for a in history if a.at > now - span.span_s)
    if len(times) < limit:
        return Verdict.allow(span.rule, f"{len(times)} of {limit} attempts per {span.label}")
    # After the (n − limit + 1) oldest age out, fewer than `limit` remain.
    retry_at = times[len(times) - limit] + span.span_s
    return Verdict.refuse(
        span.rule,
        f"{len(times)} attempts to this number in the last {span.label} "
        f"(cap {limit} per {span.label}, across all campaigns)",
        retry_at,
    )


def check_caps(history: Iterable[PastAttempt], caps: FrequencyCaps, now: float) -> list[Verdict]:
    """The day, 7-day and 30-day verdicts, in that order."""
    past = list(history)
    return [check_cap(past, getattr(caps, s.field), s, now) for s in CAP_SPANS]
