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

A write that can never succeed (a constraint violation: a bug; a write for a campaign
whose lease another node took) is logged with its error and dropped, so it cannot block
every write after it.

Write-behind: the attempt row's updates after the INVITE (ringing, answered, connected,
outcome …) are queued as values (:class:`~dialguard.store.AttemptUpdate`) with
:meth:`StoreWrites.update`, and the writer takes every update waiting at the head of the
queue (having waited up to :data:`BATCH_EVERY_S` for more, while nothing else is
queued behind them) into one transaction per store
(``Attempts.apply_updates``): one per campaign on a shared store, where each runner's
store is fenced by its campaign's lease, so every update is still checked against its
own lease and a lost lease drops only that campaign's updates. A batch that fails as a
whole on an error that is not transient is written again one update at a time, so only
the update at fault is dropped. A write that is not an attempt update (a contact's
settlement, an internal DNC entry) ends the batch before it and runs alone, so the
store always holds a prefix of what was submitted, as it did with one transaction per
write: a crash loses only the tail of the queue, which recovery reconciles.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

from dialguard.logs import get_logger
from dialguard.store import AttemptUpdate, Store, UnknownRecord, is_transient

log = get_logger(__name__)

RETRY_MIN_S: Final = 0.2
RETRY_MAX_S: Final = 2.0
"""Backoff between retries of a failing write (so dialling resumes ≤ 2 s after the
store recovers, plus the drain)."""
CLOSED_AFTER_FAILED_ROW_S: Final = 1.0
"""How long dialling stays closed after an attempt row could not be written."""
MAX_PENDING: Final = 50_000
"""Queue depth at which new dials stop even if writes succeed (the store is too slow)."""
BATCH_EVERY_S: Final = 0.005
"""At most one batch of attempt updates this often: the updates of a few milliseconds
share a transaction (the first after a quiet spell waits that long, off every call's
critical path: its events reached the pacer before it was queued)."""
MAX_BATCH: Final = 500
"""Attempt updates in one transaction at most (a backlog drains in transactions this big
rather than one that holds the store's write lock for seconds)."""

Write = Callable[[], Awaitable[object]]


@dataclass(slots=True)
class _Item:
    what: str
    write: Write


@dataclass(slots=True)
class _Update:
    store: Store
    update: AttemptUpdate


@dataclass(slots=True)
class WriteStats:
    """For metrics, status and tests."""

    done: int = 0
    retried: int = 0
    dropped: int = 0
    batches: int = 0  # transactions of attempt updates (``done`` counts each update)
    failing_since: float | None = None  # monotonic; None while writes succeed


class StoreWrites:
    """One engine's queue of store writes; :meth:`run` is its writer task."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._queue: deque[_Item | _Update] = deque()
        self._inflight: list[_Item | _Update] = []  # taken from the head, not yet written
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._clock = clock
        self._closed_until = -1e300
        self._row_failures = 0
        self._batch_at = -1e300  # loop time the last batch of updates was taken
        self._writes_queued = 0  # entries in the queue that are not attempt updates
        self.stats = WriteStats()

    # --- for call jobs and runners -------------------------------------------------------

    def submit(self, what: str, write: Write) -> None:
        """Queue ``write`` (a coroutine function); ``what`` names it in the log."""
        self._push(_Item(what, write))

    def update(self, store: Store, update: AttemptUpdate) -> None:
        """Queue one step of an attempt row, to be written in a batch through ``store``
        (the campaign's own: fenced by its lease on a shared store)."""
        self._push(_Update(store, update))

    def _push(self, entry: _Item | _Update) -> None:
        if isinstance(entry, _Item):
            self._writes_queued += 1
        self._queue.append(entry)
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
            and self.pending < MAX_PENDING
            and self._clock() >= self._closed_until
        )

    @property
    def pending(self) -> int:
        return len(self._queue) + len(self._inflight)

    # --- the writer ----------------------------------------------------------------------

    async def run(self) -> None:
        """Apply queued writes until cancelled (cancel only after :meth:`drain`)."""
        loop = asyncio.get_running_loop()
        delay = RETRY_MIN_S
        while True:
            if not self._inflight:
                if not self._queue:
                    self._idle.set()
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                if isinstance(self._queue[0], _Update):
                    wait = self._batch_at + BATCH_EVERY_S - loop.time()
                    if wait > 0 and self._batch_may_grow():
                        await asyncio.sleep(wait)  # let the next few milliseconds join
                    self._batch_at = loop.time()
                self._inflight = self._take()
            failure = await self._write(self._inflight)
            if failure is not None:
                what, error = failure
                self.stats.retried += 1
                if self.stats.failing_since is None:
                    self.stats.failing_since = self._clock()
                    log.error(
                        "store_write_failed",
                        what=what,
                        error=repr(error),
                        pending=self.pending,
                        note="no new dials until the store takes writes again",
                    )
                await asyncio.sleep(delay)
                delay = min(RETRY_MAX_S, delay * 2)
                continue
            delay = RETRY_MIN_S
            if self.stats.failing_since is not None:
                log.warning(
                    "store_writes_recovered",
                    failed_for_s=round(self._clock() - self.stats.failing_since, 3),
                    pending=self.pending,
                )
                self.stats.failing_since = None

    def _batch_may_grow(self) -> bool:
        """Could waiting add to the batch at the head? Only if it is all of the queue
        and not full: a write queued behind it already ends it, so at load (a contact's
        settlement behind every call's updates) batches go out back to back instead of
        one per :data:`BATCH_EVERY_S`."""
        return self._writes_queued == 0 and len(self._queue) < MAX_BATCH

    def _take(self) -> list[_Item | _Update]:
        """The head of the queue: one write, or the attempt updates up to the next write
        that is not one (at most :data:`MAX_BATCH`)."""
        queue = self._queue
        if isinstance(queue[0], _Item):
            self._writes_queued -= 1
            return [queue.popleft()]
        taken: list[_Item | _Update] = []
        while queue and len(taken) < MAX_BATCH and isinstance(queue[0], _Update):
            taken.append(queue.popleft())
        return taken

    async def _write(self, entries: list[_Item | _Update]) -> tuple[str, Exception] | None:
        """Write ``entries``, removing from it each one written or dropped; what failed
        and why if some are left (a transient failure: they are retried, in order)."""
        head = entries[0]
        if isinstance(head, _Item):
            try:
                await head.write()
            except Exception as e:
                if is_transient(e):
                    return head.what, e
                self.stats.dropped += 1
                log.exception("store_write_dropped", what=head.what, error=repr(e))
            else:
                self.stats.done += 1
            entries.clear()
            return None
        groups: dict[int, list[_Update]] = {}
        for entry in entries:
            assert isinstance(entry, _Update)  # _take never mixes the two
            groups.setdefault(id(entry.store), []).append(entry)
        if len(groups) == 1:  # one store (always, on SQLite): no task to gather
            results = [await self._write_batch(next(iter(groups.values())))]
        else:  # one per campaign's fenced store, each on a connection of the pool
            results = await asyncio.gather(*(self._write_batch(g) for g in groups.values()))
        left = {id(u) for unwritten, _ in results for u in unwritten}
        entries[:] = [e for e in entries if id(e) in left]
        return next((failure for _, failure in results if failure is not None), None)

    async def _write_batch(
        self, batch: list[_Update]
    ) -> tuple[list[_Update], tuple[str, Exception] | None]:
        """One store's updates in one transaction; if that fails for good, one by one.
        The updates left unwritten (a transient failure, at the first one) and why."""
        store = batch[0].store
        try:
            missing = await store.attempts.apply_updates([u.update for u in batch])
        except Exception as e:
            if is_transient(e):
                return batch, (_named(batch), e)
            if len(batch) == 1:
                self._drop(batch[0], e)
                return [], None
            return await self._write_singly(batch)
        self.stats.batches += 1
        for u in batch:
            if u.update.attempt_id in missing:
                self._drop(u, UnknownRecord(f"attempt {u.update.attempt_id} is not in the store"))
            else:
                self.stats.done += 1
        return [], None

    async def _write_singly(
        self, batch: list[_Update]
    ) -> tuple[list[_Update], tuple[str, Exception] | None]:
        """After a batch failed for good: each update alone, so only the one at fault
        (or each of a campaign whose lease was lost) is dropped, each logged by name."""
        for i, u in enumerate(batch):
            left, failure = await self._write_batch([u])
            if left:
                return batch[i:], failure
        return [], None

    def _drop(self, entry: _Update, error: BaseException) -> None:
        """An update that can never be written: logged by name, then forgotten."""
        self.stats.dropped += 1
        log.error("store_write_dropped", what=str(entry.update), error=repr(error))

    async def drain(self, within_s: float) -> bool:
        """Wait until every queued write is done; False if some are left after
        ``within_s`` (they are logged: the records will be reconciled on restart)."""
        try:
            async with asyncio.timeout(within_s):
                await self._idle.wait()
        except TimeoutError:
            log.error("store_writes_lost_at_stop", pending=self.pending)
            return False
        return True


def _named(batch: list[_Update]) -> str:
    first = str(batch[0].update)
    return first if len(batch) == 1 else f"{first} and {len(batch) - 1} more attempt updates"
