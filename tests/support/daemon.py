"""Run `dialguard run` as a real subprocess against a LocalCentre's broker and simulator."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

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
    cfg = centre.engine_config()
    metrics = (
        f'enabled = true\nhost = "127.0.0.1"\nport = {metrics_port}'
        if metrics_port is not None
        else "enabled = false"
    )
    return f"""
[broker]
url = "{cfg.broker.url}"
topic_prefix = "{cfg.broker.topic_prefix}"
client_id = "{cfg.broker.client_id}"
[trunk]
host = "127.0.0.1"
port = {cfg.trunk.port}
agent_uri_template = "{cfg.trunk.agent_uri_template}"
[store]
path = "{cfg.store.path}"
[metrics]
{metrics}
[logging]
format = "json"
[engine]
campaigns_dir = "campaigns"
agents_file = "agents.toml"
shutdown_grace_s = 5
"""


def roster_toml(centre: LocalCentre) -> str:
    """The roster of ``centre``'s desktops (a daemon believes nobody else)."""
    return "".join(f'[[agent]]\nid = "{a.agent_id}"\n\n' for a in centre.agents)


def write_config(centre: LocalCentre, where: Path, *, metrics_port: int | None = None) -> Path:
    (where / "campaigns").mkdir(exist_ok=True)
    (where / "campaigns" / "demo.toml").write_text(CAMPAIGN_TOML)
    (where / "agents.toml").write_text(roster_toml(centre))
    config = where / "dialguard.toml"
    config.write_text(engine_toml(centre, metrics_port=metrics_port))
    return config


def start_daemon(
    config: Path, log: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """``env``: extra variables for the daemon only (set in the test process, they
    would also override the EngineConfig the centre builds)."""
    return subprocess.Popen(
        [sys.executable, "-m", "dialguard", "run", "--config", str(config)],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        env={**os.environ, "DIALGUARD_ENGINE__USE_UVLOOP": "false", **(env or {})},
    )


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
