"""The one entry point: an open store file and its repositories, one per table.

::

    async with await Store.open(path) as store:
        await store.campaigns.upsert("spring", "Spring renewals", cfg_json)
        attempt_id = await store.attempts.open(campaign_id="spring", ...)
        await store.attempts.mark_answered(attempt_id, at)

The repositories share the one :class:`~dialguard.store.database.Database` that owns the
connection and its transactions; the store holds no SQL of its own.
"""

from __future__ import annotations

import time
from pathlib import Path
from types import TracebackType
from typing import Self

from dialguard.store.answer_stats import AnswerStats
from dialguard.store.attempts import Attempts
from dialguard.store.audit import AuditLog, Skips
from dialguard.store.campaigns import Campaigns
from dialguard.store.contacts import Contacts
from dialguard.store.database import Clock, Database
from dialguard.store.dnc import DncLists
from dialguard.store.handoffs import Handoffs

__all__ = ["Store"]


class Store:
    """One open store file. Create with ``await Store.open(path)``; close when done.

    ``campaigns``, ``contacts``, ``dnc``, ``attempts``, ``skips`` and ``audit`` are its
    tables, each behind the named reads and writes its callers need.
    """

    def __init__(self, database: Database) -> None:
        self._database = database
        self.campaigns = Campaigns(database)
        self.contacts = Contacts(database)
        self.dnc = DncLists(database)
        self.attempts = Attempts(database)
        self.skips = Skips(database)
        self.audit = AuditLog(database)
        self.answer_stats = AnswerStats(database)
        self.handoffs = Handoffs(database)

    @classmethod
    async def open(
        cls, path: Path | str, *, clock: Clock = time.time, busy_timeout_s: float = 5.0
    ) -> Self:
        """Open (creating if needed) the store at ``path`` and bring its schema up to date.

        Raises :class:`~dialguard.store.SchemaTooNew` if a newer dialguard wrote the file
        and :class:`~dialguard.store.StoreError` if it is not an SQLite database or
        cannot be created.
        """
        return cls(await Database.open(path, clock=clock, busy_timeout_s=busy_timeout_s))

    @property
    def path(self) -> str:
        return self._database.path

    async def schema_version(self) -> int:
        return await self._database.schema_version()

    async def close(self) -> None:
        await self._database.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
