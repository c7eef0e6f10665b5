"""A scripted trunk and a store that fails on demand, for unit tests of the runner and
the call job (the end-to-end tests use the real SIP simulator and a real broker).

:class:`ScriptedCall` implements the :class:`dialguard.sip.api.TrunkCall` contract with events
a test pushes (ring, answer, end) and a transfer whose delay the test chooses.
:class:`FlakyStore` is a real SQLite store whose chosen methods raise the error SQLite
gives on a full disk until the test heals them.
"""

from __future__ import annotations

import asyncio
import fnmatch
import sqlite3
from collections.abc import AsyncIterator, Callable
from typing import Any

from dialguard.sip.api import Prompt, TrunkEvent, TrunkEventKind
from dialguard.store import Store


class ScriptedCall:
    """One outbound call whose far end the test drives."""

    def __init__(self, number: str, n: int, transfer_s: float | None) -> None:
        self.call_id = f"call-{n}"
        self.number = number
        self.transfer_s = transfer_s  # None: the REFER never gets an answer
        self.transfers: list[tuple[float, str]] = []  # (loop time, target)
        self.played_at: float | None = None
        self.answered_t: float | None = None
        self.hung_up = False
        self._events: asyncio.Queue[TrunkEvent | None] = asyncio.Queue()
        self._over = False

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    def push(self, kind: TrunkEventKind, **kw: Any) -> None:
        if self._over:
            return
        self._events.put_nowait(TrunkEvent(kind, self._now(), **kw))
        if kind in (TrunkEventKind.FAILED, TrunkEventKind.ENDED):
            self._over = True
            self._events.put_nowait(None)

    def ring(self) -> None:
        self.push(TrunkEventKind.RINGING)

    def answer(self) -> None:
        self.answered_t = self._now()
        self.push(TrunkEventKind.ANSWERED)

    def end(self, by: str = "remote") -> None:
        self.push(TrunkEventKind.ENDED, by=by)

    async def events(self) -> AsyncIterator[TrunkEvent]:
        while True:
            ev = await self._events.get()
            if ev is None:
                return
            yield ev

    async def cancel(self) -> None:
        self.push(TrunkEventKind.FAILED, code=487)

    async def hangup(self) -> None:
        self.hung_up = True
        if self.answered_t is None:
            self.push(TrunkEventKind.FAILED, code=487)
        else:
            self.end("local")

    async def transfer(self, target_uri: str) -> TrunkEvent:
        self.transfers.append((self._now(), target_uri))
        if self.transfer_s is None:
            await asyncio.Event().wait()
        await asyncio.sleep(self.transfer_s or 0.0)
        return TrunkEvent(TrunkEventKind.TRANSFERRED, self._now(), code=200)

    async def play(self, prompt: Prompt, *, repeat: int = 1) -> None:
        self.played_at = self._now()
        await asyncio.sleep(0.05)


class ScriptedTrunk:
    """Places :class:`ScriptedCall` objects; ``calls`` lists them in order."""

    def __init__(self, transfer_s: float | None = 0.05) -> None:
        self.transfer_s = transfer_s
        self.calls: list[ScriptedCall] = []

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        for c in self.calls:
            await c.hangup()

    def on_orphan_answer(self, handler: Callable[[str], None]) -> None:
        self.orphan_handler = handler

    async def originate(self, to: str, caller_id: str, ring_timeout: float) -> ScriptedCall:
        call = ScriptedCall(to, len(self.calls) + 1, self.transfer_s)
        self.calls.append(call)
        return call


class FlakyStore:
    """A real store; the repository methods named in ``failing`` raise as on a full disk.

    Names are ``"repository.method"`` patterns (``fnmatch``): ``"attempts.open"``,
    ``"attempts.mark_*"``, ``"contacts.*"``.
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self.failing: set[str] = set()
        self.refused = 0

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._store, name)
        if callable(attr) or not hasattr(attr, "__dict__"):
            return attr
        return _FlakyRepository(self, name, attr)

    def fails(self, name: str) -> bool:
        return any(fnmatch.fnmatchcase(name, pattern) for pattern in self.failing)


class _FlakyRepository:
    def __init__(self, store: FlakyStore, name: str, repository: Any) -> None:
        self._store = store
        self._name = name
        self._repository = repository

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._repository, name)
        if not callable(attr):
            return attr
        full = f"{self._name}.{name}"
        store = self._store

        async def call(*args: Any, **kwargs: Any) -> Any:
            if store.fails(full):
                store.refused += 1
                raise sqlite3.OperationalError("database or disk is full")
            return await attr(*args, **kwargs)

        return call
