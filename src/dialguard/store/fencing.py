"""Writes made for a leased campaign, each checked against the lease's fencing token.

A campaign runner on a shared (PostgreSQL) store gets a store whose database is a
:class:`FencedDatabase`: the same repositories, the same connections, but every write
transaction first reads the campaign's lease row (``FOR SHARE``) and raises
:class:`~dialguard.store.leases.LeaseLost` if another node acquired it since. The check
is in the write's own transaction, so there is no gap between checking and writing, and
the row lock makes a takeover wait for a write already under way. Nothing in the
repositories knows about leases: the fence is where their transactions begin.

Reads are not fenced: a stale read cannot dial anybody, the attempt row written before
every INVITE can (and is).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from dialguard.store.database import Database, Row, Tx
from dialguard.store.leases import Lease, check_fence

__all__ = ["FencedDatabase"]


class FencedDatabase(Database):
    """``inner`` with every transaction fenced by ``lease``; closing it closes nothing
    (the store that owns ``inner`` does)."""

    def __init__(self, inner: Database, lease: Lease) -> None:
        super().__init__(inner.path, inner.now)
        self.dialect = inner.dialect
        self.lease = lease
        self._inner = inner

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        async with self._inner.transaction() as tx:
            await check_fence(tx, self.lease, self.dialect.share_row)
            yield tx

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return await self._inner.fetchall(sql, params)

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        return await self._inner.fetchone(sql, params)

    async def close(self) -> None:
        """Nothing to close: the connections belong to the unfenced store."""
