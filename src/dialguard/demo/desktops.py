"""Simulated agent desktops that speak the real MQTT contract (docs/mqtt.md).

The demo, the Docker stack and the engine's integration tests need agents that behave
like a real agent desktop on the wire, not a shortcut into the engine: each one connects
with its own client id and a retained ``offline`` will, publishes its state retained with
a session id and a rising seq, heartbeats, goes ``busy`` on a call offer, ``wrap`` when
the call ends, sends a disposition and is ``ready`` again after the wrap time.

:meth:`SimulatedAgent.crash` drops the TCP connection without an MQTT DISCONNECT, as a
desktop that loses power would, so the broker publishes the will — the fail-closed tests
use it. Run standalone: ``python -m dialguard.demo.desktops --agents 5``.

They live in ``dialguard.demo``, beside the broker finder, not in ``dialguard.sim``: they
run on the wall clock over a real broker, where the simulator is virtual time with no
I/O, and they speak the engine's message schemas, which nothing in ``sim`` may import.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import secrets
import socket
import ssl
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import aiomqtt

from dialguard.logs import configure_logging, get_logger
from dialguard.mqtt.client import Backoff
from dialguard.mqtt.contract import (
    AgentCallMessage,
    AgentStateMessage,
    AgentStateName,
    Disposition,
    PayloadError,
    Topics,
    encode,
    parse_payload,
)
from dialguard.tasks import TaskSet

log = get_logger("dialguard.demo.desktops")


@dataclass(frozen=True, slots=True)
class AgentBehaviour:
    """How a simulated agent works: wrap-up length, heartbeat period, and a talk-time
    limit after which it hangs up itself if the engine never says the call ended."""

    wrap_s: float = 5.0
    heartbeat_s: float = 5.0
    max_talk_s: float = 600.0
    disposition_code: str = "completed"


@dataclass(slots=True)
class HandledCall:
    """What the agent saw of one call, for tests and the demo summary."""

    call_id: str
    campaign: str
    offered_at: float
    number: str = ""
    connected_at: float | None = None
    ended_at: float | None = None


@dataclass(slots=True)
class _Session:
    client: aiomqtt.Client
    publish_lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class SimulatedAgent:
    """One agent desktop on MQTT. ``await run()`` until cancelled, :meth:`stop` or
    :meth:`crash`."""

    def __init__(
        self,
        agent_id: str,
        broker_url: str,
        *,
        topics: Topics | None = None,
        group: str = "default",
        behaviour: AgentBehaviour | None = None,
        username: str | None = None,
        password: str | None = None,
        initial_state: AgentStateName = "ready",
        tls_ca_file: str | None = None,
        client_id: str | None = None,
        wall: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        parts = urlsplit(broker_url)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ValueError(f"broker url {broker_url!r}: must look like mqtt://HOST:PORT")
        self.agent_id = agent_id
        self.topics = topics or Topics()
        self.topics.agent_state(agent_id)  # validates the id as a topic level
        self.host = parts.hostname
        self.port = parts.port or (8883 if parts.scheme == "mqtts" else 1883)
        self.group = group
        # One client id per agent *and* topic prefix: two demos sharing a broker must not
        # take over each other's sessions (MQTT drops the older client on an id clash).
        self.client_id = client_id or f"{self.topics.prefix.replace('/', '-')}-{agent_id}"
        self.behaviour = behaviour or AgentBehaviour()
        self.username = username
        self.password = password
        self.tls_context: ssl.SSLContext | None = None
        if parts.scheme == "mqtts":
            self.tls_context = ssl.create_default_context(cafile=tls_ca_file)
        self.wall = wall
        self.rng = rng or random.Random()
        self.session = secrets.token_hex(6)
        self.seq = 0
        self.state: AgentStateName = initial_state
        self.calls: dict[str, HandledCall] = {}
        self.dispositions: list[Disposition] = []
        self.connected = asyncio.Event()
        self.rejected = 0
        self._session: _Session | None = None
        self._crashed = False
        self._stopping = False
        self._current_call: str | None = None
        self._call_task: asyncio.Task[None] | None = None
        self._wraps = TaskSet(f"desktop {agent_id}")
        self._wrap_cut = asyncio.Event()
        self.wraps_capped = 0

    # --- control from the test or the demo ---------------------------------------------

    async def set_state(self, state: AgentStateName) -> None:
        """Change state as the agent would by clicking on the desktop."""
        self.seq += 1
        self.state = state
        await self._publish_state()

    def crash(self) -> None:
        """Drop the TCP connection with no DISCONNECT: the broker sends the will."""
        self._crashed = True
        s = self._session
        if s is not None:
            sock = s.client._client.socket()
            if isinstance(sock, socket.socket):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    async def stop(self) -> None:
        """Log off cleanly: publish ``offline`` (retained) and disconnect."""
        await self._log_off()
        s = self._session
        if s is not None:
            with contextlib.suppress(aiomqtt.MqttError):
                await s.client.__aexit__(None, None, None)

    async def _log_off(self) -> None:
        if self._stopping:
            return
        self._stopping = True
        self.seq += 1
        self.state = "offline"
        with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
            async with asyncio.timeout(2):
                await self._publish_state()

    # --- the desktop's loop ------------------------------------------------------------

    async def run(self) -> None:
        """Stay connected (reconnecting with jittered backoff) until stopped or crashed."""
        backoff = Backoff(base_s=0.2, cap_s=5.0)
        attempt = 0
        while not (self._crashed or self._stopping):
            try:
                await self._connected_session()
                attempt = 0
            except aiomqtt.MqttError as e:
                self.connected.clear()
                if self._crashed or self._stopping:
                    break
                me = asyncio.current_task()
                if me is not None and me.cancelling():
                    raise asyncio.CancelledError from e  # a cancellation aiomqtt swallowed
                delay = backoff.delay(attempt, self.rng)
                attempt += 1
                log.info("agent reconnecting", agent=self.agent_id, error=str(e), in_s=delay)
                await asyncio.sleep(delay)
        self.connected.clear()
        if self._call_task is not None:
            self._call_task.cancel()
        await self._wraps.close()

    async def _connected_session(self) -> None:
        will = aiomqtt.Will(
            self.topics.agent_state(self.agent_id),
            self._state_payload("offline"),
            qos=1,
            retain=True,
        )
        client = aiomqtt.Client(
            self.host,
            self.port,
            identifier=self.client_id,
            username=self.username,
            password=self.password,
            will=will,
            keepalive=max(5, int(self.behaviour.heartbeat_s * 3)),
            clean_session=True,
            timeout=5.0,
            tls_context=self.tls_context,
            protocol=aiomqtt.ProtocolVersion.V311,
        )
        async with client:
            self._session = _Session(client)
            try:
                await client.subscribe(self.topics.agent_call(self.agent_id), qos=1)
                # Every connection starts with a new seq: the will of the previous one may
                # already have ended the session at the current seq (docs/mqtt.md).
                self.seq += 1
                await self._publish_state()
                self.connected.set()
                beat = asyncio.create_task(self._heartbeat(asyncio.current_task()))
                try:
                    async for message in client.messages:
                        await self._on_message(message)
                except asyncio.CancelledError:
                    # Cancelled (Ctrl-C, the demo ending): the clean DISCONNECT that
                    # follows does not fire the will, so say 'offline' first, or the
                    # retained state would claim a ready agent that is gone.
                    await self._log_off()
                    raise
                finally:
                    beat.cancel()
            finally:
                self._session = None
                self.connected.clear()

    async def _heartbeat(self, runner: asyncio.Task[None] | None) -> None:
        """Republish the current state (same session and seq, fresh ts): the engine's
        registry treats it as a heartbeat, and the retained copy stays fresh."""
        while True:
            await asyncio.sleep(self.behaviour.heartbeat_s)
            if runner is not None and runner.cancelling() and not runner.done():
                # Python 3.11's wait_for (inside aiomqtt) can swallow a cancellation:
                # deliver it again so the desktop really stops.
                runner.cancel()
                continue
            with contextlib.suppress(aiomqtt.MqttError):
                await self._publish_state()

    async def _on_message(self, message: aiomqtt.Message) -> None:
        raw = message.payload if isinstance(message.payload, bytes | bytearray) else b""
        try:
            ev = parse_payload(AgentCallMessage, message.topic.value, raw)
        except PayloadError as e:
            self.rejected += 1
            log.warning("agent got a bad call message", topic=e.topic, problem=e.problem)
            return
        now = self.wall()
        if ev.event == "offer":
            if self.state != "ready" or self._current_call is not None:
                log.warning("offer while not ready", agent=self.agent_id, state=self.state)
                return
            number = ev.contact.number if ev.contact else ""
            self.calls[ev.call_id] = HandledCall(ev.call_id, ev.campaign, now, number)
            self._current_call = ev.call_id
            await self.set_state("busy")
            self._call_task = asyncio.create_task(self._talk_limit(ev.call_id, ev.campaign))
        elif ev.event == "connected":
            call = self.calls.get(ev.call_id)
            if call is not None and call.connected_at is None:
                call.connected_at = now
        elif ev.event == "ended":
            await self._end_call(ev.call_id, ev.campaign)
        elif ev.event == "wrap_up_ended" and self.state == "wrap":
            self.wraps_capped += 1
            self._wrap_cut.set()

    async def _talk_limit(self, call_id: str, campaign: str) -> None:
        await asyncio.sleep(self.behaviour.max_talk_s)
        await self._end_call(call_id, campaign)

    async def _end_call(self, call_id: str, campaign: str) -> None:
        call = self.calls.get(call_id)
        if call is None or call.ended_at is not None or self._current_call != call_id:
            return  # a duplicate 'ended' (QoS 1) or a call this desktop never took
        call.ended_at = self.wall()
        if self._call_task is not None and self._call_task is not asyncio.current_task():
            self._call_task.cancel()
        await self.set_state("wrap")
        self._wraps.spawn(self._wrap_up(call_id, campaign), name=f"wrap-up {call_id}")

    async def _wrap_up(self, call_id: str, campaign: str) -> None:
        # The engine's wrap-up cap (the "wrap_up_ended" call event) may end it sooner.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wrap_cut.wait(), self.behaviour.wrap_s)
        self._wrap_cut.clear()
        disp = Disposition(
            call_id=call_id,
            campaign=campaign,
            code=self.behaviour.disposition_code,
            ts=self.wall(),
            agent=self.agent_id,
        )
        try:
            await self._publish(self.topics.agent_disposition(self.agent_id), encode(disp))
            self.dispositions.append(disp)
        except aiomqtt.MqttError as e:
            log.warning("disposition not sent", agent=self.agent_id, error=str(e))
        self._current_call = None
        with contextlib.suppress(aiomqtt.MqttError):
            await self.set_state("ready")

    # --- wire --------------------------------------------------------------------------

    def _state_payload(self, state: AgentStateName) -> bytes:
        msg = AgentStateMessage(
            state=state,
            seq=self.seq,
            ts=self.wall(),
            session=self.session,
            group=self.group,
            agent=self.agent_id,
        )
        return encode(msg)

    async def _publish_state(self) -> None:
        await self._publish(
            self.topics.agent_state(self.agent_id), self._state_payload(self.state), retain=True
        )

    async def _publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        s = self._session
        if s is None:
            raise aiomqtt.MqttError(f"agent {self.agent_id} not connected")
        async with s.publish_lock:
            await s.client.publish(topic, payload, qos=1, retain=retain, timeout=5.0)


async def run_agents(agents: Sequence[SimulatedAgent]) -> None:
    """Run a floor of agents until cancelled; on cancel they log off cleanly."""
    tasks = [asyncio.create_task(a.run(), name=f"agent-{a.agent_id}") for a in agents]
    try:
        await asyncio.gather(*tasks)
    finally:
        await asyncio.gather(*(a.stop() for a in agents), return_exceptions=True)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def make_agents(
    count: int,
    broker_url: str,
    *,
    prefix: str = "agent",
    topics: Topics | None = None,
    group: str = "default",
    behaviour: AgentBehaviour | None = None,
    password: str | None = None,
    tls_ca_file: str | None = None,
    seed: int | None = None,
) -> list[SimulatedAgent]:
    """``count`` agents named ``{prefix}-001`` …; with a password each logs in with its
    own id as user name (the broker ACL's block for that agent account)."""
    if count < 1 or count > 1000:
        raise ValueError(f"agents: {count} is outside 1..1000")
    rng = random.Random(seed)
    return [
        SimulatedAgent(
            f"{prefix}-{i:03d}",
            broker_url,
            topics=topics,
            group=group,
            behaviour=behaviour,
            username=f"{prefix}-{i:03d}" if password else None,
            password=password,
            tls_ca_file=tls_ca_file,
            rng=random.Random(rng.random()),
        )
        for i in range(1, count + 1)
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m dialguard.demo.desktops``: a floor of simulated desktops."""
    p = argparse.ArgumentParser(prog="dialguard.demo.desktops", description=__doc__)
    p.add_argument(
        "--broker", default=os.environ.get("DIALGUARD_BROKER__URL", "mqtt://127.0.0.1:1883")
    )
    p.add_argument("--agents", type=int, default=5)
    p.add_argument("--prefix", default="agent")
    p.add_argument("--group", default="default")
    p.add_argument("--topic-prefix", default="dialguard")
    p.add_argument("--wrap", type=float, default=5.0, help="wrap-up seconds")
    p.add_argument("--heartbeat", type=float, default=5.0, help="heartbeat seconds")
    p.add_argument("--ca-file", default=None, help="CA certificate for an mqtts:// broker")
    p.add_argument(
        "--password-env",
        default="DIALGUARD_AGENT_PASSWORD",
        help="environment variable holding the agents' broker password (unset: anonymous)",
    )
    args = p.parse_args(argv)
    try:
        agents = make_agents(
            args.agents,
            args.broker,
            prefix=args.prefix,
            topics=Topics(args.topic_prefix),
            group=args.group,
            behaviour=AgentBehaviour(wrap_s=args.wrap, heartbeat_s=args.heartbeat),
            password=os.environ.get(args.password_env) or None,
            tls_ca_file=args.ca_file,
        )
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    configure_logging("info")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_agents(agents))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
