"""The bridge between asyncio and sippy's thread: results, errors, and wake-up latency."""

from __future__ import annotations

import statistics
import threading
import time

import pytest

from dialguard.sip._sippy_bridge import sippy_thread


async def test_run_executes_in_the_sippy_thread_and_returns_its_result() -> None:
    bridge = sippy_thread()
    assert sippy_thread() is bridge  # one thread for the whole process
    ident = await bridge.run(threading.get_ident)
    assert ident == bridge.ident != threading.get_ident()
    assert await bridge.run(lambda a, b: a + b, 2, 3) == 5


async def test_run_raises_the_callees_exception_here() -> None:
    def boom() -> None:
        raise KeyError("from sippy")

    with pytest.raises(KeyError, match="from sippy"):
        await sippy_thread().run(boom)


async def test_call_survives_an_exception_and_the_thread_keeps_running() -> None:
    bridge = sippy_thread()
    bridge.call(lambda: 1 / 0)  # logged, not raised, not fatal
    assert await bridge.run(lambda: "alive") == "alive"


async def test_a_queued_call_runs_at_once_not_at_the_next_tick() -> None:
    """sippy's loop ticks every 10 ms; its waker must wake it for a queued call."""
    bridge = sippy_thread()
    delays = []
    for _ in range(30):
        t0 = time.perf_counter()
        t1 = await bridge.run(time.perf_counter)
        delays.append(t1 - t0)
    assert statistics.median(delays) < 0.003, delays


def test_monotonic_of_converts_sippy_stamps_to_the_loop_clock() -> None:
    from sippy.Time.MonoTime import MonoTime

    bridge = sippy_thread()
    stamp = MonoTime()
    time.sleep(0.05)
    seen = bridge.monotonic_of(stamp)
    assert 0.04 <= time.monotonic() - seen <= 0.1
