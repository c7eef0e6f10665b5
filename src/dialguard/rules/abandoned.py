"""What an abandoned call is, and the abandon rate over rolling windows.

One definition for everyone who counts: the gate's 72 h lock-out, the compliance report
and the governor's seed (the engine classifies the store's attempts with it). A call is
**abandoned** when the attempt was flagged so (no agent in time, agent lost, AMD false
positive), when its outcome is ``abandoned``, or when it connected later than the
connect deadline after the answer (the callee heard silence for longer than the law
allows, whatever the row says). A **live answer** is an answered call that was not
answered by a machine, and every abandoned call (Ofcom's policy statement: an AMD false
positive is an abandoned live call).

Rolling windows: the regulator's rate is over *any* 24 h (Ofcom) or 30-day (TCPA, per
campaign) span, not over blocks from an arbitrary start. :func:`worst_span` looks at
every span of the window length inside a report's range: the count in a span changes
only when its start passes an answer or its end reaches one, so the spans starting at
each answer, ending at each answer, and at the range's two ends cover them all.
Pure functions over :class:`LiveAnswer` values.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from dialguard.law import CONNECT_DEADLINE_S

__all__ = ["LiveAnswer", "RateSpan", "is_abandoned", "live_answer", "worst_span"]


def is_abandoned(
    *,
    flagged: bool,
    outcome: str | None,
    answered_at: float | None = None,
    connected_at: float | None = None,
) -> bool:
    """The one test of "was this call abandoned?" (see the module docs)."""
    if flagged or outcome == "abandoned":
        return True
    return (
        answered_at is not None
        and connected_at is not None
        and connected_at - answered_at > CONNECT_DEADLINE_S
    )


@dataclass(frozen=True, slots=True)
class LiveAnswer:
    """One live answer at ``at`` (epoch seconds, wall clock), abandoned or not."""

    at: float
    abandoned: bool


def live_answer(
    *,
    flagged: bool,
    outcome: str | None,
    created_at: float,
    answered_at: float | None,
    connected_at: float | None,
) -> LiveAnswer | None:
    """The attempt as a live answer, or None (never answered, or a machine answered)."""
    abandoned = is_abandoned(
        flagged=flagged, outcome=outcome, answered_at=answered_at, connected_at=connected_at
    )
    if not abandoned and (answered_at is None or outcome == "voicemail"):
        return None
    return LiveAnswer(answered_at if answered_at is not None else created_at, abandoned)


@dataclass(frozen=True, slots=True)
class RateSpan:
    """The live answers and abandoned calls in ``[start, end)``."""

    start: float
    end: float
    answered: int
    abandoned: int

    @property
    def rate(self) -> float:
        return self.abandoned / self.answered if self.answered else 0.0


def _span(times: Sequence[float], prefix: Sequence[int], start: float, end: float) -> RateSpan:
    lo, hi = bisect.bisect_left(times, start), bisect.bisect_left(times, end)
    return RateSpan(start, end, hi - lo, prefix[hi] - prefix[lo])


def worst_span(
    answers: Iterable[LiveAnswer], window_s: float, since: float, until: float
) -> RateSpan | None:
    """The span ``[s, s + window_s)`` inside ``[since, until)`` with the highest abandon
    rate (ties: the most abandoned calls, then the earliest); None without abandons.
    A range shorter than the window is one span, the range itself."""
    ordered = sorted(answers, key=lambda a: a.at)
    times = [a.at for a in ordered]
    prefix = [0]
    for a in ordered:
        prefix.append(prefix[-1] + int(a.abandoned))
    if prefix[-1] == 0:
        return None
    last_start = until - window_s
    if last_start <= since:
        return _span(times, prefix, since, until)
    # Which answers a span [s, s + W) holds changes only as s passes an answer's time
    # t (t leaves) or t - W (t enters); it is constant on each (b, b'] between such
    # breakpoints, so the breakpoints and the range's ends are every span there is.
    starts = {since, last_start}
    starts.update(b for t in times for b in (t - window_s, t) if since <= b <= last_start)
    # The spans in start order: both ends only move forward, so two pointers replace
    # two bisections per span (a month of a big campaign has ~10^6 candidate spans).
    n = len(times)
    lo = hi = 0
    best: tuple[float, int, float] | None = None  # (rate, abandoned, start)
    for s in sorted(starts):
        e = s + window_s
        while lo < n and times[lo] < s:
            lo += 1
        while hi < n and times[hi] < e:
            hi += 1
        answered = hi - lo
        abandoned = prefix[hi] - prefix[lo]
        rate = abandoned / answered if answered else 0.0
        if best is None or (rate, abandoned) > (best[0], best[1]):
            best = (rate, abandoned, s)
    assert best is not None  # ``starts`` holds ``since`` at least
    return _span(times, prefix, best[2], best[2] + window_s)
