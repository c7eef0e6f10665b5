"""The floor view's content: what the engine's last status snapshot says, ready to show.

The console learns the floor the way ``dialguard status`` does: the snapshot the engine
publishes on ``{prefix}/engine/status`` every second, followed by the same watcher
(:class:`dialguard.cli.status.StatusWatch`) and judged live or stale by the same
:func:`~dialguard.cli.status.judge`. This module turns that into rows of text for the
template: numbers already formatted with their units, and every state and warning as
words (colour is added by the page as a second signal, never the only one).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from dialguard.cli.status import age_text, agent_counts, judge
from dialguard.mqtt.contract import CampaignStatus, EngineStatus

CONSOLE_STALE_AFTER_S = 3.0
"""The engine publishes every second: a snapshot 3 s old means it has stopped, and the
page says the figures are stale (the terminal view waits 5 s; a wall screen that looks
current must be current)."""

RATE_WARN = 0.8
"""From 80 % of the cap the rate is flagged: where predictive pacing stops over-dialling."""


@dataclass(frozen=True, slots=True)
class CampaignRow:
    id: str
    state: str  # "running", "blocked", "paused" …
    mode: str
    dials_last_min: int
    in_flight: int
    dials: int
    answers: int
    connects: int
    abandoned: int
    rate: str  # "1.20 %"
    cap: str  # "3.0 %"
    rate_level: str  # "ok", "near", "over": a class and a word
    rate_share: float  # rate ÷ cap, for the gauge (0 … 1, clipped)
    contacts_left: str
    blocked: list[str]


@dataclass(frozen=True, slots=True)
class AgentRow:
    agent: str
    state: str
    since: str
    campaign: str
    call: str
    note: str


@dataclass(frozen=True, slots=True)
class Floor:
    health: str  # live / stale / disconnected / none
    message: str
    as_of: str  # "0.4 s ago"
    campaigns: list[CampaignRow]
    agents: list[AgentRow]
    agent_counts: dict[str, int]
    totals: dict[str, int]
    note: str | None
    ts: float | None = None
    """When the engine took the snapshot (epoch s): the page reports its own lag with it."""

    @property
    def live(self) -> bool:
        return self.health == "live"


def floor_view(
    status: EngineStatus | None,
    now: float | None = None,
    *,
    note: str | None = None,
    stale_after_s: float = CONSOLE_STALE_AFTER_S,
) -> Floor:
    """The floor as of ``now`` (default: the wall clock)."""
    now = time.time() if now is None else now
    verdict = judge(status, now, stale_after_s=stale_after_s)
    if status is None:
        return Floor(verdict.health, verdict.message, "—", [], [], {}, {}, note, None)
    campaigns = [_campaign(c) for c in status.campaigns]
    totals = {
        k: sum(getattr(c, k) for c in status.campaigns)
        for k in ("dials", "answers", "connects", "abandoned", "in_flight", "dials_last_min")
    }
    agents = [
        AgentRow(
            a.agent,
            "reserved" if a.reserved and a.state == "ready" else str(a.state),
            "" if a.since is None else age_text(status.ts - a.since),
            a.campaign or "",
            a.call or "",  # masked by the engine (+*********123)
            "stale: no heartbeat, treated as offline"
            if a.stale
            else ("held for a call that is ringing" if a.reserved else ""),
        )
        for a in status.agents
    ]
    return Floor(
        verdict.health,
        verdict.message,
        f"{age_text(now - status.ts)} ago" if now >= status.ts else "ahead of this clock",
        campaigns,
        agents,
        agent_counts(status),
        totals,
        note,
        status.ts,
    )


def _campaign(c: CampaignStatus) -> CampaignRow:
    share = c.abandon_rate / c.abandon_cap if c.abandon_cap > 0 else 0.0
    level = "over" if c.abandon_rate > c.abandon_cap else "near" if share >= RATE_WARN else "ok"
    return CampaignRow(
        id=c.id,
        state="blocked" if c.blocked and c.state == "running" else c.state,
        mode=c.mode,
        dials_last_min=c.dials_last_min,
        in_flight=c.in_flight,
        dials=c.dials,
        answers=c.answers,
        connects=c.connects,
        abandoned=c.abandoned,
        rate=f"{c.abandon_rate:.2%}".replace("%", " %"),
        cap=f"{c.abandon_cap:.1%}".replace("%", " %"),
        rate_level=level,
        rate_share=min(1.0, max(0.0, share)),
        contacts_left="not read yet" if c.contacts_left is None else str(c.contacts_left),
        blocked=[r.message for r in c.blocked],
    )
