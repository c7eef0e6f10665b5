"""`dialguard agents simulate`: the simulated desktops as a command (issue 12 item 4).
They sign in ready on the daemon's broker and prefix (from --config), and log off —
``offline``, retained — on SIGTERM, as `docker stop` and systemd send it."""

from __future__ import annotations

import asyncio
import json
import secrets
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from dialguard.config import BrokerConfig
from dialguard.mqtt.client import make_client


async def _states(broker: BrokerConfig, until: set[str], within: float) -> dict[str, str]:
    """agent → last state seen on {prefix}/agents/+/state, until every state in ``until``
    has been seen for every agent (or ``within`` s pass)."""
    seen: dict[str, str] = {}
    async with make_client(broker, client_id=None) as client:
        await client.subscribe(f"{broker.topic_prefix}/agents/+/state", qos=1)
        async with asyncio.timeout(within):
            async for m in client.messages:
                if not m.payload:
                    continue
                assert isinstance(m.payload, bytes)
                agent = str(m.topic).split("/")[-2]
                seen[agent] = json.loads(m.payload)["state"]
                if len(seen) == 2 and set(seen.values()) <= until:
                    return seen
    return seen


@pytest.mark.broker
async def test_agents_sign_in_ready_and_log_off_on_sigterm(broker_url: str, tmp_path: Path) -> None:
    prefix = f"dgtest-{secrets.token_hex(4)}"
    config = tmp_path / "dialguard.toml"
    config.write_text(
        f'[broker]\nurl = "{broker_url}"\ntopic_prefix = "{prefix}"\n[logging]\nformat = "json"\n'
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "dialguard", "agents", "simulate", "--count", "2",
        "--config", str(config),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    broker = BrokerConfig(url=broker_url, topic_prefix=prefix)
    try:
        ready = await _states(broker, {"ready"}, 20)
        assert ready == {"agent-001": "ready", "agent-002": "ready"}
    finally:
        proc.send_signal(signal.SIGTERM)
        raw_out, raw_err = await asyncio.wait_for(proc.communicate(), 20)
    out, err = raw_out.decode(), raw_err.decode()
    assert proc.returncode == 0, err
    assert "2 simulated agents (agent-001 … agent-002, group default)" in out
    assert "agents logged off" in out
    gone = await _states(broker, {"offline"}, 10)
    assert gone == {"agent-001": "offline", "agent-002": "offline"}
    async with make_client(broker, client_id=None) as client:  # leave no retained state
        for agent in gone:
            await client.publish(f"{prefix}/agents/{agent}/state", b"", qos=1, retain=True)


def test_bad_count_exits_2(tmp_path: Path) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "dialguard", "agents", "simulate", "--count", "0",
         "--config", str(tmp_path / "none.toml")],
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip
    assert r.returncode == 2, r.stderr


@pytest.mark.broker
def test_seconds_logs_them_off_by_themselves(broker_url: str, tmp_path: Path) -> None:
    config = tmp_path / "dialguard.toml"
    config.write_text(
        f'[broker]\nurl = "{broker_url}"\ntopic_prefix = "dgtest-{secrets.token_hex(4)}"\n'
    )
    r = subprocess.run(
        [sys.executable, "-m", "dialguard", "agents", "simulate", "--count", "1",
         "--seconds", "1.5", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "agents logged off after 0 call(s)" in r.stdout
