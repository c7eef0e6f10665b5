"""`dialguard status`: a live terminal view of the daemon's campaigns and agents.

The daemon publishes an :class:`~dialguard.mqtt.contract.EngineStatus` snapshot,
retained, on ``{prefix}/engine/status`` every second; this command subscribes to it on
the broker named in the engine config. Going through the broker (not a local API) means
the view works from any supervisor's machine that may read that topic, and shows
exactly what the daemon itself believes — including when it believes nothing: a
missing snapshot, one older than :data:`STALE_AFTER_S`, or the daemon's last will
(``broker_connected: false``) all read "daemon not running or not connected".

Exit codes (``--once``): 0 a live snapshot; 3 no live daemon, or the broker cannot be
reached; 2 bad config.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import aiomqtt
from cyclopts import Parameter
from rich.console import Group, RenderableType
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from dialguard.cli._common import (
    EXIT_BAD_INPUT,
    EXIT_OK,
    EXIT_UNREACHABLE,
    compact,
    console,
    err_console,
    load_config_or_exit,
)
from dialguard.config import BrokerConfig
from dialguard.logs import configure_logging
from dialguard.mqtt.client import QOS, BrokerLinkDown, make_client, read_status
from dialguard.mqtt.contract import (
    AGENT_STATES,
    CampaignStatus,
    EngineStatus,
    PayloadError,
    Topics,
    parse_payload,
)

STALE_AFTER_S = 5.0
"""A snapshot older than this means the daemon stopped publishing (it sends one a second)."""

AGENT_ROWS = 40
"""Agents listed one per row; beyond this only the counts by state are shown."""

NOT_RUNNING = "daemon not running or not connected"

Health = Literal["live", "stale", "disconnected", "none"]


@dataclass(frozen=True, slots=True)
class DaemonVerdict:
    """What a snapshot says about the daemon, judged at ``now``."""

    health: Health
    message: str
    age_s: float | None

    @property
    def live(self) -> bool:
        return self.health == "live"


def judge(
    status: EngineStatus | None,
    now: float,
    *,
    stale_after_s: float = STALE_AFTER_S,
    where: str = "the broker",
) -> DaemonVerdict:
    """Tell a live daemon from a dead one's last word.

    A daemon that is dialling publishes ``broker_connected`` with a fresh ``ts``; one
    that died leaves either its will (``broker_connected`` false) or a snapshot that
    stops ageing gracefully. A clock far ahead of ours is reported too, rather than
    shown as fresh.
    """
    if status is None:
        return DaemonVerdict("none", f"{NOT_RUNNING}: no engine status on {where}", None)
    age = now - status.ts
    if not status.broker_connected:
        # The daemon's last will (or a snapshot saying it lost the broker): its ts is
        # when that session began, so its age says nothing about when it went.
        return DaemonVerdict(
            "disconnected",
            f"{NOT_RUNNING}: engine {status.engine_id} left the broker "
            "(its connection dropped; the broker published its last will)",
            age,
        )
    if age > stale_after_s:
        return DaemonVerdict(
            "stale",
            f"{NOT_RUNNING}: engine {status.engine_id}'s last status is {age_text(age)} old "
            f"(it sends one every second)",
            age,
        )
    if age < -stale_after_s:
        return DaemonVerdict(
            "stale",
            f"engine {status.engine_id}'s clock is {age_text(-age)} ahead of this machine's",
            age,
        )
    if not status.agents_synced:
        return DaemonVerdict(
            "live",
            f"engine {status.engine_id} up, but agent state is not synchronised: "
            "no dialling until it is (fail closed)",
            age,
        )
    if not status.store_writes_ok:
        return DaemonVerdict(
            "live",
            f"engine {status.engine_id} up, but the store refuses writes (disk full?): "
            "no new dials until it takes them again",
            age,
        )
    if status.trunk != "closed":
        return DaemonVerdict(
            "live",
            f"engine {status.engine_id} up, but the trunk refuses calls ({status.trunk_reason}): "
            "new dials paused, contacts not charged",
            age,
        )
    return DaemonVerdict("live", f"engine {status.engine_id} up, agent state synchronised", age)


def age_text(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


# --- rendering ------------------------------------------------------------------------


def render(status: EngineStatus | None, verdict: DaemonVerdict, note: str | None = None) -> Group:
    """The whole view: a verdict line, campaigns, agents (dimmed when not live)."""
    healthy = bool(
        status and status.agents_synced and status.store_writes_ok and status.trunk == "closed"
    )
    colour = "green" if verdict.live and healthy else "yellow"
    if not verdict.live:
        colour = "red"
    parts: list[RenderableType] = [Text(verdict.message, style=f"bold {colour}")]
    if note:
        parts.append(Text(note, style="yellow"))
    if status is not None and (status.campaigns or status.agents or verdict.live):
        dim = not verdict.live
        if dim:
            parts.append(Text("last known state:", style="dim"))
        parts.append(_campaign_table(status.campaigns, dim=dim))
        parts.extend(_pace_lines(status.campaigns, dim=dim))
        parts.extend(_blocked_lines(status.campaigns, dim=dim))
        parts.append(_agents_line(status, dim=dim))
        if status.agents:
            parts.append(_agent_table(status, dim=dim, now=status.ts))
    return Group(*parts)


def _campaign_table(campaigns: list[CampaignStatus], *, dim: bool) -> RenderableType:
    if not campaigns:
        return Text("no campaigns loaded", style="dim")
    t = compact(Table(title="Campaigns", style="dim" if dim else ""))
    t.add_column("campaign", no_wrap=True)
    t.add_column("state, mode")
    for name in ("dials", "answers", "conn.", "aband.", "in flight"):
        t.add_column(name, justify="right")
    t.add_column("rate / cap", justify="right", no_wrap=True)
    for c in campaigns:
        blocked = c.blocked and c.state == "running"
        state = "[yellow]blocked[/]" if blocked else _state(c.state)
        t.add_row(
            escape(c.id),
            f"{state}, {c.mode}",
            str(c.dials),
            str(c.answers),
            str(c.connects),
            str(c.abandoned),
            str(c.in_flight),
            _rate(c.abandon_rate, c.abandon_cap),
        )
    t.caption = (
        "conn. = answered calls connected to an agent; aband. = abandoned; rate = "
        "abandoned ÷ live answers over the campaign's window, beside its cap"
    )
    t.caption_justify = "left"
    return t


def _pace_lines(campaigns: list[CampaignStatus], *, dim: bool) -> list[Text]:
    """Dial rate and contacts left, which the table has no room for at 80 columns."""
    lines = []
    for c in campaigns:
        left = (
            "contacts left not read yet"
            if c.contacts_left is None
            else (f"{c.contacts_left} contact{'s' if c.contacts_left != 1 else ''} left to call")
        )
        lines.append(
            Text(f"{c.id}: {c.dials_last_min} dials in the last minute · {left}", style="dim")
        )
    return lines


def _blocked_lines(campaigns: list[CampaignStatus], *, dim: bool) -> list[Text]:
    """Why a campaign dials nothing, one line per reason, with what to do about it."""
    lines = []
    for c in campaigns:
        for r in c.blocked:
            line = Text(f"{c.id} blocked: ", style="dim" if dim else "bold yellow")
            line.append(r.message, style="dim" if dim else "")
            lines.append(line)
    return lines


def _state(state: str) -> str:
    colour = {"running": "green", "paused": "yellow", "stopped": "red"}.get(state, "cyan")
    return f"[{colour}]{state}[/]"


def _rate(rate: float, cap: float) -> str:
    """Red over the cap, yellow from 80 % of it (where predictive stops over-dialling)."""
    colour = "red" if rate > cap else "yellow" if rate >= 0.8 * cap else "green"
    return f"[{colour}]{rate:.2%}[/]/{cap:.1%}"


def agent_counts(status: EngineStatus) -> dict[str, int]:
    """Agents by state, ``reserved`` beside ``ready``: an agent held for a ringing call
    is ``ready`` to the registry but not free, and showing it as ready misleads."""
    counts: dict[str, int] = {str(k): v for k, v in status.agents_by_state.items()}
    held = sum(1 for a in status.agents if a.reserved and a.state == "ready")
    order = ["ready", "reserved", *(s for s in AGENT_STATES if s != "ready")]
    counts["ready"] = max(0, counts.get("ready", 0) - held)
    counts["reserved"] = held
    return {s: counts.get(s, 0) for s in order}


def _agents_line(status: EngineStatus, *, dim: bool) -> Text:
    shown = " · ".join(f"{n} {s}" for s, n in agent_counts(status).items())
    return Text(f"agents: {shown}", style="dim" if dim else "bold")


def _agent_table(status: EngineStatus, *, dim: bool, now: float) -> RenderableType:
    t = compact(Table(style="dim" if dim else ""))
    t.add_column("agent", no_wrap=True)
    t.add_column("state", no_wrap=True)
    t.add_column("for", justify="right", no_wrap=True)
    t.add_column("group", no_wrap=True)
    t.add_column("campaign", no_wrap=True)
    t.add_column("note")
    for a in status.agents[:AGENT_ROWS]:
        state: str = a.state
        note = ""
        if a.reserved and a.state == "ready":
            state, note = "[cyan]reserved[/]", "held for a call that is ringing"
        elif a.call is not None:
            note = f"on call {escape(a.call)}"  # masked by the engine
        if a.stale:
            note = "[yellow]stale: no heartbeat, treated as offline[/]"
        since = "" if a.since is None else age_text(now - a.since)
        t.add_row(escape(a.agent), state, since, escape(a.group), escape(a.campaign or ""), note)
    more = len(status.agents) - AGENT_ROWS
    if more > 0:
        return Group(t, Text(f"… and {more} more agents", style="dim"))
    return t


def as_json(status: EngineStatus | None, verdict: DaemonVerdict) -> str:
    """For scripts: the verdict beside the snapshot itself."""
    return json.dumps(
        {
            "health": verdict.health,
            "message": verdict.message,
            "age_s": None if verdict.age_s is None else round(verdict.age_s, 3),
            "status": None if status is None else status.model_dump(mode="json"),
        },
        indent=2,
        ensure_ascii=False,
    )


# --- the command ----------------------------------------------------------------------


def status(
    *,
    config: Path | None = None,
    once: bool = False,
    json_out: Annotated[bool, Parameter(name="--json", negative="")] = False,
    seconds: float | None = None,
    stale_after: float = STALE_AFTER_S,
) -> int:
    """Live view of the running daemon's campaigns and agents (Ctrl-C to leave).

    Reads the snapshot the daemon publishes every second on the broker (retained on
    {prefix}/engine/status), so it works from any machine that can reach the broker.
    When there is no snapshot, or the last one is older than --stale-after seconds, it
    says "daemon not running or not connected" in red.

    Parameters
    ----------
    config
        Engine config (TOML) naming the broker and topic prefix; the daemon's snapshot
        is read from {prefix}/engine/status there. Default config/dialguard.toml.
    once
        Print one snapshot and exit: 0 if the daemon is live, 3 (and "daemon not
        running or not connected") if not.
    json_out
        Print the snapshot and the verdict as one JSON object (implies --once).
    seconds
        Leave the live view after this many seconds (default: run until Ctrl-C).
    stale_after
        Age in seconds after which a snapshot means the daemon is gone.
    """
    if stale_after <= 0 or (seconds is not None and seconds <= 0):
        err_console.print("[red]error:[/] --stale-after and --seconds must be > 0")
        return EXIT_BAD_INPUT
    cfg = load_config_or_exit(config)
    configure_logging(cfg.logging.level, cfg.logging.format)
    if once or json_out:
        return _once(cfg.broker, stale_after, json_out=json_out)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_watch(cfg.broker, stale_after, seconds))
    return EXIT_OK


def _once(broker: BrokerConfig, stale_after_s: float, *, json_out: bool) -> int:
    try:
        snapshot = asyncio.run(read_status(broker, within_s=2.0))
    except BrokerLinkDown as e:
        err_console.print(
            f"[red]error:[/] cannot reach the broker: {escape(str(e))}", highlight=False
        )
        return EXIT_UNREACHABLE
    verdict = judge(snapshot, time.time(), stale_after_s=stale_after_s, where=_where(broker))
    if json_out:
        print(as_json(snapshot, verdict))
    else:
        console.print(render(snapshot, verdict))
    return EXIT_OK if verdict.live else EXIT_UNREACHABLE


def _where(broker: BrokerConfig) -> str:
    return f"{Topics(broker.topic_prefix).engine_status} at {broker.url}"


class StatusWatch:
    """The newest snapshot and any broker trouble, kept up to date by :meth:`follow`
    (the live view here and the web console's floor both follow the engine with it)."""

    def __init__(self, broker: BrokerConfig) -> None:
        self.broker = broker
        self.topic = Topics(broker.topic_prefix).engine_status
        self.latest: EngineStatus | None = None
        self.note: str | None = "connecting to the broker…"

    async def follow(self) -> None:
        """Subscribe and keep the latest snapshot; reconnect every 2 s if the broker goes."""
        while True:
            try:
                async with make_client(self.broker, client_id=None) as client:
                    await client.subscribe(self.topic, qos=QOS)
                    self.note = None
                    async for message in client.messages:
                        self._take(message.payload)
            except aiomqtt.MqttError as e:
                self.note = f"broker {self.broker.url} unreachable ({e}); retrying"
            await asyncio.sleep(2.0)

    def _take(self, payload: object) -> None:
        raw = payload if isinstance(payload, bytes | bytearray) else b""
        if not raw:  # the retained snapshot was cleared: no engine any more
            self.latest = None
            return
        try:
            self.latest = parse_payload(EngineStatus, self.topic, raw)
        except PayloadError as e:
            self.note = f"bad status ignored: {e.problem}"


async def _watch(broker: BrokerConfig, stale_after_s: float, seconds: float | None) -> None:
    watch = StatusWatch(broker)
    follower = asyncio.create_task(watch.follow(), name="status-follow")

    def view() -> Group:
        verdict = judge(
            watch.latest, time.time(), stale_after_s=stale_after_s, where=_where(broker)
        )
        return render(watch.latest, verdict, watch.note)

    deadline = None if seconds is None else time.monotonic() + seconds
    try:
        with Live(view(), console=console, refresh_per_second=2, auto_refresh=False) as live:
            while deadline is None or time.monotonic() < deadline:
                await asyncio.sleep(0.5)
                live.update(view(), refresh=True)
    finally:
        follower.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await follower
