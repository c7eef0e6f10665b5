"""What the daemon benches share: a LocalCentre (broker, SIP simulator, desktops) in
this process, and `dialguard run` as a real subprocess configured to join it."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import subprocess
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from dialguard.demo.broker import free_loopback_port
from dialguard.demo.centre import EXAMPLE_MESSAGE, LocalCentre
from dialguard.demo.daemon import engine_toml, roster_toml
from dialguard.sip.simulator.records import CallRecord


def write_config(
    centre: LocalCentre, work: Path, mode: str, *, metrics_port: int | None = None
) -> Path:
    """Engine and campaign files for a daemon that joins ``centre``; the engine file."""
    sip_port = free_loopback_port()  # fixed across restarts: answers to calls placed
    # before a kill reach the next daemon, which ends them (docs/operator.md)
    campaigns = work / "campaigns"
    campaigns.mkdir(exist_ok=True)
    (campaigns / "demo.toml").write_text(
        f"""
id = "demo"
name = "Bench"
caller_id = "+12025550123"
information_message = "{EXAMPLE_MESSAGE}"
[pacing]
mode = "{mode}"
ring_timeout_s = 20
[calling_window]
regime = "none"
"""
    )
    # the daemon believes only agents on its roster: the centre's desktops
    roster = work / "agents.toml"
    roster.write_text(roster_toml(centre))
    config = work / "dialguard.toml"
    config.write_text(
        engine_toml(
            centre,
            campaigns_dir=campaigns,
            agents_file=roster,
            metrics_port=metrics_port,
            local_port=sip_port,
        )
    )
    return config


async def until(pred: Callable[[], object], within: float) -> bool:
    """Poll ``pred`` every 0.1 s; False if it did not hold within ``within`` seconds."""
    deadline = time.monotonic() + within
    while not pred():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.1)
    return True


async def start_campaign(
    centre: LocalCentre, proc: subprocess.Popen[bytes], log: Path, within_s: float = 30.0
) -> None:
    """Start the campaign over MQTT, retrying while the daemon comes up."""
    deadline = time.monotonic() + within_s
    while True:
        try:
            await centre.control("start")
            return
        except (TimeoutError, OSError, RuntimeError):
            if proc.poll() is not None:
                tail = log.read_bytes()[-2000:].decode(errors="replace")  # noqa: ASYNC240
                raise SystemExit(f"the daemon exited {proc.returncode}:\n{tail}") from None
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


def overlapping(records: list[CallRecord]) -> int:
    """Numbers with two calls on the wire at once (from the simulator's own clock)."""
    by_number: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for r in records:
        if not r.invite_wall:
            continue
        start = dt.datetime.fromisoformat(r.invite_wall).timestamp()
        by_number[r.number].append((start, start + (r.end_s or 0.0)))
    bad = 0
    for spans in by_number.values():
        spans.sort()
        if any(b[0] < a[1] for a, b in itertools.pairwise(spans)):
            bad += 1
    return bad
