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

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

from dialguard.config import CampaignConfig
from dialguard.law import MIN_RING_TIMEOUT_S
from dialguard.rules import CallingWindow, window_allows
from dialguard.rules.abandoned import LiveAnswer, RateSpan, live_answer, worst_span
from dialguard.store import AttemptRecord, Store

WINDOW_SECONDS = {"24h": 86400.0, "30d": 30 * 86400.0}


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
    window: str
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
    window: str,
    start: float,
    end: float,
) -> ComplianceReport:
    """Figures for each ``window``-long period from ``start`` up to ``end``.

    Every attempt is re-checked against the rules as they stood: the calling window in
    the callee's zones at the moment of the INVITE, and the DNC lists the campaign must
    honour as they were then (entries added later do not count against it).
    """
    span = WINDOW_SECONDS[window]
    periods: list[PeriodFigures] = []
    t = start
    while t < end:
        periods.append(PeriodFigures(start=t, end=min(t + span, end)))
        t += span
    if not periods:
        periods.append(PeriodFigures(start=start, end=end))
    calling_window = CallingWindow.from_config(campaign.calling_window)
    honoured = {"internal", *campaign.dnc.lists}
    zones_of = await store.contacts.zones_by_id(campaign.id)
    listed = await store.dnc.listings_of_dialled(campaign.id, start, end)
    answers: list[LiveAnswer] = []
    for a in await store.attempts.of_campaign(campaign.id, start, end):
        answer = _as_answer(a)
        if answer is not None:
            answers.append(answer)
        p = periods[min(int((a.created_at - start) // span), len(periods) - 1)]
        p.attempts += 1
        _count_answer(p, a)
        if answer is not None and answer.abandoned:
            p.abandoned += 1
            late = not a.abandoned and a.outcome != "abandoned"
            reason = a.abandon_reason or ("late_connect" if late else "unknown")
            p.abandoned_by_reason[reason] = p.abandoned_by_reason.get(reason, 0) + 1
        if a.message_played_at is not None:
            p.messages_played += 1
        if a.opted_out:
            p.opt_outs += 1
        if _cancelled_early(a):
            p.cancelled_before_15s += 1
        dialled_at = a.invite_at if a.invite_at is not None else a.created_at
        hits = listed.get(a.number, ())
        if any(source in honoured and added_at <= dialled_at for source, added_at in hits):
            p.dnc_hits += 1
        names = zones_of.get(a.contact_id, ()) if a.contact_id is not None else ()
        if not window_allows(names, calling_window, dialled_at):
            p.outside_window += 1
    worst = worst_span(answers, span, start, end)
    return ComplianceReport(campaign.id, window, campaign.pacing.abandon_cap, periods, worst)


def _as_answer(r: AttemptRecord) -> LiveAnswer | None:
    return live_answer(
        flagged=r.abandoned,
        outcome=r.outcome,
        created_at=r.created_at,
        answered_at=r.answered_at,
        connected_at=r.connected_at,
    )


def _count_answer(p: PeriodFigures, r: AttemptRecord) -> None:
    if _as_answer(r) is None:
        if r.answered_at is not None:
            p.machine_answers += 1
        return
    p.live_answers += 1
    if r.connected_at is not None:
        p.connects += 1
    if r.connected_at is not None and r.answered_at is not None:
        wait = r.connected_at - r.answered_at
        if p.max_answer_to_agent_s is None or wait > p.max_answer_to_agent_s:
            p.max_answer_to_agent_s = wait


def _cancelled_early(r: AttemptRecord) -> bool:
    """We ended an unanswered call that had rung (from 180/183) less than 15 s."""
    if r.answered_at is not None or r.ended_by != "local" or r.ended_at is None:
        return False
    if r.outcome == "interrupted":
        return False  # the engine died; nobody chose to cut the ring short
    rang_from = r.ringing_at if r.ringing_at is not None else r.invite_at
    return rang_from is not None and r.ended_at - rang_from < MIN_RING_TIMEOUT_S
