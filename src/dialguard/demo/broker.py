"""Find or start an MQTT broker, so ``dialguard demo`` runs on a bare machine.

Order of preference, each a real MQTT broker on loopback:

1. ``external``: one already answers an MQTT CONNECT on the configured host:port
   (a site's mosquitto, the developer's, the CI's). It is used and never stopped.
2. ``mosquitto``: the binary is installed, so a private one is started on a free
   127.0.0.1 port with a throw-away config in ``workdir`` (no persistence, anonymous,
   loopback only) and stopped on :meth:`BrokerHandle.close`.
3. ``embedded``: amqtt (the ``[demo]`` extra) runs in-process on a free loopback port.
   It speaks MQTT 3.1.1 only, which is all the engine and the simulated agents use.

Production deployments point the engine at their own broker; this is for the demo and
for tests on machines without mosquitto, which is why it lives in ``dialguard.demo`` and
not in the engine: the daemon never imports it, and amqtt is no runtime dependency.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import shutil
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import aiomqtt

from dialguard.logs import get_logger

log = get_logger("dialguard.demo.broker")

BrokerKind = Literal["external", "mosquitto", "embedded"]
Preference = Literal["auto", "mosquitto", "embedded"]


class NoBrokerError(RuntimeError):
    """No broker answers and none could be started; the message says what to install."""


@dataclass
class BrokerHandle:
    """A broker the caller may use at :attr:`url`; :meth:`close` stops it if we own it."""

    url: str
    kind: BrokerKind
    _close: Callable[[], Awaitable[None]] | None = field(default=None, repr=False)

    @property
    def host(self) -> str:
        return self.url.removeprefix("mqtt://").rsplit(":", 1)[0]

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    async def close(self) -> None:
        if self._close is not None:
            close, self._close = self._close, None
            await close()


async def mqtt_answers(host: str, port: int, timeout_s: float = 2.0) -> bool:
    """True if an MQTT broker accepts a CONNECT at host:port (an open port is not enough:
    it might be anything)."""
    try:
        async with asyncio.timeout(timeout_s):
            client = aiomqtt.Client(host, port, timeout=timeout_s, identifier=None)
            async with client:
                return True
    except (aiomqtt.MqttError, OSError, TimeoutError):
        return False


def free_loopback_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def mosquitto_path() -> str | None:
    found = shutil.which("mosquitto")
    if found:
        return found
    for candidate in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"):
        if Path(candidate).exists():
            return candidate
    return None


async def find_or_start_broker(
    host: str = "127.0.0.1",
    port: int = 1883,
    *,
    workdir: Path,
    prefer: Preference = "auto",
    start_timeout_s: float = 10.0,
) -> BrokerHandle:
    """A usable broker: the configured one if it answers, else one started here.

    ``prefer="embedded"`` skips looking for mosquitto (tests of the embedded path);
    ``prefer="mosquitto"`` refuses to fall back to the embedded broker.
    """
    if await mqtt_answers(host, port):
        log.info("using the broker that answers", broker=f"mqtt://{host}:{port}")
        return BrokerHandle(f"mqtt://{host}:{port}", "external")
    if not _is_loopback(host):
        log.warning("configured broker does not answer; starting one on loopback", host=host)
    binary = mosquitto_path() if prefer != "embedded" else None
    if binary is not None:
        return await _start_mosquitto(binary, workdir, start_timeout_s)
    if prefer == "mosquitto":
        raise NoBrokerError(
            f"no MQTT broker answers on {host}:{port} and mosquitto is not installed "
            "(apt-get install mosquitto)"
        )
    return await _start_embedded(start_timeout_s)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _write_mosquitto_conf(workdir: Path, port: int) -> tuple[Path, Path]:
    workdir.mkdir(parents=True, exist_ok=True)
    conf = workdir / "mosquitto.conf"
    logfile = workdir / "mosquitto.log"
    conf.write_text(
        "# written by dialguard for the demo: loopback only, nothing kept\n"
        f"listener {port} 127.0.0.1\n"
        "allow_anonymous true\n"
        "persistence false\n"
        f"log_dest file {logfile}\n"
    )
    return conf, logfile


def _tail(path: Path, n: int = 800) -> str:
    return path.read_text(errors="replace")[-n:].strip() if path.exists() else ""


async def _start_mosquitto(binary: str, workdir: Path, timeout_s: float) -> BrokerHandle:
    port = free_loopback_port()
    conf, logfile = _write_mosquitto_conf(workdir, port)
    proc = await asyncio.create_subprocess_exec(
        binary,
        "-c",
        str(conf),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )

    async def stop() -> None:
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 5)
            except TimeoutError:
                proc.kill()
                await proc.wait()

    deadline = time.monotonic() + timeout_s
    while not await mqtt_answers("127.0.0.1", port, 0.5):
        if proc.returncode is not None or time.monotonic() > deadline:
            await stop()
            tail = _tail(logfile)
            raise NoBrokerError(f"mosquitto did not start on 127.0.0.1:{port}: {tail}")
        await asyncio.sleep(0.1)
    url = f"mqtt://127.0.0.1:{port}"
    log.info("started a private mosquitto", broker=url, pid=proc.pid)
    return BrokerHandle(url, "mosquitto", stop)


async def _start_embedded(timeout_s: float) -> BrokerHandle:
    try:
        # optional dependency, untyped
        from amqtt.broker import Broker
    except ImportError:
        raise NoBrokerError(
            "no MQTT broker answers, mosquitto is not installed and the embedded broker "
            "is missing: apt-get install mosquitto, or pip install 'dialguard[demo]'"
        ) from None
    # amqtt logs every packet at INFO through the standard library; keep the demo quiet.
    logging.getLogger("amqtt").setLevel(logging.WARNING)
    logging.getLogger("transitions").setLevel(logging.WARNING)
    port = free_loopback_port()
    config: dict[str, Any] = {
        "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    }
    broker = Broker(config)
    await broker.start()

    async def stop() -> None:
        with contextlib.suppress(Exception):
            await broker.shutdown()

    deadline = time.monotonic() + timeout_s
    while not await mqtt_answers("127.0.0.1", port, 0.5):
        if time.monotonic() > deadline:
            await stop()
            raise NoBrokerError(f"embedded broker did not answer on 127.0.0.1:{port}")
        await asyncio.sleep(0.05)
    url = f"mqtt://127.0.0.1:{port}"
    log.info("started an embedded broker (amqtt, MQTT 3.1.1)", broker=url)
    return BrokerHandle(url, "embedded", stop)
