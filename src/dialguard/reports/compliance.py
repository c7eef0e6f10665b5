"""The compliance report: what a regulator asks of a campaign, per window.

The abandon rate is checked over **rolling** windows: every span of the window's length
inside the report's range (:func:`dialguard.rules.abandoned.worst_span`), so a bad
24 hours straddling two periods is not missed; the worst span is named. For each period
of the regulator's window (24 h for Ofcom, 30 days for the TCPA) the report also counts
attempts, live answers, connects, abandoned calls by reason, and the things that must
always be zero — calls cancelled before 15 s of ringing, calls outside the calling
window, calls to a number on a do-not-call list — and sets the abandon rate beside the
campaign's cap.

Abandon rate = abandoned / live answers, both as :mod:`dialguard.rules.abandoned`
defines them — the same definition the gate's 72 h lock-out and the governor use.
"""

from __future__ import annotations

import asyncio
import bisect
import datetime as dt
import itertools
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from dialguard.config import CampaignConfig
from dialguard.law import ABANDON_WINDOW_S, AbandonWindow
from dialguard.rules import CallingWindow, resolve_zones, window_allows
from dialguard.rules.abandoned import LiveAnswer, RateSpan, worst_span
from dialguard.store import Store
from dialguard.store.period_figures import BUCKET_S, DialSpan, HourFigures, zones_of


@dataclass
class PeriodFigures:
    """One period of the regulator's window."""

    start: float
    end: float
    attempts: int = 0
    live_answers: int = 0
    machine_answers: int = 0
    connects: int = 0
    abandoned: int = 0
    abandoned_by_reason: dict[str, int] = field(default_factory=dict)
    cancelled_before_15s: int = 0
    outside_window: int = 0
    dnc_hits: int = 0
    opt_outs: int = 0
    messages_played: int = 0
    max_answer_to_agent_s: float | None = None

    @property
    def abandon_rate(self) -> float:
        return self.abandoned / self.live_answers if self.live_answers else 0.0


def _local_minutes(ts: float) -> str:
    """A period's start as people read it: ISO time to the minute, with its offset."""
    return dt.datetime.fromtimestamp(ts).astimezone().isoformat(timespec="minutes")


@dataclass
class ComplianceReport:
    campaign_id: str
    window: AbandonWindow
    cap: float
    periods: list[PeriodFigures]
    worst: RateSpan | None = None
    """The rolling span of the window's length with the highest abandon rate."""

    @property
    def breaches(self) -> list[str]:
        """The worst rolling span if it is over the cap, and every must-be-zero figure
        that is not."""
        out = []
        w = self.worst
        if w is not None and w.rate > self.cap:
            out.append(
                f"worst rolling {self.window} span, {_local_minutes(w.start)} to "
                f"{_local_minutes(w.end)}: abandon rate {w.rate:.2%} over cap {self.cap:.2%} "
                f"({w.abandoned} of {w.answered} live answers)"
            )
        for p in self.periods:
            # A period's rate is not checked on its own: each full period is one of the
            # rolling spans, and the worst of those is named above.
            tag = f"period from {_local_minutes(p.start)}"
            for name in ("cancelled_before_15s", "outside_window", "dnc_hits"):
                if getattr(p, name):
                    out.append(f"{tag}: {name} = {getattr(p, name)} (must be 0)")
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "campaign_id": self.campaign_id,
            "window": self.window,
            "cap": self.cap,
            "periods": [{**asdict(p), "abandon_rate": p.abandon_rate} for p in self.periods],
            "worst_rolling_span": None
            if self.worst is None
            else {**asdict(self.worst), "abandon_rate": self.worst.rate},
            "breaches": self.breaches,
        }


async def compliance_report(
    store: Store,
    campaign: CampaignConfig,
    window: AbandonWindow,
    start: float,
    end: float,
) -> ComplianceReport:
    """Figures for each ``window``-long period from ``start`` up to ``end``.

    Every attempt is re-checked against the rules as they stood: the calling window in
    the callee's zones at the moment of the INVITE, and the DNC lists the campaign must
    honour as they were then (entries added later do not count against it). An attempt
    belongs to the period whose ``[start, end)`` holds its creation.

    The database sums each period hour by hour (of the rows' creation), and counts
    abandons by reason per period; the rolling worst span is computed (in a thread)
    while it does.
    """
    span = ABANDON_WINDOW_S[window]
    periods: list[PeriodFigures] = []
    t = start
    while t < end:
        periods.append(PeriodFigures(start=t, end=min(t + span, end)))
        t += span
    if not periods:
        periods.append(PeriodFigures(start=start, end=end))
    honoured = ("internal", *campaign.dnc.lists)
    async with asyncio.TaskGroup() as tg:
        rolling = tg.create_task(_worst_span(store, campaign.id, span, start, end))
        hours: list[tuple[PeriodFigures, list[HourFigures]]] = []
        for p in periods:
            of_period = await store.attempts.hour_figures(
                campaign.id, _hours_of(p.start, p.end), honoured
            )
            for h in of_period:
                _add(p, h)
            if p.abandoned:
                reasons = await store.attempts.abandon_reasons(campaign.id, p.start, p.end)
                p.abandoned_by_reason = dict(sorted(reasons.items()))
            hours.append((p, of_period))
        calls = _CallingWindowCheck(
            CallingWindow.from_config(campaign.calling_window),
            await store.attempts.zone_sets(campaign.id),
            _dial_range(h for _, of_period in hours for h in of_period),
        )
        for p, of_period in hours:
            p.outside_window = await calls.outside(store, campaign.id, of_period)
    return ComplianceReport(
        campaign.id, window, campaign.pacing.abandon_cap, periods, rolling.result()
    )


def _hours_of(start: float, end: float) -> list[tuple[float, float]]:
    """``[start, end)`` cut at every whole UTC hour: calling-window edges fall on whole
    hours in most zones, so an hour's dials (just after their rows) rarely cross one."""
    cuts = [
        k * BUCKET_S
        for k in range(math.floor(start / BUCKET_S) + 1, math.ceil(end / BUCKET_S))
        if start < k * BUCKET_S < end
    ]
    bounds = [start, *cuts, end]
    return list(itertools.pairwise(bounds))


async def _worst_span(
    store: Store, campaign_id: str, span: float, start: float, end: float
) -> RateSpan | None:
    answers = await store.attempts.live_answer_times(campaign_id, start, end)
    # CPU-bound over every live answer: in a thread, while SQLite (which lets go of the
    # GIL) sums the periods on the store's.
    return await asyncio.to_thread(_worst_of, answers, span, start, end)


def _worst_of(
    answers: list[tuple[float, bool]], span: float, start: float, end: float
) -> RateSpan | None:
    return worst_span((LiveAnswer(at, ab) for at, ab in answers), span, start, end)


def _add(p: PeriodFigures, h: HourFigures) -> None:
    """Sum one hour of the database's into its period."""
    p.attempts += h.attempts
    p.live_answers += h.live_answers
    p.machine_answers += h.machine_answers
    p.connects += h.connects
    p.abandoned += h.abandoned
    p.cancelled_before_15s += h.cancelled_before_15s
    p.dnc_hits += h.dnc_hits
    p.opt_outs += h.opt_outs
    p.messages_played += h.messages_played
    wait = h.max_answer_to_agent_s
    if wait is not None and (p.max_answer_to_agent_s is None or wait > p.max_answer_to_agent_s):
        p.max_answer_to_agent_s = wait


def _dial_range(hours: Iterable[HourFigures]) -> tuple[float, float]:
    spans = [s for h in hours for s in (h.with_contact, h.without_contact) if s is not None]
    if not spans:
        return (0.0, 0.0)
    return min(s.first for s in spans), max(s.last for s in spans)


@dataclass(frozen=True)
class _ZoneCheck:
    """Whether a dial to one zone set was outside the calling window, and the instants
    where that answer can change.

    The answer is :func:`dialguard.rules.window_allows`'s. It is constant between two
    consecutive edges of the window's open intervals in any of the zones (holidays
    included: a holiday is a day without intervals; unknown or no zones: no edges,
    always outside), so dials with no edge in ``(first, last]`` are all inside or all
    outside, and one call decides for them all."""

    names: tuple[str, ...]
    window: CallingWindow
    edges: list[float]

    @classmethod
    def of(cls, window: CallingWindow, zones_key: str, lo: float, hi: float) -> _ZoneCheck:
        names = zones_of(zones_key)
        zones, known = resolve_zones(names, window)
        edges: set[float] = set()
        if known.allowed and window.needs_zone:
            for z in zones:
                for a, b in window.intervals(z, lo, hi + 1.0):
                    edges.update((a, b))
        return cls(names, window, sorted(edges))

    def constant_over(self, span: DialSpan) -> bool:
        return bisect.bisect_right(self.edges, span.first) == bisect.bisect_right(
            self.edges, span.last
        )

    def outside(self, t: float) -> int:
        """1 if a dial at ``t`` was outside the window, else 0."""
        return 0 if window_allows(self.names, self.window, t) else 1


class _CallingWindowCheck:
    """Counts a period's dials outside the calling window, asking the database for the
    callees' zones only in the hours where the campaign's zone sets disagree.

    An hour whose dials with a contact every zone set among the campaign's contacts
    answers alike (all inside the window all along, or all outside) needs no zones:
    its dials are counted by their span; a dial without a contact has no zones. Only
    the other hours (runs of them merged) are counted per zone set
    (:meth:`Attempts.zone_slots`), and only a zone set's dial hour that holds a window
    edge dial by dial. An hour is counted one way or the other, whole, so no dial is
    counted twice."""

    def __init__(self, window: CallingWindow, zone_sets: list[str], dials: tuple[float, float]):
        self._window = window
        self._range = dials
        self._checks = {key: _ZoneCheck.of(window, key, *dials) for key in zone_sets}
        self._none = _ZoneCheck.of(window, "[]", *dials)

    def _check(self, zones_key: str) -> _ZoneCheck:
        check = self._checks.get(zones_key)
        if check is None:  # a contact's zones not seen among the campaign's: check anyway
            check = self._checks[zones_key] = _ZoneCheck.of(self._window, zones_key, *self._range)
        return check

    def _uniform(self, span: DialSpan) -> int | None:
        """1 or 0 per dial if every zone set agrees over ``span``; None if they do not."""
        answers = {
            c.outside(span.first) if c.constant_over(span) else -1 for c in self._checks.values()
        }
        return answers.pop() if len(answers) == 1 and -1 not in answers else None

    async def outside(self, store: Store, campaign_id: str, hours: list[HourFigures]) -> int:
        total = 0
        mixed: list[tuple[float, float]] = []  # creation ranges of the hours zones decide
        for h in hours:
            if h.without_contact is not None:  # no zones: the same answer all along
                total += h.without_contact.attempts * self._none.outside(h.without_contact.first)
            if h.with_contact is None:
                continue
            uniform = self._uniform(h.with_contact)
            if uniform is not None:
                total += h.with_contact.attempts * uniform
            elif mixed and mixed[-1][1] == h.since:
                mixed[-1] = (mixed[-1][0], h.until)
            else:
                mixed.append((h.since, h.until))
        for since, until in mixed:
            for slot in await store.attempts.zone_slots(campaign_id, since, until):
                check = self._check(slot.zones_key)
                if check.constant_over(slot.span):
                    total += slot.span.attempts * check.outside(slot.span.first)
                    continue
                times = await store.attempts.dialled_times(
                    campaign_id, since, until, slot.zones_key, slot.span.first, slot.span.last
                )
                total += sum(check.outside(t) for t in times)
        return total
