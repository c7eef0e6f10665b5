"""Run `dialguard run` as a real subprocess against a LocalCentre's broker and simulator."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from dialguard.demo import daemon
from dialguard.demo.centre import LocalCentre

CAMPAIGN_TOML = """
id = "demo"
name = "Daemon test"
caller_id = "+12025550123"
[pacing]
mode = "progressive"
ring_timeout_s = 20
[calling_window]
regime = "none"
"""


def engine_toml(centre: LocalCentre, *, metrics_port: int | None = None) -> str:
    """The engine config file for a daemon that joins ``centre``'s broker and trunk."""
    return daemon.engine_toml(
        centre, campaigns_dir="campaigns", agents_file="agents.toml", metrics_port=metrics_port
    )


def write_config(centre: LocalCentre, where: Path, *, metrics_port: int | None = None) -> Path:
    (where / "campaigns").mkdir(exist_ok=True)
    (where / "campaigns" / "demo.toml").write_text(CAMPAIGN_TOML)
    (where / "agents.toml").write_text(daemon.roster_toml(centre))
    config = where / "dialguard.toml"
    config.write_text(engine_toml(centre, metrics_port=metrics_port))
    return config


start_daemon = daemon.start_daemon


async def until(pred: Callable[[], object], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within} s waiting for {what}")
        await asyncio.sleep(0.1)


async def retry(fn: Callable[[], Awaitable[object]], within: float) -> None:
    """Call ``fn`` until it stops raising TimeoutError/OSError (the daemon is starting)."""
    deadline = time.monotonic() + within
    while True:
        try:
            await fn()
            return
        except (TimeoutError, OSError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)
