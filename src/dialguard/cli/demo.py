"""`dialguard demo`: a whole contact centre on this machine, with no set-up.

Finds or starts an MQTT broker, starts the SIP trunk simulator, simulated agent
desktops and the engine, runs a sample campaign for a few minutes with a live view,
then prints the compliance summary measured on the simulator's side of the wire.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Callable
from typing import Annotated, Literal

from cyclopts import Parameter
from rich.live import Live
from rich.table import Table

from dialguard.cli._common import EXIT_OK, EXIT_PROBLEM, console, err_console
from dialguard.cli.status import agent_counts
from dialguard.demo.centre import CentreOptions, CentreResult, LocalCentre, Tick
from dialguard.logs import configure_logging


def _live_table(t: Tick, cap: float, web: str | None = None) -> Table:
    paused = any(c.state != "running" for c in t.status.campaigns)
    phase = "campaign paused, calls in progress finishing" if paused else "dialling"
    table = Table(title=f"dialguard demo — {t.elapsed_s:4.0f} s, {phase}", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value")
    if web:
        table.add_row("web console", web)
    agents = ", ".join(f"{k} {v}" for k, v in agent_counts(t.status).items() if v)
    table.add_row("agents", agents or "none yet")
    for c in t.status.campaigns:
        rate = c.abandon_rate
        left = "" if c.contacts_left is None else f", {c.contacts_left} contacts left"
        table.add_row(
            f"campaign {c.id}",
            f"{c.state}, {c.mode}: dials {c.dials} ({c.dials_last_min} in the last minute"
            f"{left}), answers {c.answers}, connects {c.connects}, abandoned {c.abandoned}, "
            f"in flight {c.in_flight}",
        )
        for r in c.blocked:
            table.add_row("blocked", r.message)
        table.add_row("abandon rate", f"{rate:.2%} (cap {cap:.0%})")
    s = t.sim
    # s["cancelled"] are ring timeouts (a CANCEL after ≥ 15 s of ringing): lawful, and
    # not to be read beside "cancelled before 15 s", which must be 0.
    table.add_row(
        "on the wire",
        f"INVITEs {s['attempts']}, live answers {s['live_answers']}, connected "
        f"{s['connected']}, abandoned {s['abandoned']}, "
        f"unanswered at the ring timeout {s['cancelled']}",
    )
    return table


def _summary_table(r: CentreResult, mode: str) -> Table:
    s = r.summary
    abandoned_rule = "0 in guaranteed mode" if mode != "predictive" else "counted against the cap"
    t = Table(title="Compliance summary (from the SIP simulator's records)")
    t.add_column("figure")
    t.add_column("value", justify="right")
    t.add_column("rule")
    rows = [
        ("attempts (INVITEs)", s["attempts"], ""),
        ("live answers", s["live_answers"], ""),
        ("connected to an agent", s["connected"], ""),
        ("abandoned", s["abandoned"], abandoned_rule),
        ("abandon rate", f"{s['abandon_rate']:.2%}", f"≤ {s['abandon_cap']:.0%}"),
        ("slowest answer → agent", _secs(s["max_answer_to_agent_s"]), "≤ 2 s"),
        ("cancelled before 15 s of ringing", s["cancelled_before_15s"], "must be 0"),
        ("dialled outside calling hours", s["outside_window"], "must be 0"),
        ("do-not-call numbers dialled", s["dnc_dialled"], "must be 0"),
        ("opted out during the message", s["opted_out"], ""),
    ]
    for name, value, rule in rows:
        t.add_row(name, str(value), rule)
    return t


def _secs(v: float | None) -> str:
    return "—" if v is None else f"{v:.2f} s"


def demo(
    *,
    mode: Literal["progressive", "predictive"] = "progressive",
    agents: Annotated[int, Parameter(validator=lambda _t, v: _range("agents", v, 1, 200))] = 6,
    contacts: int = 400,
    minutes: float = 2.0,
    speedup: float = 10.0,
    seed: int = 1,
    broker: str = "127.0.0.1:1883",
    json_output: Annotated[bool, Parameter(name="--json")] = False,
    console_port: int = 0,
    no_console: Annotated[bool, Parameter(negative="")] = False,
) -> int:
    """Run a whole contact centre on this machine for a few minutes.

    Uses the MQTT broker on --broker if one answers, else starts mosquitto (or an
    embedded broker) on a free loopback port. Everything stays on 127.0.0.1.

    Parameters
    ----------
    mode
        progressive (guaranteed: no abandoned calls) or predictive (over-dials under the cap).
    agents
        Simulated agents logged in.
    contacts
        Sample contacts loaded (a few outside calling hours, a few on the DNC list).
    minutes
        How long the campaign dials; calls in progress then finish.
    speedup
        Talk times are divided by this, so a short demo sees many calls (ring times are not).
    seed
        Seed for the callee population and the sample list.
    broker
        HOST:PORT of an MQTT broker to use if one answers there.
    json_output
        Print the final summary as one JSON object instead of tables.
    console_port
        Port of the web console on 127.0.0.1 (0: a free one). Its address and a
        one-time password for the user "demo" are printed when it starts.
    no_console
        Do not start the web console.
    """
    if minutes <= 0 or minutes > 120:
        err_console.print("--minutes must be > 0 and ≤ 120")
        return 2
    if speedup <= 0:
        err_console.print("--speedup must be > 0")
        return 2
    host, _, port = broker.rpartition(":")
    if not host or not port.isdigit():
        err_console.print(f"--broker {broker!r}: expected HOST:PORT")
        return 2
    # Errors only: warnings (e.g. the broker link closing at shutdown) would tear the
    # live view; the summary at the end says what matters.
    configure_logging("error", "console")
    opts = CentreOptions(
        mode=mode,
        agents=agents,
        contacts=contacts,
        minutes=minutes,
        speedup=speedup,
        seed=seed,
        broker_host=host,
        broker_port=int(port),
    )
    if not 0 <= console_port <= 65535:
        err_console.print(f"--console-port {console_port}: must be 0 to 65535")
        return 2
    web = None if no_console else console_port
    try:
        result = _run(opts, live=not json_output and console.is_terminal, console_port=web)
    except Exception as e:
        err_console.print(f"[red]demo failed:[/] {e}")
        return EXIT_PROBLEM
    if json_output:
        print(json.dumps(result.summary, indent=2, sort_keys=True))
    else:
        console.print(_summary_table(result, mode))
    bad = result.summary["cancelled_before_15s"] + result.summary["outside_window"]
    bad += result.summary["dnc_dialled"]
    if mode == "progressive":
        bad += result.summary["abandoned"]
    return EXIT_OK if bad == 0 else EXIT_PROBLEM


def _range(name: str, v: int, lo: int, hi: int) -> None:
    if not lo <= v <= hi:
        raise ValueError(f"--{name} must be between {lo} and {hi}")


def _run(opts: CentreOptions, *, live: bool, console_port: int | None) -> CentreResult:
    centre = LocalCentre(opts)
    web: list[str] = []  # the console's address line, once it is up
    if not live:
        last = [0.0]

        def progress(t: Tick) -> None:
            if t.elapsed_s - last[0] >= 15:
                last[0] = t.elapsed_s
                s = t.sim
                err_console.print(
                    f"{t.elapsed_s:4.0f} s: INVITEs {s['attempts']}, connected "
                    f"{s['connected']}, abandoned {s['abandoned']}",
                    highlight=False,
                )

        return asyncio.run(_with_console(centre, progress, console_port, web))
    with Live(console=console, refresh_per_second=2) as view:

        def show(t: Tick) -> None:
            view.update(_live_table(t, opts.abandon_cap, web[0] if web else None))

        return asyncio.run(_with_console(centre, show, console_port, web))


async def _with_console(
    centre: LocalCentre, on_tick: Callable[[Tick], None], port: int | None, web: list[str]
) -> CentreResult:
    """Run the centre with the web console beside it (unless ``port`` is None): a
    ``demo`` supervisor with a password made for this run, printed once, never fixed."""
    if port is None:
        return await centre.run(on_tick)
    try:
        from dialguard.console.app import ConsoleState
        from dialguard.console.auth import UserFile
        from dialguard.console.server import ConsoleServer
    except ImportError as e:  # installed without the console extra: the demo runs on
        err_console.print(
            f"web console not started ({e}): pip install 'dialguard[console]'", highlight=False
        )
        return await centre.run(on_tick)

    servers: list[ConsoleServer] = []

    async def start_console() -> None:
        users = UserFile(centre.workdir / "console-users.json")
        password = secrets.token_urlsafe(12)
        users.add("demo", "supervisor", password)
        server = ConsoleServer(ConsoleState(centre.engine_config(), users), port=port)
        servers.append(server)
        url = await server.start()
        web.append(f"{url}  user demo, password {password} (this run only)")
        err_console.print(f"web console: {web[0]}", highlight=False)

    try:
        return await centre.run(on_tick, on_started=start_console)
    finally:
        for server in servers:
            await server.stop()
