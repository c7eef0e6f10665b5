"""The engine's broker link against a real mosquitto: resync, will, bad payloads,
broker loss and return, supervisor requests. The supervisor's side of those requests
(dialguard.mqtt.client's send_request and read_status) is tested here too, against a
running link, since a reply needs an engine to answer."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiomqtt
import pytest
from structlog.testing import capture_logs

from dialguard.config import BrokerConfig, Roster
from dialguard.demo.desktops import AgentBehaviour, SimulatedAgent
from dialguard.engine.agents import AgentChange, AgentRegistry
from dialguard.engine.mqtt import BrokerLink, LinkHandlers
from dialguard.mqtt.client import Backoff, BrokerLinkDown, read_status, send_request
from dialguard.mqtt.contract import (
    AgentCallMessage,
    AgentStateMessage,
    ContactCard,
    ControlReply,
    ControlRequest,
    Disposition,
    EngineStatus,
    PacingChangeRequest,
    Topics,
    encode,
    parse_payload,
)
from tests.support.mosquitto import Mosquitto, free_port

pytestmark = pytest.mark.broker

ROSTER = Roster.of(["a1", "a2", "a3", "m1", "s1", "b1", "d1", "e1", "w1"])

FAST = Backoff(base_s=0.05, cap_s=0.3, min_s=0.02)


def host_port(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("mqtt://").rsplit(":", 1)
    return host, int(port)


async def eventually(cond: Callable[[], bool], within: float = 5.0, what: str = "") -> None:
    deadline = time.monotonic() + within
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within} s: {what}")
        await asyncio.sleep(0.02)


@pytest.fixture
async def topics(broker_url: str) -> AsyncIterator[Topics]:
    """A topic prefix of this test's own (tests share one broker); its retained
    messages are cleared afterwards."""
    prefix = f"dgtest-{uuid.uuid4().hex[:10]}"
    yield Topics(prefix)
    host, port = host_port(broker_url)
    with contextlib.suppress(aiomqtt.MqttError):
        async with aiomqtt.Client(host, port, timeout=3) as c:
            await c.subscribe(f"{prefix}/#")
            seen: set[str] = set()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.3):
                    async for m in c.messages:
                        if m.retain and m.payload:
                            seen.add(m.topic.value)
            for t in seen:
                await c.publish(t, b"", qos=1, retain=True)


@pytest.fixture
async def raw(broker_url: str) -> AsyncIterator[aiomqtt.Client]:
    host, port = host_port(broker_url)
    async with aiomqtt.Client(host, port, timeout=3) as c:
        yield c


class Running:
    """A BrokerLink running in a task, with the changes it emitted."""

    def __init__(self, link: BrokerLink) -> None:
        self.link = link
        self.changes: list[AgentChange] = []
        link.handlers.on_agent_changes.append(self.changes.extend)
        self.task = asyncio.create_task(link.run())

    async def close(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


@pytest.fixture
async def start_link(
    broker_url: str, topics: Topics
) -> AsyncIterator[Callable[..., Awaitable[Running]]]:
    running: list[Running] = []

    async def start(
        url: str | None = None, handlers: LinkHandlers | None = None, stale_after: float = 30.0
    ) -> Running:
        cfg = BrokerConfig(
            url=url or broker_url,
            client_id=f"engine-{uuid.uuid4().hex[:8]}",
            topic_prefix=topics.prefix,
            keepalive_s=5,
        )
        link = BrokerLink(
            cfg,
            AgentRegistry(stale_after, roster=ROSTER),
            handlers=handlers,
            backoff=FAST,
            rng=random.Random(1),
            tick_s=0.05,
        )
        r = Running(link)
        running.append(r)
        return r

    yield start
    for r in running:
        await r.close()


def state_msg(state: str, seq: int, *, ts: float | None = None, **extra: object) -> bytes:
    body = {"state": state, "seq": seq, "ts": ts or time.time(), "session": "s1", **extra}
    return json.dumps(body).encode()


async def test_resync_from_retained_state_before_dialling(
    start_link: Callable[..., Awaitable[Running]], raw: aiomqtt.Client, topics: Topics
) -> None:
    await raw.publish(topics.agent_state("a1"), state_msg("ready", 3), qos=1, retain=True)
    await raw.publish(topics.agent_state("a2"), state_msg("busy", 7), qos=1, retain=True)
    # A desktop that died long ago without a will left 'ready' behind: must not count.
    old = state_msg("ready", 1, ts=time.time() - 3600)
    await raw.publish(topics.agent_state("a3"), old, qos=1, retain=True)

    r = await start_link()
    assert not r.link.dialling_allowed  # nothing before the resync completes
    assert await r.link.wait_synced(5.0)
    reg = r.link.registry
    now = r.link.now()
    assert reg.available(now) == ["a1"]
    assert reg.effective_state("a2") == "busy"
    assert reg.effective_state("a3") == "offline" and reg.is_stale("a3")
    assert r.link.stats.resyncs == 1


async def test_will_is_delivered_when_an_agent_connection_drops(
    start_link: Callable[..., Awaitable[Running]], broker_url: str, topics: Topics
) -> None:
    r = await start_link()
    assert await r.link.wait_synced(5.0)
    agent = SimulatedAgent(
        "w1", broker_url, topics=topics, behaviour=AgentBehaviour(heartbeat_s=30)
    )
    task = asyncio.create_task(agent.run())
    try:
        await eventually(lambda: r.link.registry.available(r.link.now()) == ["w1"], what="ready")
        agent.crash()  # socket shut down, no DISCONNECT: the broker must send the will
        await eventually(lambda: r.link.registry.effective_state("w1") == "offline", what="will")
        assert r.changes[-1] == AgentChange("w1", "default", "ready", "offline", "message")
        assert not r.link.registry.is_stale("w1")  # offline by will, not by silence
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_silent_agent_goes_stale(
    start_link: Callable[..., Awaitable[Running]], raw: aiomqtt.Client, topics: Topics
) -> None:
    r = await start_link(stale_after=1.0)
    assert await r.link.wait_synced(5.0)
    await raw.publish(topics.agent_state("s1"), state_msg("ready", 1), qos=1)
    await eventually(lambda: r.link.registry.available(r.link.now()) == ["s1"])
    await eventually(lambda: r.link.registry.is_stale("s1"), within=4.0, what="stale")
    assert any(c.reason == "stale" and c.agent == "s1" for c in r.changes)
    assert r.link.registry.available(r.link.now()) == []


async def test_malformed_payloads_are_logged_and_dropped(
    start_link: Callable[..., Awaitable[Running]], raw: aiomqtt.Client, topics: Topics
) -> None:
    r = await start_link()
    assert await r.link.wait_synced(5.0)
    bad = [
        (topics.agent_state("m1"), b"{not json"),
        (topics.agent_state("m1"), state_msg("dancing", 1)),
        (topics.agent_state("m1"), b'{"state": "ready", "seq": "1", "ts": 1800000000}'),
        (topics.agent_state("m1"), state_msg("ready", 2, agent="someone-else")),
        (topics.campaign_control("c1"), b'{"action": "start"}'),
        (topics.agent_disposition("m1"), b"[]"),
    ]
    with capture_logs() as logs:
        for topic, payload in bad:
            await raw.publish(topic, payload, qos=1)
        await raw.publish(topics.agent_state("m1"), state_msg("ready", 5), qos=1)
        await eventually(lambda: r.link.registry.effective_state("m1") == "ready", what="good msg")
    rejected = [e for e in logs if e["event"] == "mqtt payload rejected"]
    assert len(rejected) == len(bad) == r.link.stats.rejected_payloads
    problems = " | ".join(e["problem"] for e in rejected)
    for needle in ("not JSON", "'dancing'", "seq = '1'", "does not match", "request_id", "list"):
        assert needle in problems
    assert {e["topic"] for e in rejected} == {t for t, _ in bad}
    assert not r.task.done()  # still running


async def test_broker_loss_fails_closed_then_reconnects_and_resyncs(
    start_link: Callable[..., Awaitable[Running]], private_broker: Mosquitto, topics: Topics
) -> None:
    r = await start_link(url=private_broker.url)
    agent = SimulatedAgent(
        "b1", private_broker.url, topics=topics, behaviour=AgentBehaviour(heartbeat_s=0.5)
    )
    task = asyncio.create_task(agent.run())
    try:
        assert await r.link.wait_synced(5.0)
        await eventually(lambda: r.link.registry.available(r.link.now()) == ["b1"])

        private_broker.stop()
        await eventually(lambda: not r.link.connected.is_set(), what="link noticed the loss")
        assert not r.link.dialling_allowed
        assert r.link.registry.available(r.link.now()) == []
        # Offline either by its will (mosquitto may send wills as it shuts down) or by
        # the link going down: the pacer was told either way.
        last = r.changes[-1]
        assert (last.agent, last.old, last.new) == ("b1", "ready", "offline"), r.changes
        with pytest.raises(BrokerLinkDown):
            await r.link.publish_call(
                "b1", AgentCallMessage(event="offer", call_id="x", campaign="c", ts=time.time())
            )

        private_broker.start()  # same port; retained state is gone (no persistence)
        await eventually(lambda: r.link.dialling_allowed, within=10.0, what="resync")
        # The agent reconnects and republishes; until then it is not available.
        await eventually(
            lambda: r.link.registry.available(r.link.now()) == ["b1"], within=10.0, what="agent"
        )
        assert r.link.stats.connects == 2 and r.link.stats.resyncs == 2
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_control_round_trip_is_idempotent(
    start_link: Callable[..., Awaitable[Running]], raw: aiomqtt.Client, topics: Topics
) -> None:
    applied: list[tuple[str, str]] = []

    async def on_control(campaign: str, req: ControlRequest) -> ControlReply:
        applied.append((campaign, req.action))
        return ControlReply(
            request_id=req.request_id,
            kind="control",
            accepted=True,
            actor=req.actor,
            old={"state": "running"},
            new={"state": "paused"},
            ts=time.time(),
        )

    r = await start_link(handlers=LinkHandlers(on_control=on_control))
    assert await r.link.wait_synced(5.0)
    await raw.subscribe(topics.campaign_events("spring"), qos=1)
    req = ControlRequest(request_id="r-1", actor="sue", action="pause")
    await raw.publish(topics.campaign_control("spring"), encode(req), qos=1)
    await raw.publish(topics.campaign_control("spring"), encode(req), qos=1)  # duplicate

    replies = []
    async with asyncio.timeout(5):
        async for m in raw.messages:
            assert isinstance(m.payload, bytes)
            replies.append(parse_payload(ControlReply, m.topic.value, m.payload))
            if len(replies) == 2:
                break
    assert applied == [("spring", "pause")]  # applied once
    assert replies[0] == replies[1]
    assert replies[0].accepted and replies[0].new == {"state": "paused"}


async def test_pacing_change_refused_with_reason(
    start_link: Callable[..., Awaitable[Running]], raw: aiomqtt.Client, topics: Topics
) -> None:
    from dialguard.config import PacingConfig

    current = PacingConfig()

    async def on_pacing(campaign: str, req: PacingChangeRequest) -> ControlReply:
        try:
            new = req.apply_to(current)
        except ValueError as e:
            return ControlReply(
                request_id=req.request_id, kind="pacing", accepted=False, reason=str(e), ts=1e9 + 1
            )
        return ControlReply(
            request_id=req.request_id,
            kind="pacing",
            accepted=True,
            new=new.model_dump(),
            ts=1e9 + 1,
        )

    async def broken(campaign: str, req: ControlRequest) -> ControlReply:
        raise RuntimeError("boom")

    r = await start_link(handlers=LinkHandlers(on_pacing=on_pacing, on_control=broken))
    assert await r.link.wait_synced(5.0)
    await raw.subscribe(topics.campaign_events("c9"), qos=1)
    bad = PacingChangeRequest(request_id="p1", actor="sue", changes={"abandon_cap": 0.1})
    await raw.publish(topics.campaign_pacing("c9"), encode(bad), qos=1)
    ctl = ControlRequest(request_id="c1", actor="sue", action="start")
    await raw.publish(topics.campaign_control("c9"), encode(ctl), qos=1)
    got = {}
    async with asyncio.timeout(5):
        async for m in raw.messages:
            assert isinstance(m.payload, bytes)
            reply = parse_payload(ControlReply, m.topic.value, m.payload)
            got[reply.request_id] = reply
            if len(got) == 2:
                break
    assert not got["p1"].accepted and "abandon_cap = 0.1" in got["p1"].reason
    assert not got["c1"].accepted and got["c1"].reason == "engine error: RuntimeError"
    assert r.link.stats.handler_errors == 1
    assert not r.task.done()


async def test_call_offer_to_disposition_with_a_simulated_agent(
    start_link: Callable[..., Awaitable[Running]], broker_url: str, topics: Topics
) -> None:
    dispositions: list[tuple[str, Disposition]] = []

    async def on_disposition(agent: str, d: Disposition) -> None:
        dispositions.append((agent, d))

    r = await start_link(handlers=LinkHandlers(on_disposition=on_disposition))
    agent = SimulatedAgent(
        "d1", broker_url, topics=topics, behaviour=AgentBehaviour(wrap_s=0.2, heartbeat_s=5)
    )
    task = asyncio.create_task(agent.run())
    try:
        assert await r.link.wait_synced(5.0)
        reg = r.link.registry
        await eventually(lambda: reg.available(r.link.now()) == ["d1"])
        card = ContactCard(number="+441632960123", name="Ann")
        await r.link.publish_call(
            "d1",
            AgentCallMessage(
                event="offer", call_id="k1", campaign="c", ts=time.time(), contact=card
            ),
        )
        await eventually(lambda: reg.effective_state("d1") == "busy", what="busy on offer")
        end = AgentCallMessage(event="ended", call_id="k1", campaign="c", ts=time.time())
        await r.link.publish_call("d1", end)
        await r.link.publish_call("d1", end)  # duplicate: handled once
        await eventually(lambda: reg.effective_state("d1") == "wrap", what="wrap")
        await eventually(lambda: reg.effective_state("d1") == "ready", what="ready after wrap")
        await eventually(lambda: len(dispositions) == 1, what="disposition")
        assert dispositions[0][0] == "d1"
        assert dispositions[0][1].call_id == "k1" and dispositions[0][1].code == "completed"
        assert agent.calls["k1"].number == "+441632960123"
        await asyncio.sleep(0.3)
        assert len(dispositions) == 1
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_status_is_retained_and_will_marks_engine_gone(
    start_link: Callable[..., Awaitable[Running]], broker_url: str, topics: Topics
) -> None:
    r = await start_link()
    assert await r.link.wait_synced(5.0)
    status = EngineStatus(engine_id="e1", ts=time.time(), broker_connected=True, agents_synced=True)
    await r.link.publish_status(status)
    host, port = host_port(broker_url)
    async with aiomqtt.Client(host, port, timeout=3) as c:
        await c.subscribe(topics.engine_status, qos=1)
        async with asyncio.timeout(3):
            m = await anext(aiter(c.messages))
        assert isinstance(m.payload, bytes) and m.retain
        assert parse_payload(EngineStatus, m.topic.value, m.payload) == status


def test_backoff_is_jittered_and_capped() -> None:
    b = Backoff(base_s=0.1, cap_s=2.0, min_s=0.01)
    rng = random.Random(7)
    delays = [b.delay(n, rng) for n in range(12)]
    assert all(0.01 <= d <= 2.0 for d in delays)
    assert len({round(d, 6) for d in delays}) == len(delays)  # not in lock-step
    assert max(b.delay(0, rng) for _ in range(50)) <= 0.1
    assert max(b.delay(20, rng) for _ in range(200)) > 1.0  # grows to the cap


def test_retained_state_payload_shape_is_what_agents_send() -> None:
    msg = AgentStateMessage(state="ready", seq=1, ts=time.time(), session="x")
    assert json.loads(encode(msg))["state"] == "ready"


async def test_link_keeps_trying_until_a_broker_appears(
    start_link: Callable[..., Awaitable[Running]], tmp_path: Path
) -> None:
    port = free_port()
    r = await start_link(url=f"mqtt://127.0.0.1:{port}")
    await asyncio.sleep(0.5)  # several failed attempts, none fatal
    assert not r.task.done() and not r.link.dialling_allowed
    assert r.link.stats.connects == 0
    broker = Mosquitto(tmp_path, port=port).start()
    try:
        await eventually(lambda: r.link.dialling_allowed, within=5.0, what="late broker")
    finally:
        broker.stop()


async def test_supervisor_helpers_send_request_and_read_status(
    start_link: Callable[..., Awaitable[Running]], broker_url: str, topics: Topics
) -> None:
    async def on_control(campaign: str, req: ControlRequest) -> ControlReply:
        return ControlReply(
            request_id=req.request_id, kind="control", accepted=True, actor=req.actor, ts=1e9 + 1
        )

    r = await start_link(handlers=LinkHandlers(on_control=on_control))
    assert await r.link.wait_synced(5.0)
    cfg = BrokerConfig(url=broker_url, topic_prefix=topics.prefix)
    assert await read_status(cfg, within_s=0.3) is None  # no engine status yet

    reply = await send_request(
        cfg, "spring", ControlRequest(request_id="q1", actor="sue", action="stop")
    )
    assert reply.accepted and reply.request_id == "q1"

    status = EngineStatus(engine_id="e", ts=time.time(), broker_connected=True, agents_synced=True)
    await r.link.publish_status(status)
    assert await read_status(cfg) == status


async def test_supervisor_helpers_report_no_engine_and_no_broker(
    broker_url: str, topics: Topics
) -> None:
    cfg = BrokerConfig(url=broker_url, topic_prefix=topics.prefix)
    req = ControlRequest(request_id="q2", actor="sue", action="start")
    with pytest.raises(TimeoutError, match="is the daemon running"):
        await send_request(cfg, "spring", req, within_s=0.3)
    dead = BrokerConfig(url=f"mqtt://127.0.0.1:{free_port()}", topic_prefix=topics.prefix)
    with pytest.raises(BrokerLinkDown, match=r"127\.0\.0\.1"):
        await send_request(dead, "spring", req, within_s=0.3)
    with pytest.raises(BrokerLinkDown):
        await read_status(dead, within_s=0.3)


@pytest.mark.slow
async def test_cancel_at_random_moments_always_stops_the_link(tmp_path: Path) -> None:
    """Cancelling run() stops it, whatever it is doing (connecting, subscribing, waiting
    for a resync that never completes, backing off). Python 3.11's wait_for inside
    aiomqtt can swallow a cancellation; the link must not loop on regardless."""
    (tmp_path / "acl").write_text("topic read dialguard/agents/+/state\n")  # no sync topic
    broker = Mosquitto(
        tmp_path, extra_conf=f"allow_anonymous true\nuser root\nacl_file {tmp_path / 'acl'}\n"
    ).start()
    rng = random.Random(11)
    try:
        for i in range(12):
            link = BrokerLink(
                BrokerConfig(url=broker.url, client_id=f"cancel-{i}"),
                AgentRegistry(30, roster=ROSTER),
                backoff=FAST,
                rng=random.Random(i),
                tick_s=0.05,
                sync_timeout_s=0.2,
            )
            task = asyncio.create_task(link.run())
            await asyncio.sleep(rng.uniform(0.0, 0.5))
            task.cancel()
            done, _ = await asyncio.wait({task}, timeout=3.0)
            assert done, f"iteration {i}: run() still going 3 s after cancel"
            assert not link.dialling_allowed
    finally:
        broker.stop()


# --- issue 11: strangers and clocks ---------------------------------------------------


async def test_a_stranger_is_counted_logged_once_and_never_available(
    start_link: Callable[..., Awaitable[Running]],
    raw: aiomqtt.Client,
    topics: Topics,
    caplog: pytest.LogCaptureFixture,
) -> None:
    r = await start_link()
    seen: list[str] = []
    r.link.handlers.on_rejected.append(lambda rej: seen.append(rej.reason))
    assert await r.link.wait_synced(5.0)
    for seq in (1, 2, 3):
        await raw.publish(topics.agent_state("healthcheck"), state_msg("ready", seq), qos=1)
    await raw.publish(topics.agent_state("a1"), state_msg("ready", 1), qos=1)
    await eventually(lambda: r.link.registry.available(r.link.now()) == ["a1"], what="a1")
    await eventually(lambda: r.link.stats.unknown_agents == 3, what="3 counted")
    assert seen == ["unknown_agent"] * 3
    assert r.link.registry.effective_state("healthcheck") is None
    logged = [rec for rec in caplog.records if "not on the roster" in rec.getMessage()]
    assert len(logged) <= 1  # once per id, not per heartbeat (0 if logs go elsewhere)


async def test_a_message_from_ten_days_ahead_does_not_lock_the_agent_out(
    start_link: Callable[..., Awaitable[Running]], raw: aiomqtt.Client, topics: Topics
) -> None:
    """On old main one such message made every later (truthful) one 'older': the agent
    could not become ready again for ten days."""
    r = await start_link()
    assert await r.link.wait_synced(5.0)
    future = time.time() + 10 * 86400
    body = json.dumps({"state": "paused", "seq": 1, "ts": future, "session": "bad"}).encode()
    await raw.publish(topics.agent_state("a2"), body, qos=1)
    await eventually(lambda: r.link.stats.clock_skew == 1, what="skew counted")
    fresh = json.dumps({"state": "ready", "seq": 1, "ts": time.time(), "session": "new"}).encode()
    await raw.publish(topics.agent_state("a2"), fresh, qos=1)
    await eventually(lambda: r.link.registry.available(r.link.now()) == ["a2"], what="ready")


async def test_a_hand_off_is_published_on_its_channels_topic_not_retained(
    start_link: Callable[..., Awaitable[Running]], raw: aiomqtt.Client, topics: Topics
) -> None:
    r = await start_link()
    assert await r.link.wait_synced(5.0)
    await raw.subscribe(topics.handoff("sms"), qos=1)
    await r.link.publish_handoff("sms", b'{"handoff_id": 1}')
    async with asyncio.timeout(5):
        async for m in raw.messages:
            assert m.topic.value == topics.handoff("sms")
            assert m.payload == b'{"handoff_id": 1}' and not m.retain
            break
