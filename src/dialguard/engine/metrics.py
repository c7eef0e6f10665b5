"""Prometheus metrics for the engine, and the small HTTP listener that serves them.

Each engine gets its own ``CollectorRegistry`` (not the process-global one), so tests
and the demo can run several engines in one process without metric name clashes.

The listener answers two paths: ``/metrics`` (Prometheus text format) and ``/healthz``
(JSON, 200 when the engine can dial, 503 when it fails closed — broker lost, no store).
prometheus-client's own server is thread-based and cannot report health, so this is a
minimal asyncio HTTP/1.1 responder for those two GETs; nothing else is served.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST


class EngineMetrics:
    """Every metric the engine exports, on one registry."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.dials = Counter("dialguard_dials", "Dials launched", ["campaign"], registry=r)
        self.answers = Counter(
            "dialguard_answers", "Calls answered (live or machine)", ["campaign"], registry=r
        )
        self.connects = Counter(
            "dialguard_connects", "Answered calls connected to an agent", ["campaign"], registry=r
        )
        self.abandoned = Counter(
            "dialguard_abandoned",
            "Answered calls not connected to an agent within 2 s",
            ["campaign", "reason"],
            registry=r,
        )
        self.outcomes = Counter(
            "dialguard_call_outcomes",
            "Attempts by final outcome",
            ["campaign", "outcome"],
            registry=r,
        )
        self.agent_states_ignored = Counter(
            "dialguard_agent_states_ignored",
            "Agent state messages ignored (unknown_agent: not on the roster; clock_skew; "
            "stale_seq, old_session, seq_conflict: ordering)",
            ["reason"],
            registry=r,
        )
        self.skips = Counter(
            "dialguard_contact_skips",
            "Contacts skipped by a compliance rule",
            ["campaign", "rule"],
            registry=r,
        )
        self.opt_outs = Counter(
            "dialguard_opt_outs",
            "Numbers put on the internal DNC list by keypress",
            ["campaign"],
            registry=r,
        )
        self.trunk_paused = Gauge(
            "dialguard_trunk_paused",
            "1 while new dials are held back because the trunk refuses calls (503/408)",
            registry=r,
        )
        self.store_writes_failing = Gauge(
            "dialguard_store_writes_failing",
            "1 while store writes fail (no new dials until they succeed)",
            registry=r,
        )
        self.reservations = Gauge(
            "dialguard_reservations",
            "Agents reserved for calls in flight",
            ["campaign"],
            registry=r,
        )
        self.in_flight = Gauge(
            "dialguard_dials_in_flight",
            "Dials not yet answered or failed",
            ["campaign"],
            registry=r,
        )
        self.pacing_level = Gauge(
            "dialguard_pacing_level",
            "Current dial level (lines per available agent)",
            ["campaign"],
            registry=r,
        )
        self.abandon_rate = Gauge(
            "dialguard_abandon_rate",
            "Abandon rate over the regulator's window",
            ["campaign", "window"],
            registry=r,
        )
        self.campaign_blocked = Gauge(
            "dialguard_campaign_blocked",
            "1 while a campaign is held for this reason (mqtt.contract.BlockCode)",
            ["campaign", "reason"],
            registry=r,
        )
        self.agents = Gauge("dialguard_agents", "Agents by state", ["state"], registry=r)
        self.broker_connected = Gauge(
            "dialguard_broker_connected", "1 while the MQTT link is up and resynced", registry=r
        )
        self.admission_window = Gauge(
            "dialguard_admission_window",
            "Launches that may be under way at once (pacing.admission)",
            registry=r,
        )
        self.answer_to_agent = Histogram(
            "dialguard_answer_to_agent_seconds",
            "Time from 200 OK to the agent's answer",
            ["campaign"],
            buckets=(0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0),
            registry=r,
        )

        # What a soak watches for leaks: the library's process figures (resident memory,
        # open file descriptors, CPU seconds) and the event loop's task count.
        ProcessCollector(registry=r)
        self.tasks = Gauge("dialguard_asyncio_tasks", "Tasks alive on the event loop", registry=r)
        self.tasks.set_function(_loop_tasks)

    def render(self) -> bytes:
        return generate_latest(self.registry)


def _loop_tasks() -> float:
    """Tasks on the running loop (scrapes run on it); 0 when read off the loop."""
    try:
        return float(len(asyncio.all_tasks()))
    except RuntimeError:
        return 0.0


HealthFn = Callable[[], dict[str, Any]]


class MetricsServer:
    """Serves ``/metrics`` and ``/healthz`` on host:port until stopped."""

    def __init__(self, metrics: EngineMetrics, health: HealthFn, host: str, port: int) -> None:
        self._metrics = metrics
        self._health = health
        self._host = host
        self._port = port
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        """The bound port (useful when configured as 0)."""
        if self._server is None or not self._server.sockets:
            return self._port
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, self._host, self._port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            method, path, *_ = request.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
            status, ctype, body = self._respond(method, path.split("?", 1)[0])
            head = (
                f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            writer.write(head.encode("latin-1") + body)
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, ValueError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    def _respond(self, method: str, path: str) -> tuple[str, str, bytes]:
        if method != "GET":
            return "405 Method Not Allowed", "text/plain", b"GET only\n"
        if path == "/metrics":
            return "200 OK", CONTENT_TYPE_LATEST, self._metrics.render()
        if path in ("/healthz", "/health"):
            h = self._health()
            status = "200 OK" if h.get("ok") else "503 Service Unavailable"
            return status, "application/json", json.dumps(h).encode() + b"\n"
        return "404 Not Found", "text/plain", b"try /metrics or /healthz\n"
