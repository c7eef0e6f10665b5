"""The one thread that runs sippy, and the two calls that cross into and out of it.

sippy is a callback-driven RFC 3261 stack built around a process-wide event dispatcher
(``ED2``) that must run in a single thread: its timers complain (and misbehave) when
armed from any other thread. dialguard's engine is pure asyncio. This module is the
whole bridge between them, kept small on purpose:

* :func:`sippy_thread` starts, once per process, a daemon thread that imports sippy and
  runs ``ED2.loop()`` for ever. Every SIP trunk and every call in the process shares it.
* asyncio → sippy: :meth:`SippyThread.call` queues a function with ED2's
  ``callFromThread`` (fire and forget); :meth:`SippyThread.run` does the same and awaits
  its result on the caller's loop.
* sippy → asyncio: code running in the sippy thread hands results back with
  ``loop.call_soon_threadsafe`` (see :mod:`dialguard.sip.adapter`); nothing here blocks.

ED2's cross-thread waker must belong to the thread that runs the loop, or a queued call
waits for the loop's next 10 ms tick (measured: originate→INVITE p50 6 ms instead of
0.3 ms). sippy is imported inside the thread, and if it was imported elsewhere first,
the waker is rebuilt there.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from dialguard.logs import get_logger

log = get_logger(__name__)

T = TypeVar("T")

_START_TIMEOUT_S = 10.0


class SippyThread:
    """The running sippy event loop; get it with :func:`sippy_thread`."""

    def __init__(self) -> None:
        self._ready = threading.Event()
        self._ed2: Any = None
        self._monotime: Any = None
        self._error: BaseException | None = None
        self.ident: int | None = None
        self._thread = threading.Thread(target=self._main, name="sippy", daemon=True)
        self._thread.start()
        if not self._ready.wait(_START_TIMEOUT_S):
            raise RuntimeError("sippy thread did not start within 10 s")
        if self._error is not None:
            raise RuntimeError(f"sippy could not start: {self._error}") from self._error

    def _main(self) -> None:
        try:
            from sippy.Core.EventDispatcher import ED2
            from sippy.Time.MonoTime import MonoTime
        except BaseException as e:  # pragma: no cover - broken install
            self._error = e
            self._ready.set()
            return
        # ED2 is a singleton created at import. If sippy was first imported in another
        # thread, claim it for this one: its timers check the owning thread, and its
        # cross-thread waker signals the thread that created it — rebuilt here so a
        # queued call wakes this loop at once instead of at its next 10 ms tick.
        if ED2.my_ident != threading.get_ident():
            from elperiodic.ElPeriodic import ElPeriodic

            freq = ED2.bands[0][0]
            ED2.elp = ElPeriodic(freq)
            ED2.elp.CFT_enable(signal.SIGURG)
            ED2.bands = [(freq, 0)]
        ED2.my_ident = threading.get_ident()
        self.ident = ED2.my_ident
        self._ed2 = ED2
        self._monotime = MonoTime
        self._ready.set()
        while True:
            try:
                ED2.loop()
            except Exception:  # pragma: no cover - sippy already logs its own errors
                log.exception("sippy_loop_error")

    def in_thread(self) -> bool:
        return threading.get_ident() == self.ident

    def call(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` in the sippy thread soon; exceptions are logged, not raised."""

        def guarded() -> None:
            try:
                fn(*args)
            except Exception:
                log.exception("sippy_call_failed", fn=getattr(fn, "__qualname__", repr(fn)))

        if self.in_thread():
            guarded()
        else:
            self._ed2.callFromThread(guarded)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` in the sippy thread and await its result (or exception)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()

        def settle(ok: bool, value: Any) -> None:
            if future.done():
                return
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)

        def job() -> None:
            try:
                result: Any = fn(*args)
                ok = True
            except BaseException as e:
                result, ok = e, False
            with contextlib.suppress(RuntimeError):  # the loop closed while we ran
                loop.call_soon_threadsafe(settle, ok, result)

        self._ed2.callFromThread(job)
        return await future

    def monotonic_of(self, rtime: Any) -> float:
        """``time.monotonic()`` value of a sippy ``MonoTime`` stamp (sippy reads a raw
        monotonic clock; the asyncio loop reads ``time.monotonic``): now, minus its age."""
        if rtime is None:
            return time.monotonic()
        age = float(self._monotime().monot - rtime.monot)
        return time.monotonic() - max(0.0, age)


_instance: SippyThread | None = None
_instance_lock = threading.Lock()


def sippy_thread() -> SippyThread:
    """The process's sippy thread, started on first use."""
    global _instance
    with _instance_lock:
        if _instance is None:
            _instance = SippyThread()
        return _instance
