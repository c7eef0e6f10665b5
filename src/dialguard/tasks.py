"""Tasks started from a callback that cannot own a :class:`asyncio.TaskGroup`.

A signal handler, a datagram protocol's ``datagram_received`` or a desktop's message
handler must start work and return at once. Such tasks still need an owner: something
that holds a strong reference (the loop keeps only a weak one), says at once when one
fails (rather than "Task exception was never retrieved" at exit, or never), and cancels
and awaits the rest when its owner stops. :class:`TaskSet` is that owner; everywhere
else the house rule is a ``TaskGroup``.

A leaf module (it imports nothing of dialguard's) so that every layer may use it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

import structlog

log = structlog.get_logger(__name__)


class TaskSet:
    """Owns tasks started from callbacks: ``spawn`` them, ``close()`` at the end."""

    def __init__(self, owner: str) -> None:
        self.owner = owner  # named in the log line of a failed task
        self._tasks: set[asyncio.Task[Any]] = set()
        self.failed = 0

    def spawn(
        self, coro: Coroutine[Any, Any, Any], *, name: str | None = None
    ) -> asyncio.Task[Any]:
        """Start ``coro`` now; a failure is logged the moment it happens."""
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            self.failed += 1
            log.error(
                "background_task_failed",
                owner=self.owner,
                task=task.get_name(),
                error=repr(error),
                exc_info=error,
            )

    def __len__(self) -> int:
        return len(self._tasks)

    async def close(self) -> None:
        """Cancel what is still running and wait until every task has finished."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
