"""Finding or starting a broker for the demo: external, private mosquitto, embedded."""

from __future__ import annotations

import asyncio
import contextlib
import random
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from dialguard.config import BrokerConfig, Roster
from dialguard.demo import broker as broker_mod
from dialguard.demo.broker import (
    NoBrokerError,
    find_or_start_broker,
    free_loopback_port,
    mqtt_answers,
)
from dialguard.demo.desktops import AgentBehaviour, SimulatedAgent
from dialguard.engine.agents import AgentRegistry
from dialguard.engine.mqtt import BrokerLink
from dialguard.mqtt.client import Backoff
from dialguard.mqtt.contract import Topics

pytestmark = pytest.mark.broker


async def eventually(cond: object, within: float = 5.0) -> None:
    assert callable(cond)
    deadline = time.monotonic() + within
    while not cond():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


@pytest.fixture
async def not_mqtt_port() -> AsyncIterator[int]:
    """A loopback port where something that is not an MQTT broker listens."""

    async def reject(_r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(b"HTTP/1.0 400 Bad Request\r\n\r\n")
        await w.drain()
        w.close()

    server = await asyncio.start_server(reject, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


async def test_an_answering_broker_is_used_and_not_stopped(broker_url: str, tmp_path: Path) -> None:
    host, port = broker_url.removeprefix("mqtt://").rsplit(":", 1)
    handle = await find_or_start_broker(host, int(port), workdir=tmp_path)
    assert handle.kind == "external" and handle.url == broker_url
    await handle.close()
    assert await mqtt_answers(host, int(port))  # still there
    assert not (tmp_path / "mosquitto.conf").exists()


async def test_an_open_port_that_is_not_mqtt_does_not_count(not_mqtt_port: int) -> None:
    assert not await mqtt_answers("127.0.0.1", not_mqtt_port, timeout_s=0.5)


async def test_private_mosquitto_started_and_stopped(tmp_path: Path) -> None:
    if broker_mod.mosquitto_path() is None:
        pytest.skip("mosquitto is not installed")
    handle = await find_or_start_broker("127.0.0.1", free_loopback_port(), workdir=tmp_path)
    try:
        assert handle.kind == "mosquitto"
        assert handle.host == "127.0.0.1"
        assert await mqtt_answers(handle.host, handle.port)
        assert "127.0.0.1" in (tmp_path / "mosquitto.conf").read_text()
    finally:
        await handle.close()
    assert not await mqtt_answers(handle.host, handle.port, timeout_s=0.5)
    await handle.close()  # twice is harmless


async def test_refuses_clearly_when_nothing_can_be_had(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(broker_mod, "mosquitto_path", lambda: None)
    with pytest.raises(NoBrokerError, match="apt-get install mosquitto"):
        await find_or_start_broker(
            "127.0.0.1", free_loopback_port(), workdir=tmp_path, prefer="mosquitto"
        )
    monkeypatch.setitem(sys.modules, "amqtt.broker", None)  # as if amqtt were not installed
    with pytest.raises(NoBrokerError, match=r"pip install 'dialguard\[demo\]'"):
        await find_or_start_broker("127.0.0.1", free_loopback_port(), workdir=tmp_path)


async def test_embedded_broker_carries_the_whole_agent_contract(tmp_path: Path) -> None:
    """The engine's link and a simulated desktop work unchanged on amqtt (MQTT 3.1.1):
    resync via the sync nonce, retained state, and the will on a dropped socket."""
    pytest.importorskip("amqtt.broker", reason="amqtt (optional) is not installed")
    handle = await find_or_start_broker(
        "127.0.0.1", free_loopback_port(), workdir=tmp_path, prefer="embedded"
    )
    assert handle.kind == "embedded"
    topics = Topics(f"dgtest-{uuid.uuid4().hex[:8]}")
    cfg = BrokerConfig(url=handle.url, client_id="engine-emb", topic_prefix=topics.prefix)
    link = BrokerLink(
        cfg,
        AgentRegistry(30, roster=Roster.of(["e1"])),
        backoff=Backoff(0.05, 0.3),
        rng=random.Random(2),
        tick_s=0.05,
    )
    agent = SimulatedAgent(
        "e1", handle.url, topics=topics, behaviour=AgentBehaviour(heartbeat_s=30)
    )
    agent_task = asyncio.create_task(agent.run())
    link_task = None
    try:
        await asyncio.wait_for(agent.connected.wait(), 5)
        link_task = asyncio.create_task(link.run())  # joins after: state must come retained
        assert await link.wait_synced(5.0)
        await eventually(lambda: link.registry.available(link.now()) == ["e1"])
        agent.crash()
        await eventually(lambda: link.registry.effective_state("e1") == "offline")
    finally:
        for t in (agent_task, link_task):
            if t is not None:
                t.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await t
        await handle.close()
    assert not await mqtt_answers(handle.host, handle.port, timeout_s=0.5)
