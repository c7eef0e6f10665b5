"""`dialguard campaign list|start|pause|resume|stop|set-pacing`: supervisors' controls.

``list`` reads the store, so it works with the daemon down. Every other command is a
request to the *running* daemon over the broker (``…/campaigns/{id}/control`` or
``…/pacing``); the engine is the only judge of what is allowed — it validates a pacing
change against the same legal floors as a config file, records accepted and refused
changes in the audit table, and answers on ``…/campaigns/{id}/events``. This command
prints that answer: old → new when accepted, the engine's reason when refused.

Exit codes: 0 accepted; 1 refused by the engine (a change outside the law, an unknown
campaign, a state change that does not apply); 2 bad input or config; 3 the broker or
the daemon did not answer.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import os
import re
import secrets
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

from cyclopts import App, Parameter
from rich import box
from rich.markup import escape
from rich.table import Table

from dialguard.cli._common import (
    EXIT_BAD_INPUT,
    EXIT_OK,
    EXIT_PROBLEM,
    EXIT_UNREACHABLE,
    BadInput,
    console,
    err_console,
    load_config_or_exit,
)
from dialguard.config import ConfigError, StoreConfig, parse_campaign
from dialguard.law import AbandonWindow
from dialguard.logs import configure_logging
from dialguard.mqtt.client import BrokerLinkDown, send_request
from dialguard.mqtt.contract import (
    ID_PATTERN,
    ControlAction,
    ControlReply,
    ControlRequest,
    PacingChangeRequest,
)
from dialguard.pacing.params import PacingMode
from dialguard.store import Store, StoreError

app = App(
    name="campaign",
    help="Supervisor controls: list, start, pause, resume, stop, set-pacing.",
)

DEFAULT_TIMEOUT_S = 5.0
"""How long to wait for the engine's reply before saying the daemon is not running."""

_ID = re.compile(ID_PATTERN)

Config = Annotated[
    Path | None,
    Parameter(help="Engine config (TOML); default config/dialguard.toml if it exists."),
]
Actor = Annotated[
    str | None,
    Parameter(help="Who makes the change, for the audit table (default: $USER)."),
]
Timeout = Annotated[
    float,
    Parameter(help="Seconds to wait for the engine's reply before giving up (exit 3)."),
]


# --- list (store only) ----------------------------------------------------------------


@app.command(name="list")
def list_campaigns(
    *,
    config: Config = None,
    format: Literal["table", "json"] = "table",
) -> int:
    """List campaigns from the store: state, pacing mode, contacts and attempts.

    Reads the store directly, so it works whether or not the daemon is running. The
    state is the one the daemon will resume with ("active" dials, "paused" waits,
    "stopped" stays down).

    Parameters
    ----------
    config
        Engine config (TOML) naming the store; default config/dialguard.toml if it exists.
    format
        table for people, json for scripts.
    """
    cfg = load_config_or_exit(config)
    configure_logging(cfg.logging.level, cfg.logging.format)
    if cfg.store.url is None and not cfg.store.path.exists():
        _error(f"no store at {cfg.store.path} (import a contact list or run the daemon first)")
        return EXIT_BAD_INPUT
    try:
        rows = asyncio.run(_campaign_rows(cfg.store))
    except (StoreError, sqlite3.Error) as e:
        _error(f"store error: {e}")
        return EXIT_BAD_INPUT
    if format == "json":
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    if not rows:
        console.print(f"no campaigns in {cfg.store.location}")
        return EXIT_OK
    table = Table(
        title=f"Campaigns in {cfg.store.path.name if cfg.store.url is None else cfg.store.url}",
        caption=_LIST_CAPTION,
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
        title_justify="left",
        caption_justify="left",
    )
    table.add_column("campaign", no_wrap=True)
    table.add_column("state", no_wrap=True)
    table.add_column("mode", no_wrap=True)
    for name in ("pending", "calling", "done", "spent", "dnc", "attempts"):
        table.add_column(name, justify="right", no_wrap=True)
    for r in rows:
        c = r["contacts"]
        table.add_row(
            escape(r["id"]),
            _state_cell(r["state"]),
            r["mode"],
            *(str(c[s]) for s in ("pending", "in_progress", "done", "exhausted", "dnc")),
            str(r["attempts"]),
        )
    console.print(table)
    return EXIT_OK


_LIST_CAPTION = (
    "contacts: pending = to call, calling = in progress, done = finished, "
    "spent = retries used up, dnc = on a do-not-call list"
)


async def _campaign_rows(where: StoreConfig) -> list[dict[str, Any]]:
    """One dict per campaign; counts are the store's grouped counts, not rows loaded in
    Python, so a campaign with millions of attempts lists as fast as an empty one."""
    async with await Store.open(where.location, password=where.secret) as store:
        rows = []
        for rec in await store.campaigns.all():
            contacts = await store.contacts.count_by_status(rec.id)
            attempts = await store.attempts.count(rec.id)
            try:
                mode: str = parse_campaign(rec.config, f"store campaign {rec.id}").pacing.mode
            except ConfigError:
                mode = "(bad config)"
            rows.append(
                {
                    "id": rec.id,
                    "name": rec.name,
                    "state": rec.state,
                    "mode": mode,
                    "contacts": contacts,
                    "attempts": attempts,
                    "updated_at": rec.updated_at,
                }
            )
        return rows


def _state_cell(state: str) -> str:
    colour = {"active": "green", "paused": "yellow", "stopped": "red"}.get(state, "white")
    return f"[{colour}]{state}[/]"


# --- start / pause / resume / stop ---------------------------------------------------


_CONTROL_HELP: dict[ControlAction, str] = {
    "start": "Start a paused or stopped campaign: the daemon begins dialling its contacts.",
    "pause": (
        "Pause a running campaign: no new dials; calls already ringing or connected\n"
        "finish normally (an answered call still gets its agent)."
    ),
    "resume": "Resume a paused campaign (a stopped one needs `start`).",
    "stop": (
        "Stop a campaign: no new dials, calls in progress finish; it stays stopped across\n"
        "daemon restarts until someone starts it again."
    ),
}
"""One command per control action; they differ only in the action and its help."""
_CAMPAIGN_PARAMETER = """

Parameters
----------
campaign
    Campaign ID, as in `dialguard campaign list`.
"""


def _control_command(action: ControlAction) -> Callable[..., int]:
    def command(
        campaign: str,
        *,
        actor: Actor = None,
        config: Config = None,
        timeout: Timeout = DEFAULT_TIMEOUT_S,
    ) -> int:
        return _control(action, campaign, actor, config, timeout)

    command.__name__ = command.__qualname__ = action
    command.__doc__ = _CONTROL_HELP[action] + _CAMPAIGN_PARAMETER
    return command


for _action in _CONTROL_HELP:
    app.command(_control_command(_action), name=_action)


def _control(
    action: ControlAction, campaign: str, actor: str | None, config: Path | None, timeout: float
) -> int:
    return _request(
        campaign, actor, config, timeout, lambda who: control_request(action, who), what=action
    )


def control_request(action: ControlAction, actor: str) -> ControlRequest:
    """The request a supervisor's tool sends to start, pause, resume or stop (this
    command and the web console build it here, so both send the same message)."""
    return ControlRequest(
        request_id=secrets.token_hex(8), actor=actor, action=action, ts=time.time()
    )


# --- set-pacing -----------------------------------------------------------------------


@app.command(name="set-pacing")
def set_pacing(
    campaign: str,
    *,
    mode: PacingMode | None = None,
    abandon_cap: str | None = None,
    ring_timeout: float | None = None,
    max_dial_ratio: float | None = None,
    abandon_window: AbandonWindow | None = None,
    actor: Actor = None,
    config: Config = None,
    timeout: Timeout = DEFAULT_TIMEOUT_S,
) -> int:
    """Change a running campaign's pacing, live. Only the options given change.

    The daemon checks the result against the law before applying it — abandon cap at
    most 3 %, ring timeout at least 15 s, predictive dial ratio at most 3 — and refuses
    anything outside it with the reason (exit 1). Accepted and refused changes are both
    written to the audit table with who and when.

    Parameters
    ----------
    campaign
        Campaign ID, as in `dialguard campaign list`.
    mode
        progressive (never dials more calls than free agents: no abandoned calls),
        predictive (over-dials within the abandon cap) or preview.
    abandon_cap
        Highest abandoned-call rate predictive mode may reach, as a fraction (0.02) or a
        percentage (2%). The law allows at most 3 %.
    ring_timeout
        Seconds a call rings before the daemon gives up (at least 15).
    max_dial_ratio
        Predictive mode: most lines dialled per agent (1 to 3).
    abandon_window
        Period the abandon rate is measured over: 24h (Ofcom) or 30d (TCPA).
    """
    try:
        changes = pacing_changes(
            mode=mode,
            abandon_cap=abandon_cap,
            ring_timeout_s=ring_timeout,
            max_dial_ratio=max_dial_ratio,
            abandon_window=abandon_window,
        )
    except BadInput as e:
        _error(str(e))
        return EXIT_BAD_INPUT
    return _request(
        campaign,
        actor,
        config,
        timeout,
        lambda who: pacing_request(changes, who),
        what="pacing change",
    )


PACING_FIELDS = ("mode", "abandon_cap", "ring_timeout_s", "max_dial_ratio", "abandon_window")
"""The pacing fields a supervisor may change live, as the engine names them."""


def pacing_changes(
    *,
    mode: str | None = None,
    abandon_cap: str | None = None,
    ring_timeout_s: float | None = None,
    max_dial_ratio: float | None = None,
    abandon_window: str | None = None,
) -> dict[str, Any]:
    """The ``changes`` of a pacing request from what a supervisor gave (None = keep).

    Only the form of each value is checked here (a cap is a number or a percentage);
    whether it is lawful is the engine's to judge, with the same rules as a campaign
    file. Raises :class:`BadInput` naming the field."""
    given: dict[str, Any] = {
        "mode": mode,
        "abandon_cap": None if abandon_cap is None else _fraction(abandon_cap),
        "ring_timeout_s": ring_timeout_s,
        "max_dial_ratio": max_dial_ratio,
        "abandon_window": abandon_window,
    }
    changes = {k: v for k, v in given.items() if v is not None}
    if not changes:
        raise BadInput(
            "nothing to change: give at least one of --mode, --abandon-cap, --ring-timeout, "
            "--max-dial-ratio, --abandon-window"
        )
    return changes


def pacing_request(changes: dict[str, Any], actor: str) -> PacingChangeRequest:
    """The request that asks the engine to change a campaign's pacing live."""
    return PacingChangeRequest(
        request_id=secrets.token_hex(8), actor=actor, changes=changes, ts=time.time()
    )


def _fraction(text: str) -> float:
    """``0.02`` or ``2%`` → 0.02. Range is the engine's to judge, not ours."""
    raw = text.strip()
    percent = raw.endswith("%")
    try:
        value = float(raw.removesuffix("%").strip())
    except ValueError:
        raise BadInput(f"--abandon-cap {text!r}: not a number (write 0.02 or 2%)") from None
    return value / 100 if percent else value


# --- the request and its reply --------------------------------------------------------


def _request(
    campaign: str,
    actor: str | None,
    config: Path | None,
    timeout: float,
    make: Callable[[str], ControlRequest | PacingChangeRequest],
    *,
    what: str,
) -> int:
    """Send one request, wait for the engine's reply, print it; the exit code."""
    try:
        who = _actor(actor)
        if not _ID.match(campaign):
            raise BadInput(f"campaign id {campaign!r}: letters, digits, '_', '.', '-' only")
        if not 0 < timeout <= 120:
            raise BadInput(f"--timeout {timeout:g}: must be > 0 and ≤ 120 seconds")
    except BadInput as e:
        _error(str(e))
        return EXIT_BAD_INPUT
    cfg = load_config_or_exit(config)
    configure_logging(cfg.logging.level, cfg.logging.format)
    request = make(who)
    try:
        reply = asyncio.run(send_request(cfg.broker, campaign, request, within_s=timeout))
    except BrokerLinkDown as e:
        _error(f"cannot reach the broker: {e}", hint="is the broker running? see --config")
        return EXIT_UNREACHABLE
    except TimeoutError:
        _error(
            f"daemon not running or not connected: no reply within {timeout:g} s "
            f"on {cfg.broker.topic_prefix}/campaigns/{campaign}/events at {cfg.broker.url}",
            hint="start it with `dialguard run`, or check --config names the same broker "
            "and topic_prefix as the daemon's",
        )
        return EXIT_UNREACHABLE
    return _show_reply(campaign, what, reply)


def _show_reply(campaign: str, what: str, reply: ControlReply) -> int:
    if not reply.accepted:
        err_console.print(
            f"[red]refused by the engine:[/] campaign {escape(campaign)}: {escape(reply.reason)}",
            highlight=False,
            soft_wrap=True,
        )
        return EXIT_PROBLEM
    old, new = reply.old or {}, reply.new or {}
    who = f"(by {escape(reply.actor)})" if reply.actor else ""
    if not new:
        console.print(
            f"campaign {escape(campaign)}: accepted, nothing changed (already so) {who}",
            highlight=False,
        )
        return EXIT_OK
    console.print(f"campaign {escape(campaign)}: {what} accepted {who}", highlight=False)
    for key in new:
        console.print(
            f"  {key}: {_shown(key, old.get(key))} → {_shown(key, new[key])}", highlight=False
        )
    for warning in reply.warnings:
        # Accepted, and yet nothing will be dialled: say why here, not only in the log.
        err_console.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False)
    return EXIT_OK


def _shown(key: str, value: Any) -> str:
    if value is None:
        return "—"
    if key == "abandon_cap" and isinstance(value, int | float):
        return f"{value:g} ({value:.1%})"
    if key.endswith("_s") and isinstance(value, int | float):
        return f"{value:g} s"
    return str(value)


def _actor(given: str | None) -> str:
    """Who is acting, for the audit table: --actor, else $USER, else the login name."""
    who = given if given is not None else os.environ.get("USER") or _login()
    who = who.strip()
    if not 1 <= len(who) <= 64:
        raise BadInput(f"--actor {who!r}: must be 1 to 64 characters")
    return who


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name in some containers
        return "cli"


def _error(message: str, *, hint: str | None = None) -> None:
    err_console.print(f"[red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    if hint:
        err_console.print(f"  {escape(hint)}", highlight=False, soft_wrap=True)
