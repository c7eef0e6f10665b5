"""Store writes after the INVITE: queued, in order, retried until they succeed.

Why a queue: a call's events must reach the pacer at once (an answered call needs its
agent within 2 s) whatever the disk is doing. So a :class:`~dialguard.engine.calls.CallJob`
tells the pacer first and hands its record updates here; one writer task applies them
in the order they were submitted and retries the head while the store refuses it (a
full disk, an I/O error, a lock held too long).

Fail closed: while a write is failing, or just after the one synchronous write (the
attempt row before an INVITE) failed, :attr:`StoreWrites.healthy` is false and the
runners dial nothing new. Calls already up carry on (their records wait in the queue);
when the store takes writes again the queue drains and dialling resumes by itself.

A write that can never succeed (a constraint violation: a bug) is logged with its
error and dropped, so it cannot block every write after it.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

from dialguard.logs import get_logger
from dialguard.store import is_transient

log = get_logger(__name__)

RETRY_MIN_S: Final = 0.2
RETRY_MAX_S: Final = 2.0
"""Backoff between retries of a failing write (so dialling resumes ≤ 2 s after the
store recovers, plus the drain)."""
CLOSED_AFTER_FAILED_ROW_S: Final = 1.0
"""How long dialling stays closed after an attempt row could not be written."""
MAX_PENDING: Final = 50_000
"""Queue depth at which new dials stop even if writes succeed (the store is too slow)."""

Write = Callable[[], Awaitable[object]]


@dataclass(slots=True)
class _Item:
    what: str
    write: Write


@dataclass(slots=True)
class WriteStats:
    """For metrics, status and tests."""

    done: int = 0
    retried: int = 0
    dropped: int = 0
    failing_since: float | None = None  # monotonic; None while writes succeed


class StoreWrites:
    """One engine's queue of store writes; :meth:`run` is its writer task."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._queue: deque[_Item] = deque()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._clock = clock
        self._closed_until = -1e300
        self._row_failures = 0
        self.stats = WriteStats()

    # --- for call jobs and runners -------------------------------------------------------

    def submit(self, what: str, write: Write) -> None:
        """Queue ``write`` (a coroutine function); ``what`` names it in the log."""
        self._queue.append(_Item(what, write))
        self._idle.clear()
        self._wake.set()

    def row_failed(self, what: str, error: BaseException) -> None:
        """A synchronous write (the attempt row, the pick of a contact) failed: no dial
        for a while, longer while it keeps failing."""
        self._row_failures += 1
        hold = min(RETRY_MAX_S * 2, CLOSED_AFTER_FAILED_ROW_S * self._row_failures)
        self._closed_until = self._clock() + hold
        log.error("store_write_failed", what=what, error=repr(error), dialling_paused_s=hold)

    def row_written(self) -> None:
        self._row_failures = 0

    @property
    def healthy(self) -> bool:
        """May the engine dial? False while a write fails or the queue is too deep."""
        return (
            self.stats.failing_since is None
            and len(self._queue) < MAX_PENDING
            and self._clock() >= self._closed_until
        )

    @property
    def pending(self) -> int:
        return len(self._queue)

    # --- the writer ----------------------------------------------------------------------

    async def run(self) -> None:
        """Apply queued writes until cancelled (cancel only after :meth:`drain`)."""
        delay = RETRY_MIN_S
        while True:
            if not self._queue:
                self._idle.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            item = self._queue[0]
            try:
                await item.write()
            except Exception as e:
                if not is_transient(e):
                    self._queue.popleft()
                    self.stats.dropped += 1
                    log.exception("store_write_dropped", what=item.what, error=repr(e))
                    continue
                self.stats.retried += 1
                if self.stats.failing_since is None:
                    self.stats.failing_since = self._clock()
                    log.error(
                        "store_write_failed",
                        what=item.what,
                        error=repr(e),
                        pending=len(self._queue),
                        note="no new dials until the store takes writes again",
                    )
                await asyncio.sleep(delay)
                delay = min(RETRY_MAX_S, delay * 2)
                continue
            self._queue.popleft()
            self.stats.done += 1
            delay = RETRY_MIN_S
            if self.stats.failing_since is not None:
                log.warning(
                    "store_writes_recovered",
                    failed_for_s=round(self._clock() - self.stats.failing_since, 3),
                    pending=len(self._queue),
                )
                self.stats.failing_since = None

    async def drain(self, within_s: float) -> bool:
        """Wait until every queued write is done; False if some are left after
        ``within_s`` (they are logged: the records will be reconciled on restart)."""
        try:
            async with asyncio.timeout(within_s):
                await self._idle.wait()
        except TimeoutError:
            log.error("store_writes_lost_at_stop", pending=len(self._queue))
            return False
        return True
