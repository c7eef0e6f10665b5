"""The client side of the MQTT contract: connect to the configured broker, back off
between attempts, and the supervisor's two round trips (a request and its reply, the
engine's retained status).

Every front end uses these, not a client of its own: the engine's
:class:`~dialguard.engine.mqtt.BrokerLink`, ``dialguard campaign`` and ``dialguard
status``, the web console, the demo's desktops and centre. So TLS, credentials, the MQTT
version and the reply matching are decided once. Only MQTT 3.1.1 features are used (no
v5 properties), so everything also works against the embedded broker the demo may start.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import ssl
from dataclasses import dataclass
from typing import Final

import aiomqtt

from dialguard.config import BrokerConfig
from dialguard.logs import get_logger
from dialguard.mqtt.contract import (
    ControlReply,
    ControlRequest,
    EngineStatus,
    PacingChangeRequest,
    PayloadError,
    Topics,
    encode,
    parse_payload,
)

log = get_logger("dialguard.mqtt.client")

QOS: Final = 1
"""Every dialguard message is sent at least once; requests are idempotent by id."""


def make_client(
    broker: BrokerConfig, *, client_id: str | None, will: aiomqtt.Will | None = None
) -> aiomqtt.Client:
    """An aiomqtt client for the configured broker: credentials, TLS for ``mqtts://``,
    MQTT 3.1.1, clean session (state comes back from retained messages, not the
    broker's session store)."""
    tls_context: ssl.SSLContext | None = None
    if broker.url.startswith("mqtts://"):
        cafile = str(broker.tls_ca_file) if broker.tls_ca_file else None
        tls_context = ssl.create_default_context(cafile=cafile)
    return aiomqtt.Client(
        broker.host,
        broker.port,
        identifier=client_id,
        username=broker.username,
        password=broker.password.get_secret_value() if broker.password else None,
        keepalive=broker.keepalive_s,
        will=will,
        clean_session=True,
        timeout=5.0,
        tls_context=tls_context,
        protocol=aiomqtt.ProtocolVersion.V311,
    )


class BrokerLinkDown(ConnectionError):
    """Raised by the publish helpers while the broker is unreachable; the caller must
    treat the message as not delivered (e.g. play the information message instead)."""


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with full jitter: attempt n waits U(min, min(cap, base·2ⁿ))."""

    base_s: float = 0.2
    cap_s: float = 10.0
    min_s: float = 0.05

    def delay(self, attempt: int, rng: random.Random) -> float:
        ceiling = min(self.cap_s, self.base_s * 2 ** min(attempt, 30))
        return rng.uniform(self.min_s, max(self.min_s, ceiling))


async def send_request(
    broker: BrokerConfig,
    campaign: str,
    request: ControlRequest | PacingChangeRequest,
    *,
    within_s: float = 5.0,
) -> ControlReply:
    """Publish a supervisor request and wait for the engine's reply to it.

    Raises :class:`BrokerLinkDown` if the broker cannot be reached and
    :class:`TimeoutError` if no engine answers within ``within_s`` (the daemon is not
    running, or not subscribed to this campaign's prefix).
    """
    topics = Topics(broker.topic_prefix)
    if isinstance(request, ControlRequest):
        topic = topics.campaign_control(campaign)
    else:
        topic = topics.campaign_pacing(campaign)
    events = topics.campaign_events(campaign)
    try:
        async with make_client(broker, client_id=None) as client:
            await client.subscribe(events, qos=QOS)  # before publishing: never miss it
            await client.publish(topic, encode(request), qos=QOS)
            async with asyncio.timeout(within_s):
                async for message in client.messages:
                    raw = message.payload if isinstance(message.payload, bytes) else b""
                    try:
                        reply = parse_payload(ControlReply, events, raw)
                    except PayloadError as e:
                        log.warning("bad reply ignored", topic=e.topic, problem=e.problem)
                        continue
                    if reply.request_id == request.request_id:
                        return reply
    except aiomqtt.MqttError as e:
        raise BrokerLinkDown(f"broker {broker.url}: {e}") from e
    except TimeoutError:
        raise TimeoutError(
            f"no reply from the engine on {events} within {within_s:g} s: is the daemon running?"
        ) from None
    raise BrokerLinkDown(f"broker {broker.url} closed the connection")  # pragma: no cover


async def read_status(broker: BrokerConfig, *, within_s: float = 3.0) -> EngineStatus | None:
    """The engine's last retained status snapshot, or ``None`` if there is none (no
    engine has run against this broker and prefix). Check ``broker_connected`` and
    ``ts`` to tell a live engine from a dead one's last word.
    Raises :class:`BrokerLinkDown` if the broker cannot be reached."""
    topic = Topics(broker.topic_prefix).engine_status
    try:
        async with make_client(broker, client_id=None) as client:
            await client.subscribe(topic, qos=QOS)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(within_s):
                    async for message in client.messages:
                        raw = message.payload if isinstance(message.payload, bytes) else b""
                        try:
                            return parse_payload(EngineStatus, topic, raw)
                        except PayloadError as e:
                            log.warning("bad status ignored", topic=e.topic, problem=e.problem)
    except aiomqtt.MqttError as e:
        raise BrokerLinkDown(f"broker {broker.url}: {e}") from e
    return None
