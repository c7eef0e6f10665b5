"""Simulated agent desktops on a real broker: what they put on the wire."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator

import aiomqtt
import pytest

from dialguard.demo.desktops import AgentBehaviour, SimulatedAgent, main, make_agents
from dialguard.mqtt.contract import (
    AgentCallMessage,
    AgentStateMessage,
    ContactCard,
    Disposition,
    Topics,
    encode,
    parse_payload,
)

pytestmark = pytest.mark.broker


def host_port(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("mqtt://").rsplit(":", 1)
    return host, int(port)


@pytest.fixture
async def topics(broker_url: str) -> AsyncIterator[Topics]:
    t = Topics(f"dgtest-{uuid.uuid4().hex[:10]}")
    yield t
    host, port = host_port(broker_url)
    with contextlib.suppress(aiomqtt.MqttError):
        async with aiomqtt.Client(host, port, timeout=3) as c:
            await c.subscribe(f"{t.prefix}/#")
            seen: set[str] = set()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.3):
                    async for m in c.messages:
                        if m.retain and m.payload:
                            seen.add(m.topic.value)
            for topic in seen:
                await c.publish(topic, b"", qos=1, retain=True)


class Wire:
    """Everything published under the test's agent topics, parsed."""

    def __init__(self, client: aiomqtt.Client, topics: Topics) -> None:
        self.client = client
        self.topics = topics
        self.states: list[AgentStateMessage] = []
        self.dispositions: list[Disposition] = []
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for m in self.client.messages:
            match = self.topics.parse(m.topic.value)
            if match is None or not isinstance(m.payload, bytes) or not m.payload:
                continue
            if match.kind == "agent_state":
                self.states.append(parse_payload(AgentStateMessage, m.topic.value, m.payload))
            elif match.kind == "agent_disposition":
                self.dispositions.append(parse_payload(Disposition, m.topic.value, m.payload))

    async def until(self, cond: object, within: float = 5.0) -> None:
        assert callable(cond)
        deadline = time.monotonic() + within
        while not cond():
            assert time.monotonic() < deadline, f"not in time; states={self.states}"
            await asyncio.sleep(0.02)


@pytest.fixture
async def wire(broker_url: str, topics: Topics) -> AsyncIterator[Wire]:
    host, port = host_port(broker_url)
    async with aiomqtt.Client(host, port, timeout=3) as c:
        await c.subscribe(f"{topics.prefix}/agents/#", qos=1)
        w = Wire(c, topics)
        yield w
        w.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await w.task


@contextlib.asynccontextmanager
async def running(agent: SimulatedAgent) -> AsyncIterator[SimulatedAgent]:
    task = asyncio.create_task(agent.run())
    try:
        await asyncio.wait_for(agent.connected.wait(), 5)
        yield agent
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_heartbeat_repeats_state_and_stop_publishes_offline(
    broker_url: str, topics: Topics, wire: Wire
) -> None:
    agent = SimulatedAgent(
        "h1", broker_url, topics=topics, behaviour=AgentBehaviour(heartbeat_s=0.1)
    )
    async with running(agent):
        await wire.until(lambda: len(wire.states) >= 3)
        first = wire.states[0]
        assert first.state == "ready" and first.agent == "h1" and first.group == "default"
        # heartbeats: same session and seq, fresh ts
        assert {(s.session, s.seq, s.state) for s in wire.states[:3]} == {
            (first.session, first.seq, "ready")
        }
        assert wire.states[2].ts > first.ts
        await agent.stop()
        await wire.until(lambda: wire.states[-1].state == "offline")
        assert wire.states[-1].seq == first.seq + 1


async def test_paused_agent_ignores_offers(broker_url: str, topics: Topics, wire: Wire) -> None:
    agent = SimulatedAgent("p1", broker_url, topics=topics, initial_state="paused")
    async with running(agent):
        host, port = host_port(broker_url)
        async with aiomqtt.Client(host, port, timeout=3) as c:
            offer = AgentCallMessage(event="offer", call_id="z", campaign="c", ts=time.time())
            await c.publish(topics.agent_call("p1"), encode(offer), qos=1)
            await c.publish(topics.agent_call("p1"), b"garbage", qos=1)
        await wire.until(lambda: agent.rejected == 1)
        assert agent.calls == {} and agent.state == "paused"


async def test_agent_hangs_up_after_max_talk_and_sends_disposition(
    broker_url: str, topics: Topics, wire: Wire
) -> None:
    behaviour = AgentBehaviour(wrap_s=0.1, heartbeat_s=5, max_talk_s=0.2, disposition_code="sale")
    agent = SimulatedAgent("t1", broker_url, topics=topics, behaviour=behaviour)
    async with running(agent):
        host, port = host_port(broker_url)
        async with aiomqtt.Client(host, port, timeout=3) as c:
            card = ContactCard(number="+441632960123", name="Bo", custom={"ref": "9"})
            offer = AgentCallMessage(
                event="offer", call_id="k", campaign="c", ts=time.time(), contact=card
            )
            await c.publish(topics.agent_call("t1"), encode(offer), qos=1)
            await c.publish(topics.agent_call("t1"), encode(offer), qos=1)  # QoS 1 duplicate
        await wire.until(lambda: len(wire.dispositions) == 1)
        await wire.until(lambda: wire.states[-1].state == "ready")
        states = list(wire.states)
    assert [s.state for s in states] == ["ready", "busy", "wrap", "ready"]
    seqs = [s.seq for s in states]
    assert seqs == sorted(seqs) and len(set(seqs)) == 4
    d = wire.dispositions[0]
    assert (d.call_id, d.code, d.agent, d.campaign) == ("k", "sale", "t1", "c")
    assert agent.calls["k"].number == "+441632960123" and agent.calls["k"].ended_at is not None


def test_make_agents_names_and_logins() -> None:
    agents = make_agents(3, "mqtt://127.0.0.1:1", prefix="desk", password="pw", seed=1)
    assert [a.agent_id for a in agents] == ["desk-001", "desk-002", "desk-003"]
    assert [a.username for a in agents] == ["desk-001", "desk-002", "desk-003"]
    assert make_agents(1, "mqtt://127.0.0.1:1")[0].username is None
    assert len({a.session for a in agents}) == 3
    with pytest.raises(ValueError, match=r"outside 1\.\.1000"):
        make_agents(0, "mqtt://127.0.0.1:1")
    with pytest.raises(ValueError, match="must look like mqtt://"):
        SimulatedAgent("x", "http://127.0.0.1:1")
    with pytest.raises(ValueError, match="not a valid topic level"):
        SimulatedAgent("a/b", "mqtt://127.0.0.1:1")


def test_main_refuses_bad_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--broker", "tcp://nowhere", "--agents", "2"]) == 2
    assert "must look like mqtt://" in capsys.readouterr().err


async def test_cancelled_agent_logs_off_instead_of_staying_ready(
    broker_url: str, topics: Topics, wire: Wire
) -> None:
    """Ctrl-C or the demo ending cancels the agent: a clean DISCONNECT fires no will,
    so the agent must publish 'offline' itself or its retained 'ready' would linger."""
    agent = SimulatedAgent("c1", broker_url, topics=topics)
    task = asyncio.create_task(agent.run())
    await asyncio.wait_for(agent.connected.wait(), 5)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await wire.until(lambda: bool(wire.states) and wire.states[-1].state == "offline")
    host, port = host_port(broker_url)
    async with aiomqtt.Client(host, port, timeout=3) as c:
        await c.subscribe(topics.agent_state("c1"), qos=1)
        async with asyncio.timeout(3):
            m = await anext(aiter(c.messages))
    assert isinstance(m.payload, bytes) and m.retain
    assert parse_payload(AgentStateMessage, m.topic.value, m.payload).state == "offline"


async def test_same_agent_id_under_two_prefixes_does_not_collide(
    broker_url: str, topics: Topics
) -> None:
    """Two demos on one broker both have an agent-001: their MQTT client ids differ, so
    neither takes over the other's session (which would make both flap)."""
    other = Topics(topics.prefix + "-b")
    a = SimulatedAgent("agent-001", broker_url, topics=topics)
    b = SimulatedAgent("agent-001", broker_url, topics=other)
    assert a.client_id != b.client_id
    async with running(a), running(b):
        await asyncio.sleep(0.3)
        assert a.connected.is_set() and b.connected.is_set()
        assert a.seq == 1 and b.seq == 1  # connected once each: no takeover, no reconnect
    # clean up the second prefix's retained state too
    host, port = host_port(broker_url)
    async with aiomqtt.Client(host, port, timeout=3) as c:
        await c.publish(other.agent_state("agent-001"), b"", qos=1, retain=True)
