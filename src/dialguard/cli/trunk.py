"""`dialguard trunk test-call`: the check an IT person runs against a new SIP trunk.

It places one real call through the same adapter the daemon uses and prints each thing
that happened with its time since the INVITE — trying, ringing, answered, failed with
its code, the transfer result, DTMF heard, ended — then the outcome. ``--json`` prints
one object for scripts. A trunk that does not answer at all (no SIP response to the
INVITE) is reported as such and exits 3, so a monitoring job can tell "trunk down"
from "callee busy".
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Annotated, Any

from cyclopts import App, Parameter
from pydantic import ValidationError

from dialguard.cli._common import (
    EXIT_BAD_INPUT,
    EXIT_OK,
    EXIT_PROBLEM,
    EXIT_UNREACHABLE,
    console,
    err_console,
    load_config_or_exit,
)
from dialguard.config import PacingConfig
from dialguard.logs import configure_logging
from dialguard.phone import InvalidNumber, normalise_number
from dialguard.sip.adapter import SippyCall, SippyTrunk, TrunkError
from dialguard.sip.api import Prompt, TrunkEvent, TrunkEventKind
from dialguard.sip.prompt import PromptError, load_prompt

app = App(name="trunk", help="Check a SIP trunk with a real test call.")

K = TrunkEventKind

OUTCOME_EXIT = {
    "answered": EXIT_OK,
    "transferred": EXIT_OK,
    "transfer_failed": EXIT_PROBLEM,
    "failed": EXIT_PROBLEM,
    "no_answer": EXIT_PROBLEM,
    "no_response": EXIT_UNREACHABLE,
}


def parse_hostport(value: str) -> tuple[str, int]:
    """``host:port`` (``[v6]:port`` too) → (host, port); ValueError says what is wrong."""
    host, sep, port_text = value.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"--trunk must be HOST:PORT with a port 1–65535, got {value!r}")
    return host, int(port_text)


def outcome_of(call: SippyCall, events: list[TrunkEvent]) -> str:
    """One word for the call: what an IT person wants to know first."""
    seen = {e.kind for e in events}
    if K.TRANSFERRED in seen:
        return "transferred"
    if K.TRANSFER_FAILED in seen:
        return "transfer_failed"
    if K.ANSWERED in seen:
        return "answered"
    last = events[-1] if events else None
    if last is not None and last.kind is K.FAILED:
        if last.code == 408 and not seen & {K.TRYING, K.PROGRESS, K.RINGING, K.EARLY_MEDIA}:
            return "no_response"
        if last.code == 487 and call.cancel_requested_at is not None:
            return "no_answer"
    return "failed"


def event_record(event: TrunkEvent, t0: float) -> dict[str, Any]:
    record: dict[str, Any] = {"event": str(event.kind), "t_s": round(event.t - t0, 3)}
    if event.code is not None:
        record["code"] = event.code
    if event.reason:
        record["reason"] = event.reason
    if event.digit is not None:
        record["digit"] = event.digit
    if event.by is not None:
        record["by"] = event.by
    return record


def event_line(record: dict[str, Any]) -> str:
    detail = " ".join(
        str(record[k]) for k in ("code", "reason") if k in record and record[k] is not None
    )
    if "digit" in record:
        detail = f"digit {record['digit']}"
    if "by" in record:
        detail = f"{detail} (by {record['by']})".strip()
    return f"{record['t_s']:8.3f} s  {record['event']:<16} {detail}".rstrip()


async def run_test_call(
    trunk: SippyTrunk,
    number: str,
    caller_id: str,
    ring_timeout: float,
    transfer_to: str | None,
    prompt: Prompt | None,
    hold_s: float,
    on_event: Any,
) -> tuple[SippyCall, list[TrunkEvent]]:
    """Place the call and drive it: play, transfer, hold, hang up. Returns the events."""
    await trunk.start()
    events: list[TrunkEvent] = []
    problems: list[str] = []
    try:
        call = await trunk.originate(number, caller_id, ring_timeout)

        async def after_answer() -> None:
            try:
                if prompt is not None:
                    await call.play(prompt)
                if transfer_to is not None:
                    await call.transfer(transfer_to)  # its result arrives as an event
                await asyncio.sleep(hold_s)
            except RuntimeError as e:  # e.g. the callee's SDP offered no usable audio
                problems.append(str(e))
            finally:
                await call.hangup()

        actions: asyncio.Task[None] | None = None
        async for event in call.events():
            events.append(event)
            on_event(event, call.invite_at)
            if event.kind is K.ANSWERED:
                actions = asyncio.create_task(after_answer())
        if actions is not None:
            actions.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await actions
        for problem in problems:
            err_console.print(f"[yellow]warning:[/] {problem}", highlight=False)
        return call, events
    finally:
        await trunk.stop()


@app.command(name="test-call")
def test_call(
    number: str,
    *,
    trunk: str | None = None,
    ring_timeout: float = 30.0,
    transfer_to: str | None = None,
    play: Path | None = None,
    caller_id: str | None = None,
    json_output: Annotated[bool, Parameter(name="--json")] = False,
    hold: float = 2.0,
    no_response_timeout: float = 8.0,
    silent: bool = False,
    config: Path | None = None,
) -> int:
    """Place one call through the trunk and report each event and the outcome.

    Parameters
    ----------
    number
        Number to call, E.164 (+441632960123).
    trunk
        HOST:PORT of the trunk (default: [trunk] in the engine config).
    ring_timeout
        Cancel an unanswered call after this many seconds (never before 15 s of ringing).
    transfer_to
        Once answered, blind-transfer (REFER) the call to this SIP URI and report the result.
    play
        Once answered, play this 8 kHz WAV / µ-law file to the callee.
    caller_id
        Caller ID to present, E.164 (default: the first campaign's caller ID).
    json_output
        Print one JSON object: {"events": [{"event", "t_s", "code"?}], "outcome"}.
    hold
        Seconds to keep an answered call up (to hear DTMF) before hanging up.
    no_response_timeout
        Seconds to wait for any SIP response before declaring the trunk unreachable.
    silent
        Allow an answered call with neither --play nor --transfer-to: whoever answers
        hears nothing (a silent call). Only for a test line or a simulator.
    config
        Engine config file (default: config/dialguard.toml if present).
    """
    cfg = load_config_or_exit(config)
    configure_logging("warning", "console" if not json_output else "json")
    try:
        host, port = parse_hostport(trunk) if trunk else (cfg.trunk.host, cfg.trunk.port)
        if caller_id is None:
            caller_id = _default_caller_id(cfg)
        # E.164 on the wire whatever was typed (02079460103 → +442079460103 in GB):
        # a national number sent as written reaches a different destination, or none.
        number = _e164(number, "number to call", cfg.engine.default_region)
        caller_id = _e164(caller_id, "caller ID", cfg.engine.default_region)
        if not 0 < no_response_timeout <= 300:
            raise ValueError(
                f"--no-response-timeout must be in (0, 300] s, got {no_response_timeout}"
            )
        if hold < 0:
            raise ValueError(f"--hold must be ≥ 0 s, got {hold}")
        _check_ring_timeout(ring_timeout)
        if play is None and transfer_to is None and not silent:
            raise ValueError(
                "an answered test call with neither --play nor --transfer-to is a silent "
                "call to whoever answers: give --play FILE (an 8 kHz WAV saying who is "
                "calling) or --transfer-to URI, or --silent for a test line or simulator"
            )
        prompt = load_prompt(play) if play is not None else None
        password = cfg.trunk.password.get_secret_value() if cfg.trunk.password else None
        adapter = SippyTrunk(
            host,
            port,
            local_host=cfg.trunk.local_host,
            local_port=cfg.trunk.local_port,
            username=cfg.trunk.username,
            password=password,
            register=cfg.trunk.registration,
            rtp_ports=cfg.trunk.rtp_port_range,
            invite_timeout=no_response_timeout,
        )
    except (ValueError, PromptError) as e:
        err_console.print(f"[red]error:[/] {e}", highlight=False)
        return EXIT_BAD_INPUT

    records: list[dict[str, Any]] = []

    def on_event(event: TrunkEvent, t0: float) -> None:
        record = event_record(event, t0)
        records.append(record)
        if not json_output:
            console.print(event_line(record), highlight=False)

    try:
        call, events = asyncio.run(
            run_test_call(
                adapter, number, caller_id, ring_timeout, transfer_to, prompt, hold, on_event
            )
        )
    except ValueError as e:
        err_console.print(f"[red]error:[/] {e}", highlight=False)
        return EXIT_BAD_INPUT
    except TrunkError as e:
        err_console.print(f"[red]trunk unreachable:[/] {e}", highlight=False)
        return EXIT_UNREACHABLE

    outcome = outcome_of(call, events)
    if json_output:
        print(json.dumps({"events": records, "outcome": outcome}))
    else:
        console.print(f"outcome: {outcome}", highlight=False)
    if outcome == "no_response":
        err_console.print(
            f"[red]trunk unreachable:[/] no SIP response from {host}:{port} "
            f"within {no_response_timeout:g} s",
            highlight=False,
        )
    return OUTCOME_EXIT[outcome]


def _check_ring_timeout(seconds: float) -> None:
    """The same limits as a campaign's ``ring_timeout_s`` (one definition, in config):
    the adapter would ring on to the 15 s floor anyway, so a shorter value is refused
    rather than accepted and not honoured."""
    try:
        PacingConfig(ring_timeout_s=seconds)
    except ValidationError as e:
        problem = e.errors(include_url=False)[0]["msg"].removeprefix("Value error, ")
        raise ValueError(f"--ring-timeout {seconds:g}: {problem}") from None


def _e164(raw: str, what: str, region: str) -> str:
    """``raw`` in E.164, read in ``region`` unless it says +country; ValueError naming
    ``what`` and why if it cannot be a phone number."""
    try:
        return normalise_number(raw, region)
    except InvalidNumber as e:
        raise ValueError(f"{what} {raw!r} is not a phone number in E.164 form: {e}") from None


def _default_caller_id(cfg: Any) -> str:
    from dialguard.config import ConfigError, load_campaigns

    try:
        campaigns = load_campaigns(cfg.engine.campaigns_dir)
    except (ConfigError, OSError):
        campaigns = []
    if not campaigns:
        raise ValueError("no --caller-id given and no campaign to take one from")
    return str(campaigns[0].caller_id)
