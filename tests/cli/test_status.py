"""`dialguard status`: what the daemon believes, read from its retained snapshot on a real
broker — and a clear "daemon not running or not connected" (exit 3 with --once) when
there is no snapshot, the last one is stale, or it is the daemon's last will."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from rich.console import Console

from dialguard.cli import app
from dialguard.cli.status import STALE_AFTER_S, judge, render
from dialguard.config import BrokerConfig
from dialguard.demo.centre import LocalCentre
from dialguard.logs import configure_logging
from dialguard.mqtt.client import make_client
from dialguard.mqtt.contract import (
    AgentStatus,
    BlockReason,
    CampaignStatus,
    EngineStatus,
    Topics,
    encode,
)
from tests.cli.test_campaign import _centre, arun, engine_toml, run
from tests.support.mosquitto import Mosquitto

NOW = 1_800_000_000.0


@pytest.fixture(autouse=True)
def _keep_logging_config() -> Iterator[None]:
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


@pytest.fixture
async def centre(broker_url: str, tmp_path: Path) -> AsyncIterator[LocalCentre]:
    """A running engine with two agents and campaign "demo" paused, nobody to call. Its
    logs go to a file, so stdout holds only what the command printed."""
    with (tmp_path / "engine.log").open("w") as log:
        configure_logging("info", "json", stream=log)
        async for c in _centre(broker_url, tmp_path):
            yield c


def snapshot(**kw: Any) -> EngineStatus:
    base: dict[str, Any] = {
        "engine_id": "e1",
        "ts": NOW,
        "broker_connected": True,
        "agents_synced": True,
        "campaigns": [CampaignStatus(id="demo", state="running", mode="progressive")],
        "agents_by_state": {"ready": 3},
    }
    base.update(kw)
    return EngineStatus(**base)


async def status_json(config: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, Any]:
    code = await arun("status", "--once", "--json", "--config", config)
    return code, json.loads(capsys.readouterr().out)


async def until_live(config: str, capsys: pytest.CaptureFixture[str], within: float) -> Any:
    """The engine publishes its first snapshot a second after it starts."""
    deadline = time.monotonic() + within
    while True:
        code, data = await status_json(config, capsys)
        if code == 0 or time.monotonic() > deadline:
            assert code == 0, data
            return data
        await asyncio.sleep(0.3)


# --- judging a snapshot (pure) --------------------------------------------------------


def test_fresh_snapshot_is_live() -> None:
    v = judge(snapshot(ts=NOW - 1), NOW)
    assert v.live and v.health == "live" and v.age_s == pytest.approx(1)
    assert "up, agent state synchronised" in v.message


def test_no_snapshot_means_not_running() -> None:
    v = judge(None, NOW, where="p/engine/status at mqtt://h:1")
    assert not v.live and v.health == "none"
    assert v.message == (
        "daemon not running or not connected: no engine status on p/engine/status at mqtt://h:1"
    )


def test_snapshot_older_than_the_limit_is_stale() -> None:
    assert judge(snapshot(ts=NOW - STALE_AFTER_S + 0.5), NOW).live
    v = judge(snapshot(ts=NOW - 600), NOW)
    assert v.health == "stale" and "daemon not running or not connected" in v.message
    assert "10 min old" in v.message
    assert judge(snapshot(ts=NOW - 3), NOW, stale_after_s=2).health == "stale"


def test_last_will_means_not_connected_however_fresh() -> None:
    v = judge(snapshot(ts=NOW - 3600, broker_connected=False, agents_synced=False), NOW)
    assert v.health == "disconnected" and "left the broker" in v.message
    assert "old" not in v.message  # a will's ts is its session's start: no age claimed


def test_unsynced_engine_is_live_but_says_it_does_not_dial() -> None:
    v = judge(snapshot(ts=NOW, agents_synced=False), NOW)
    assert v.live and "no dialling until it is (fail closed)" in v.message


def test_a_store_refusing_writes_and_a_paused_trunk_are_said() -> None:
    v = judge(snapshot(ts=NOW, store_writes_ok=False), NOW)
    assert v.live and "store refuses writes" in v.message
    v = judge(snapshot(ts=NOW, trunk="open", trunk_reason="503 Retry-After 30 s"), NOW)
    assert v.live and "trunk refuses calls (503 Retry-After 30 s)" in v.message


def test_snapshot_from_the_future_is_not_trusted() -> None:
    v = judge(snapshot(ts=NOW + 60), NOW)
    assert v.health == "stale" and "ahead of this machine's" in v.message


# --- against a real engine ------------------------------------------------------------


@pytest.mark.broker
async def test_once_shows_the_running_engines_campaigns_and_agents(
    centre: LocalCentre, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(engine_toml(centre, tmp_path / "dialguard.toml"))
    data = await until_live(config, capsys, within=8)
    assert data["health"] == "live" and 0 <= data["age_s"] < STALE_AFTER_S
    st = data["status"]
    assert st["engine_id"] == centre.prefix and st["agents_synced"] is True
    assert [(c["id"], c["state"], c["mode"]) for c in st["campaigns"]] == [
        ("demo", "paused", "progressive")
    ]
    assert st["agents_by_state"]["ready"] == 2
    assert sorted(a["agent"] for a in st["agents"]) == ["agent-001", "agent-002"]

    assert await arun("status", "--once", "--config", config) == 0
    out = capsys.readouterr().out
    assert f"engine {centre.prefix} up, agent state synchronised" in out
    assert "demo" in out and "paused" in out and "agent-001" in out
    assert "agents: 2 ready · 0 reserved · 0 busy" in out

    # a change made by a supervisor shows up in the next snapshots
    assert await arun("campaign", "start", "demo", "--config", config) == 0
    assert "state: paused → active" in capsys.readouterr().out
    deadline = time.monotonic() + 5
    while True:
        _, data = await status_json(config, capsys)
        if data["status"]["campaigns"][0]["state"] == "running":
            break
        assert time.monotonic() < deadline, data
        await asyncio.sleep(0.3)


@pytest.mark.broker
async def test_live_view_runs_for_the_time_given(
    centre: LocalCentre, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(engine_toml(centre, tmp_path / "dialguard.toml"))
    await until_live(config, capsys, within=8)
    began = time.monotonic()
    assert await arun("status", "--seconds", "1.5", "--config", config) == 0
    assert 1.5 <= time.monotonic() - began < 5
    out = capsys.readouterr().out
    assert "agent state synchronised" in out and "demo" in out


async def _publish_retained(broker_url: str, prefix: str, payload: bytes) -> None:
    cfg = BrokerConfig(url=broker_url, topic_prefix=prefix)
    async with make_client(cfg, client_id=None) as client:
        await client.publish(Topics(prefix).engine_status, payload, qos=1, retain=True)


def _config(tmp_path: Path, broker_url: str, prefix: str) -> str:
    path = tmp_path / "c.toml"
    path.write_text(f'[broker]\nurl = "{broker_url}"\ntopic_prefix = "{prefix}"\n')
    return str(path)


@pytest.mark.broker
@pytest.mark.parametrize(
    ("age_s", "connected", "message"),
    [
        (60.0, True, "last status is 60 s old"),
        (0.0, False, "left the broker"),
    ],
)
async def test_stale_snapshot_or_last_will_exits_3(
    broker_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    age_s: float,
    connected: bool,
    message: str,
) -> None:
    prefix = f"dgstatus-{time.time_ns()}"
    old = snapshot(ts=time.time() - age_s, broker_connected=connected, engine_id="gone")
    await _publish_retained(broker_url, prefix, encode(old))
    try:
        code = await arun("status", "--once", "--config", _config(tmp_path, broker_url, prefix))
    finally:
        await _publish_retained(broker_url, prefix, b"")  # leave the broker as found
    out = capsys.readouterr().out
    assert code == 3
    assert "daemon not running or not connected" in out and message in out
    assert "last known state:" in out and "demo" in out  # the last word is still shown


@pytest.mark.broker
async def test_a_last_will_with_nothing_in_it_shows_no_empty_tables(
    broker_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The engine's will is written when its session starts: no campaigns, no agents."""
    prefix = f"dgstatus-{time.time_ns()}"
    will = EngineStatus(
        engine_id="gone", ts=time.time() - 600, broker_connected=False, agents_synced=False
    )
    await _publish_retained(broker_url, prefix, encode(will))
    try:
        code = await arun("status", "--once", "--config", _config(tmp_path, broker_url, prefix))
    finally:
        await _publish_retained(broker_url, prefix, b"")
    out = " ".join(capsys.readouterr().out.split())
    assert code == 3
    assert out == (
        "daemon not running or not connected: engine gone left the broker "
        "(its connection dropped; the broker published its last will)"
    )


@pytest.mark.broker
def test_no_engine_ever_exits_3(
    broker_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prefix = f"nobody-{time.time_ns()}"
    code = run("status", "--once", "--config", _config(tmp_path, broker_url, prefix))
    assert code == 3
    out = " ".join(capsys.readouterr().out.split())
    assert f"daemon not running or not connected: no engine status on {prefix}/engine/status" in out


@pytest.mark.broker
async def test_live_view_says_when_the_broker_goes_away(
    private_broker: Mosquitto, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, private_broker.url, f"p{time.time_ns()}")
    view = asyncio.create_task(arun("status", "--seconds", "3", "--config", config))
    await asyncio.sleep(1.0)
    private_broker.stop()
    assert await asyncio.wait_for(view, 10) == 0  # the view leaves on time all the same
    out = " ".join(capsys.readouterr().out.split())
    assert f"broker {private_broker.url} unreachable" in out and "retrying" in out
    assert "daemon not running or not connected: no engine status" in out


def test_broker_unreachable_exits_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = run("status", "--once", "--config", _config(tmp_path, f"mqtt://127.0.0.1:{port}", "p"))
    assert code == 3
    assert "cannot reach the broker" in capsys.readouterr().err


def test_bad_options_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(tmp_path, "mqtt://127.0.0.1:1", "p")
    assert run("status", "--seconds", "0", "--config", config) == 2
    assert "must be > 0" in capsys.readouterr().err


def test_help_says_what_it_reads(capsys: pytest.CaptureFixture[str]) -> None:
    app(["status", "--help"], result_action="return_value")
    out = " ".join(capsys.readouterr().out.split())
    assert "{prefix}/engine/status" in out
    assert "daemon not running or not connected" in out


def test_a_running_campaign_that_dials_nothing_says_why() -> None:
    """issue 12 item 2: `running … dials 0` with nothing else was all a supervisor saw."""
    blocked = CampaignStatus(
        id="spring",
        state="running",
        mode="progressive",
        blocked=[
            BlockReason(code="dnc_list_missing", message="the TPS list was never imported"),
        ],
    )
    status = snapshot(ts=NOW).model_copy(update={"campaigns": [blocked]})
    console = Console(width=100, record=True)
    console.print(render(status, judge(status, NOW)))
    text = console.export_text()
    assert "blocked, progressive" in text
    assert "spring blocked: the TPS list was never imported" in text


def test_reserved_agents_time_in_state_dial_rate_and_contacts_left() -> None:
    """issue 12 item 5: agents held for ringing calls were shown `ready`; the view had no
    dial rate, contacts left, time in state or call per agent."""
    campaign = CampaignStatus(
        id="spring", state="running", mode="progressive", dials=9, in_flight=1,
        dials_last_min=4, contacts_left=12,
    )  # fmt: skip
    agents = [
        AgentStatus(agent="agent-001", state="ready", group="default", stale=False,
                    reserved=True, campaign="spring", since=NOW - 7),
        AgentStatus(agent="agent-002", state="busy", group="default", stale=False,
                    campaign="spring", since=NOW - 150, call="+*********123"),
    ]  # fmt: skip
    status = snapshot(ts=NOW).model_copy(
        update={
            "campaigns": [campaign],
            "agents": agents,
            "agents_by_state": {"ready": 1, "busy": 1},
        }
    )
    console = Console(width=80, record=True)
    console.print(render(status, judge(status, NOW)))
    text = console.export_text()
    assert "agents: 0 ready · 1 reserved · 1 busy" in text
    assert "spring: 4 dials in the last minute · 12 contacts left to call" in text
    row1 = next(line for line in text.splitlines() if "agent-001" in line)
    assert "reserved" in row1 and "7 s" in row1 and "held for a call that is ringing" in row1
    row2 = next(line for line in text.splitlines() if "agent-002" in line)
    assert "busy" in row2 and "2 min" in row2 and "spring" in row2
    assert "on call +*********123" in row2  # the call per agent, masked by the engine
