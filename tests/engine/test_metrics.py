"""The metrics listener serves Prometheus text and an honest health check."""

from __future__ import annotations

import asyncio
from typing import Any

from dialguard.engine.metrics import EngineMetrics, MetricsServer


async def _get(port: int, path: str, method: str = "GET") -> tuple[int, str]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"{method} {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    await writer.drain()
    data = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    head, _, body = data.decode().partition("\r\n\r\n")
    return int(head.split(" ")[1]), body


async def test_metrics_and_health() -> None:
    m = EngineMetrics()
    m.dials.labels("spring").inc(3)
    m.abandoned.labels("spring", "agent_lost").inc()
    health: dict[str, Any] = {"ok": True, "broker": "connected"}
    srv = MetricsServer(m, lambda: health, "127.0.0.1", 0)
    await srv.start()
    try:
        code, body = await _get(srv.port, "/metrics")
        assert code == 200
        assert 'dialguard_dials_total{campaign="spring"} 3.0' in body
        assert 'dialguard_abandoned_total{campaign="spring",reason="agent_lost"} 1.0' in body
        # leak watch for soaks: process figures and the loop's live tasks (this one, the
        # server's, the connection's: more than zero)
        assert "process_resident_memory_bytes" in body and "process_open_fds" in body
        tasks = [ln for ln in body.splitlines() if ln.startswith("dialguard_asyncio_tasks ")]
        assert tasks and float(tasks[0].split()[1]) >= 1
        code, body = await _get(srv.port, "/healthz")
        assert code == 200 and '"broker": "connected"' in body
        health["ok"] = False  # fail closed → 503, so an orchestrator sees it
        code, _ = await _get(srv.port, "/healthz")
        assert code == 503
        code, _ = await _get(srv.port, "/nope")
        assert code == 404
        code, _ = await _get(srv.port, "/metrics", "POST")
        assert code == 405
    finally:
        await srv.stop()


def test_two_engines_do_not_share_metrics() -> None:
    a, b = EngineMetrics(), EngineMetrics()
    a.dials.labels("x").inc()
    assert b'dialguard_dials_total{campaign="x"}' not in b.render()
