"""`dialguard sim-trunk`: run the SIP trunk simulator until Ctrl-C / SIGTERM.

Stands in for a carrier in the demo, in Docker and in a developer's loop: point the
engine's trunk at it and every call meets a simulated callee. On exit it prints what a
regulator would look at (abandoned calls, ring time before CANCEL, answer-to-agent).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path

from rich.table import Table

from dialguard.cli._common import EXIT_BAD_INPUT, EXIT_OK, EXIT_UNREACHABLE, console, err_console
from dialguard.logs import configure_logging
from dialguard.sip.simulator import Profile, ProfileError, SimTrunk, Summary, load_profile

KEEP_RECORDS = 10_000
"""Records held in memory by a long-running sim-trunk (the summary counts every call;
``--records`` writes every call)."""


def sim_trunk(
    *,
    listen: str = "127.0.0.1:5070",
    profile: str = "S1",
    seed: int = 0,
    records: Path | None = None,
    speedup: float = 1.0,
    advertise: str | None = None,
    agents: list[str] | None = None,
    duration: float | None = None,
    log_level: str = "warning",
) -> int:
    """Run a simulated trunk: a population of callees on a UDP port.

    Parameters
    ----------
    listen
        HOST:PORT to listen on (UDP). Port 0 picks a free port (printed at start).
    profile
        S1, S2, S3 (docs/design.md workloads) or a TOML profile file (see docs/simulator.md).
    seed
        Random seed: the same seed gives every number the same outcomes.
    records
        Write one JSON line per finished call to this file.
    speedup
        Divide talk times by this (the demo); ring times are never shortened.
    advertise
        Address to put in Contact and SDP when listening on 0.0.0.0.
    agents
        Agents whose REFER succeeds when the profile says ``agents = "available"``.
    duration
        Stop by itself after this many seconds (default: run until Ctrl-C / SIGTERM).
    log_level
        debug, info, warning or error (logs go to stderr, phone numbers masked).
    """
    host, sep, port_text = listen.rpartition(":")
    if not sep or not host or not port_text.isdigit() or int(port_text) > 65535:
        err_console.print(f"--listen: expected HOST:PORT, got {listen!r}", highlight=False)
        return EXIT_BAD_INPUT
    if not speedup > 0:
        err_console.print(f"--speedup: must be > 0, got {speedup}", highlight=False)
        return EXIT_BAD_INPUT
    if duration is not None and not duration > 0:
        err_console.print(f"--duration: must be > 0 seconds, got {duration}", highlight=False)
        return EXIT_BAD_INPUT
    try:
        prof = load_profile(profile)
    except ProfileError as e:
        err_console.print(f"--profile: {e}", highlight=False)
        return EXIT_BAD_INPUT
    configure_logging(log_level)
    trunk = SimTrunk(
        prof,
        host=host.strip("[]"),
        port=int(port_text),
        seed=seed,
        speedup=speedup,
        records_path=records,
        advertise=advertise,
        available_agents=agents or (),
        keep_records=KEEP_RECORDS,
    )
    try:
        asyncio.run(_serve(trunk, prof, duration))
    except OSError as e:
        err_console.print(f"sim-trunk: {e}", highlight=False)
        return EXIT_UNREACHABLE
    _print_summary(trunk.summary())
    return EXIT_OK


async def _serve(trunk: SimTrunk, profile: Profile, duration: float | None) -> None:
    await trunk.start()
    console.print(
        f"sim-trunk listening on {trunk.host}:{trunk.port} (udp), profile {profile.name}, "
        f"seed {trunk.seed}; Ctrl-C to stop",
        highlight=False,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # not on Windows
            loop.add_signal_handler(sig, stop.set)
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), duration)
    finally:
        await trunk.stop()


def _print_summary(s: Summary) -> None:
    table = Table(title="sim-trunk summary", show_header=False)
    for key, value in s.as_dict().items():
        shown = "-" if value is None else f"{value:.3f}" if isinstance(value, float) else value
        table.add_row(key, str(shown))
    console.print(table)
