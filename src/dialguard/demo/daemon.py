"""A real `dialguard run` joining a :class:`~dialguard.demo.centre.LocalCentre`: the
engine file and roster it reads, and the subprocess. Shared by the end-to-end tests
and the daemon benches (bench/kill.py, bench/soak.py), so both run the daemon the same
way; the centre's own in-process engine does not need them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from dialguard.demo.centre import LocalCentre


def engine_toml(
    centre: LocalCentre,
    *,
    campaigns_dir: Path | str,
    agents_file: Path | str,
    metrics_port: int | None = None,
    local_port: int | None = None,
) -> str:
    """The engine config for a daemon on ``centre``'s broker, prefix, trunk and store.

    ``local_port``: a fixed SIP port (kept across restarts, so answers to calls a killed
    daemon placed reach the next one); None lets the daemon pick one."""
    cfg = centre.engine_config()
    metrics = (
        f'enabled = true\nhost = "127.0.0.1"\nport = {metrics_port}'
        if metrics_port is not None
        else "enabled = false"
    )
    sip_port = "" if local_port is None else f"local_port = {local_port}\n"
    return f"""
[broker]
url = "{cfg.broker.url}"
topic_prefix = "{cfg.broker.topic_prefix}"
client_id = "{cfg.broker.client_id}"
[trunk]
host = "127.0.0.1"
port = {cfg.trunk.port}
agent_uri_template = "{cfg.trunk.agent_uri_template}"
{sip_port}[store]
path = "{cfg.store.path}"
[metrics]
{metrics}
[logging]
format = "json"
[engine]
campaigns_dir = "{campaigns_dir}"
agents_file = "{agents_file}"
shutdown_grace_s = 5
"""


def roster_toml(centre: LocalCentre) -> str:
    """The roster of ``centre``'s desktops (a daemon believes nobody else)."""
    return "".join(f'[[agent]]\nid = "{a.agent_id}"\n\n' for a in centre.agents)


def start_daemon(
    config: Path, log: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """`dialguard run --config config`, output appended to ``log``, on the standard loop.

    ``env``: extra variables for the daemon only (set in the caller's process, they
    would also override the EngineConfig the centre builds)."""
    return subprocess.Popen(
        [sys.executable, "-m", "dialguard", "run", "--config", str(config)],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        env={**os.environ, "DIALGUARD_ENGINE__USE_UVLOOP": "false", **(env or {})},
    )
