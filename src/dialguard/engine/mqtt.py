"""The engine's link to the MQTT broker: connect, resync, dispatch, reconnect, publish.

This is the asyncio shell around the pure :class:`~dialguard.engine.agents.AgentRegistry`
(the aioquic pattern: it only feeds the registry messages and ``loop.time()``). It owns
fail closed for the broker side of safeguard 11:

1. While disconnected, :attr:`BrokerLink.dialling_allowed` is false and the registry
   reports no agent available.
2. After (re)connecting it subscribes, then publishes a nonce to a private *sync* topic
   and waits for it to come back. The broker delivers to one client in order, so when
   the nonce arrives every retained agent state queued by the subscribe has arrived
   before it: only then is the registry marked resynchronised and dialling allowed.
3. A lost connection is retried with exponential backoff and full jitter, so a hundred
   engines and desktops do not hammer a restarting broker in step.

Every incoming payload is parsed with :func:`~dialguard.mqtt.contract.parse_payload`;
a bad one is logged with the topic and the problem and dropped. Handlers supplied by the
engine run inside ``try``: an exception in one is logged and never stops the link.
Supervisor requests are idempotent by ``request_id`` (QoS 1 redelivers): a duplicate
gets the first reply again, the change is not applied twice.

The client it connects with, the backoff and the publish error come from
:mod:`dialguard.mqtt.client`, shared with the supervisors' tools and the console; only
MQTT 3.1.1 features are used, so the link also works against the demo's embedded broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

import aiomqtt

from dialguard.config import BrokerConfig
from dialguard.engine.agents import AgentChange, AgentRegistry, Rejected
from dialguard.logs import get_logger
from dialguard.mqtt.client import QOS, Backoff, BrokerLinkDown, make_client
from dialguard.mqtt.contract import (
    AgentCallMessage,
    AgentStateMessage,
    ControlReply,
    ControlRequest,
    Disposition,
    EngineStatus,
    PacingChangeRequest,
    PayloadError,
    Topics,
    encode,
    parse_payload,
)

log = get_logger("dialguard.engine.mqtt")

# A handler returns None for a campaign another engine runs (a shared store): that
# engine answers, this one stays silent rather than refuse what it does not hold.
ControlHandler = Callable[[str, ControlRequest], Awaitable[ControlReply | None]]
PacingHandler = Callable[[str, PacingChangeRequest], Awaitable[ControlReply | None]]
DispositionHandler = Callable[[str, Disposition], Awaitable[None]]
AgentChangeHandler = Callable[[list[AgentChange]], None]
RejectedHandler = Callable[[Rejected], None]
ResyncHandler = Callable[[], None]

_REPLY_CACHE_SIZE: Final = 1024
HANDLER_TIMEOUT_S: Final = 10.0


@dataclass(slots=True)
class LinkHandlers:
    """What the engine wants done with messages; any may be left out."""

    on_control: ControlHandler | None = None
    on_pacing: PacingHandler | None = None
    on_disposition: DispositionHandler | None = None
    on_agent_changes: list[AgentChangeHandler] = field(default_factory=list)
    on_resync: list[ResyncHandler] = field(default_factory=list)
    on_rejected: list[RejectedHandler] = field(default_factory=list)


@dataclass(slots=True)
class LinkStats:
    """Counters for metrics and tests: what the link did since it started."""

    connects: int = 0
    disconnects: int = 0
    resyncs: int = 0
    accepted: int = 0
    rejected_payloads: int = 0
    ignored_order: int = 0
    unknown_agents: int = 0  # state messages from ids not on the roster
    clock_skew: int = 0  # state messages whose ts was too far ahead
    handler_errors: int = 0
    dispatch_errors: int = 0


class EngineLink(Protocol):
    """What the engine uses of its broker link: :class:`BrokerLink` on a real broker;
    tests of the engine pass a fake that feeds the same registry and handlers."""

    stats: LinkStats
    connected: asyncio.Event

    @property
    def dialling_allowed(self) -> bool: ...

    def now(self) -> float: ...

    async def wait_synced(self, within_s: float) -> bool: ...

    async def publish_call(self, agent: str, event: AgentCallMessage) -> None: ...

    async def publish_status(self, status: EngineStatus) -> None: ...

    async def publish_handoff(self, channel: str, payload: bytes) -> None: ...

    async def run(self) -> None: ...


LinkFactory = Callable[[AgentRegistry, LinkHandlers], EngineLink]
"""Builds the engine's link over its agent registry and handlers."""


class BrokerLink:
    """One engine's connection to the broker, kept alive by :meth:`run`."""

    def __init__(
        self,
        broker: BrokerConfig,
        registry: AgentRegistry,
        *,
        handlers: LinkHandlers | None = None,
        engine_id: str | None = None,
        backoff: Backoff | None = None,
        rng: random.Random | None = None,
        tick_s: float = 1.0,
        sync_timeout_s: float = 5.0,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.broker = broker
        self.registry = registry
        self.handlers = handlers or LinkHandlers()
        self.topics = Topics(broker.topic_prefix)
        self.engine_id = engine_id or broker.client_id
        self.backoff = backoff or Backoff()
        self.rng = rng or random.Random()
        self.tick_s = tick_s
        self.sync_timeout_s = sync_timeout_s
        self.wall = wall
        self.stats = LinkStats()
        self.connected = asyncio.Event()  # MQTT session up
        self.synced = asyncio.Event()  # retained state replayed; dialling allowed
        self._client: aiomqtt.Client | None = None
        self._sync_nonce: str | None = None
        self._was_synced = False
        self._replies: OrderedDict[tuple[str, str, str], ControlReply] = OrderedDict()
        self._unknown_logged: set[str] = set()  # log an unknown agent once, not per heartbeat

    # --- for the engine ----------------------------------------------------------------

    @property
    def dialling_allowed(self) -> bool:
        """Fail closed: only with a live session whose retained state is replayed."""
        return self.connected.is_set() and self.synced.is_set() and self.registry.synced

    def now(self) -> float:
        """The registry's clock: the event loop's monotonic time."""
        return asyncio.get_running_loop().time()

    async def wait_synced(self, within_s: float) -> bool:
        """Wait until dialling is allowed; False if it was not within ``within_s``."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.synced.wait(), within_s)
        return self.dialling_allowed

    async def publish_call(self, agent: str, event: AgentCallMessage) -> None:
        """Tell an agent's desktop about a call (QoS 1, not retained: a desktop that
        restarts must not pop up an old call)."""
        await self._publish(self.topics.agent_call(agent), encode(event), retain=False)

    async def publish_reply(self, campaign: str, reply: ControlReply) -> None:
        await self._publish(self.topics.campaign_events(campaign), encode(reply), retain=False)

    async def publish_status(self, status: EngineStatus) -> None:
        """Retained, so ``dialguard status`` sees the latest snapshot at once."""
        await self._publish(self.topics.engine_status, encode(status), retain=True)

    async def publish_handoff(self, channel: str, payload: bytes) -> None:
        """A contact handed to another channel (engine/handoff.py): QoS 1, not retained
        (each event is one hand-off for the channel's consumer to act on once)."""
        await self._publish(self.topics.handoff(channel), payload, retain=False)

    # --- the loop ----------------------------------------------------------------------

    async def run(self) -> None:
        """Connect and stay connected until cancelled. Never raises on broker trouble."""
        me = asyncio.current_task()
        ticker = asyncio.create_task(self._tick(me), name="agent-expiry")
        attempt = 0
        try:
            while True:
                _raise_if_cancelling(me)
                try:
                    await self._session()
                    # The message stream ends only by raising; treat anything else the same.
                    raise aiomqtt.MqttError("session ended")
                except aiomqtt.MqttError as e:
                    _raise_if_cancelling(me)
                    if self._was_synced:
                        attempt = 0  # it worked for a while: start the backoff afresh
                    self._went_down(str(e))
                    delay = self.backoff.delay(attempt, self.rng)
                    attempt += 1
                    log.warning(
                        "broker link down; retrying",
                        broker=self.broker.url,
                        error=str(e),
                        retry_in_s=round(delay, 3),
                    )
                    await asyncio.sleep(delay)
        finally:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
            self._went_down("stopped")

    async def _session(self) -> None:
        self._was_synced = False
        async with self._make_client() as client:
            self._client = client
            self.stats.connects += 1
            self.connected.set()
            log.info("broker connected", broker=self.broker.url, client_id=self.broker.client_id)
            self._emit(self.registry.begin_resync())
            for topic in (
                self.topics.all_agent_states,
                self.topics.all_dispositions,
                self.topics.all_controls,
                self.topics.all_pacing,
                self.topics.engine_sync(self.broker.client_id),
            ):
                await client.subscribe(topic, qos=QOS)
            self._sync_nonce = secrets.token_hex(8)
            await client.publish(
                self.topics.engine_sync(self.broker.client_id), self._sync_nonce.encode(), qos=QOS
            )
            # Messages are read in a task of their own, so the resync deadline below
            # never has to cancel run() itself (a cancellation of run() always means
            # "stop", which BrokerLink._tick relies on).
            reader = asyncio.create_task(self._read(client), name="mqtt-reader")
            synced = asyncio.create_task(self.synced.wait())
            try:
                done, _ = await asyncio.wait(
                    {reader, synced},
                    timeout=self.sync_timeout_s,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                if not done:
                    # The marker did not come back (an ACL forbidding the sync topic, a
                    # broker dropping messages): a broken session. Reconnect, still closed.
                    log.warning(
                        "resync did not complete; reconnecting", timeout_s=self.sync_timeout_s
                    )
                    raise aiomqtt.MqttError(
                        f"resync did not complete within {self.sync_timeout_s:g} s"
                    )
                await reader  # until the connection drops (raises MqttError)
            finally:
                synced.cancel()
                reader.cancel()
                await asyncio.gather(reader, synced, return_exceptions=True)
                self._client = None

    async def _read(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            await self._dispatch(message)

    def _make_client(self) -> aiomqtt.Client:
        will = aiomqtt.Will(
            self.topics.engine_status,
            encode(
                EngineStatus(
                    engine_id=self.engine_id,
                    ts=self.wall(),
                    broker_connected=False,
                    agents_synced=False,
                )
            ),
            qos=QOS,
            retain=True,
        )
        return make_client(self.broker, client_id=self.broker.client_id, will=will)

    def _went_down(self, why: str) -> None:
        was_up = self.connected.is_set()
        self.connected.clear()
        self.synced.clear()
        self._client = None
        self._sync_nonce = None
        changes = self.registry.link_down()
        if was_up:
            self.stats.disconnects += 1
            log.warning("broker link lost: dialling stopped (fail closed)", reason=why)
        self._emit(changes)

    async def _tick(self, runner: asyncio.Task[Any] | None) -> None:
        while True:
            await asyncio.sleep(self.tick_s)
            self._emit(self.registry.expire(self.now()))
            if runner is not None and runner.cancelling() and not runner.done():
                # On Python 3.11 asyncio.wait_for (used inside aiomqtt) can swallow a
                # cancellation that lands as its inner call completes; deliver it again
                # so run() really stops.
                runner.cancel()

    # --- dispatch ----------------------------------------------------------------------

    async def _dispatch(self, message: aiomqtt.Message) -> None:
        topic = message.topic.value
        payload = message.payload
        raw = payload if isinstance(payload, bytes | bytearray) else str(payload or "").encode()
        match = self.topics.parse(topic)
        if match is None:
            return
        try:
            if match.kind == "engine_sync":
                self._on_sync(raw)
            elif match.kind == "agent_state":
                self._on_state(match.key, raw, retained=bool(message.retain))
            elif match.kind == "agent_disposition":
                await self._on_disposition(match.key, parse_payload(Disposition, topic, raw))
            elif match.kind == "campaign_control":
                req = parse_payload(ControlRequest, topic, raw)
                await self._on_request(match.key, "control", req.request_id, req.actor, req)
            elif match.kind == "campaign_pacing":
                preq = parse_payload(PacingChangeRequest, topic, raw)
                await self._on_request(match.key, "pacing", preq.request_id, preq.actor, preq)
        except PayloadError as e:
            self.stats.rejected_payloads += 1
            log.warning("mqtt payload rejected", topic=e.topic, problem=e.problem)
        except Exception:
            # One message must never stop the reader (and with it all dialling); a
            # retained one would do so again at every resync.
            self.stats.dispatch_errors += 1
            log.exception("mqtt message failed", topic=topic, size=len(raw))

    def _on_sync(self, raw: bytes | bytearray) -> None:
        if self._sync_nonce is None or raw.decode(errors="replace") != self._sync_nonce:
            return
        self._sync_nonce = None
        changes = self.registry.resync_complete(self.now())
        self.stats.resyncs += 1
        self._was_synced = True
        self.synced.set()
        log.info(
            "agent state resynchronised; dialling allowed",
            agents=len(tuple(self.registry.agents())),
            available=len(self.registry.available(self.now())),
        )
        self._emit(changes)
        for handler in self.handlers.on_resync:
            try:
                handler()
            except Exception:
                self.stats.handler_errors += 1
                log.exception("resync handler failed")

    def _on_state(self, agent: str, raw: bytes | bytearray, *, retained: bool) -> None:
        topic = self.topics.agent_state(agent)
        if not raw:
            # An empty retained message clears the topic: the agent was removed.
            change = self.registry.remove(agent)
            self._emit([change] if change else [])
            return
        msg = parse_payload(AgentStateMessage, topic, raw)
        if msg.agent is not None and msg.agent != agent:
            raise PayloadError(topic, _mismatch(msg.agent, agent))
        wall = self.wall()
        age = max(0.0, wall - msg.ts) if retained else 0.0
        result = self.registry.apply(agent, msg, self.now(), age_s=age, skew_s=msg.ts - wall)
        if isinstance(result, Rejected):
            self._rejected(topic, result)
            return
        self.stats.accepted += 1
        if result is not None:
            self._emit([result])

    def _rejected(self, topic: str, result: Rejected) -> None:
        if result.reason == "unknown_agent":
            self.stats.unknown_agents += 1
            if result.agent not in self._unknown_logged and len(self._unknown_logged) < 10_000:
                self._unknown_logged.add(result.agent)
                log.warning(
                    "agent state from an id not on the roster ignored (logged once per id)",
                    topic=topic,
                    agent=result.agent,
                )
        elif result.reason == "clock_skew":
            self.stats.clock_skew += 1
            log.warning("agent state ignored: clock skew", topic=topic, detail=result.detail)
        else:
            self.stats.ignored_order += 1
            log.info("agent state ignored", topic=topic, reason=result.reason, detail=result.detail)
        for handler in self.handlers.on_rejected:
            try:
                handler(result)
            except Exception:
                self.stats.handler_errors += 1
                log.exception("rejected-state handler failed")

    async def _on_disposition(self, agent: str, disp: Disposition) -> None:
        topic = self.topics.agent_disposition(agent)
        if disp.agent is not None and disp.agent != agent:
            raise PayloadError(
                topic, f"agent = {disp.agent!r} does not match the topic's {agent!r}"
            )
        if self.handlers.on_disposition is None:
            log.info("disposition received with no handler", topic=topic, call_id=disp.call_id)
            return
        try:
            async with asyncio.timeout(HANDLER_TIMEOUT_S):
                await self.handlers.on_disposition(agent, disp)
        except Exception:
            self.stats.handler_errors += 1
            log.exception("disposition handler failed", topic=topic, call_id=disp.call_id)

    async def _on_request(
        self,
        campaign: str,
        kind: str,
        request_id: str,
        actor: str,
        req: ControlRequest | PacingChangeRequest,
    ) -> None:
        key = (campaign, kind, request_id)
        reply = self._replies.get(key)
        if reply is None:
            answer = await self._answer(campaign, req)
            if answer is None:
                log.debug("request for a campaign another engine runs", campaign=campaign)
                return
            reply = self._replies[key] = answer
            if len(self._replies) > _REPLY_CACHE_SIZE:
                self._replies.popitem(last=False)
        else:
            log.info("duplicate request answered again", campaign=campaign, request_id=request_id)
        log.info(
            "supervisor request",
            campaign=campaign,
            kind=kind,
            request_id=request_id,
            actor=actor,
            accepted=reply.accepted,
            reason=reply.reason,
        )
        with contextlib.suppress(BrokerLinkDown, aiomqtt.MqttError):
            await self.publish_reply(campaign, reply)

    async def _answer(
        self, campaign: str, req: ControlRequest | PacingChangeRequest
    ) -> ControlReply | None:
        kind: Any = "control" if isinstance(req, ControlRequest) else "pacing"
        try:
            # A hung handler must not hold up agent state (that would fail closed, but
            # needlessly): it gets HANDLER_TIMEOUT_S, then the request is refused.
            async with asyncio.timeout(HANDLER_TIMEOUT_S):
                if isinstance(req, ControlRequest):
                    if self.handlers.on_control is not None:
                        return await self.handlers.on_control(campaign, req)
                elif self.handlers.on_pacing is not None:
                    return await self.handlers.on_pacing(campaign, req)
            reason = f"this engine does not handle {kind} requests"
        except Exception as e:
            self.stats.handler_errors += 1
            log.exception("supervisor request handler failed", campaign=campaign)
            reason = f"engine error: {type(e).__name__}"
        return ControlReply(
            request_id=req.request_id,
            kind=kind,
            accepted=False,
            reason=reason,
            actor=req.actor,
            ts=self.wall(),
        )

    def _emit(self, changes: list[AgentChange]) -> None:
        if not changes:
            return
        for handler in self.handlers.on_agent_changes:
            try:
                handler(changes)
            except Exception:
                self.stats.handler_errors += 1
                log.exception("agent change handler failed")

    async def _publish(self, topic: str, payload: bytes, *, retain: bool) -> None:
        client = self._client
        if client is None or not self.connected.is_set():
            raise BrokerLinkDown(f"broker {self.broker.url} not connected; {topic} not sent")
        try:
            await client.publish(topic, payload, qos=QOS, retain=retain, timeout=5.0)
        except aiomqtt.MqttError as e:
            raise BrokerLinkDown(f"publishing to {topic} failed: {e}") from e


def _raise_if_cancelling(task: asyncio.Task[Any] | None) -> None:
    """Honour a cancellation that a library swallowed (see BrokerLink._tick)."""
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def _mismatch(payload_agent: str, topic_agent: str) -> str:
    return f"agent = {payload_agent!r} does not match the topic's {topic_agent!r}"
