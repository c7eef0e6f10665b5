"""The one entry point: an open store (an SQLite file or a PostgreSQL database) and its
repositories, one per table.

::

    async with await Store.open(path) as store:
        await store.campaigns.upsert("spring", "Spring renewals", cfg_json)
        attempt_id = await store.attempts.open(campaign_id="spring", ...)
        await store.attempts.mark_answered(attempt_id, at)

The repositories share the one :class:`~dialguard.store.database.Database` that owns the
connections and their transactions; the store holds no SQL of its own. Where the store
is says which database: a ``postgresql://`` URL (:func:`is_postgres_url`) opens
:class:`~dialguard.store.postgres.PostgresDatabase` (psycopg is imported only then, so the
embedded SQLite default needs no PostgreSQL driver), anything else is an SQLite file.
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
from dialguard.store.database import Clock, Database, SqliteDatabase
from dialguard.store.dnc import DncLists
from dialguard.store.handoffs import Handoffs
from dialguard.store.leases import Lease, Leases

__all__ = ["Store", "is_postgres_url"]

_PG_SCHEMES = ("postgresql://", "postgres://")


def is_postgres_url(location: Path | str) -> bool:
    """Does ``location`` name a PostgreSQL database (rather than an SQLite file)?"""
    return isinstance(location, str) and location.startswith(_PG_SCHEMES)


class Store:
    """One open store. Create with ``await Store.open(path_or_url)``; close when done.

    ``campaigns``, ``contacts``, ``dnc``, ``attempts``, ``skips`` and ``audit`` are its
    tables, each behind the named reads and writes its callers need; ``leases`` the
    campaign leases of a shared (PostgreSQL) store.
    """

    def __init__(self, database: Database) -> None:
        self._database = database
        self.campaigns = Campaigns(database)
        self.contacts = Contacts(database)
        self.dnc = DncLists(database)
        self.attempts = Attempts(database)
        self.skips = Skips(database)
        self.audit = AuditLog(database)
        self.leases = Leases(database)
        self.answer_stats = AnswerStats(database)
        self.handoffs = Handoffs(database)

    def fenced(self, lease: Lease) -> Store:
        """The same store for the node holding ``lease``: every write it makes checks the
        lease's fencing token in its own transaction (:mod:`dialguard.store.fencing`) and
        raises :class:`~dialguard.store.leases.LeaseLost` once another node took the
        campaign. Closing it closes nothing; this store owns the connections."""
        from dialguard.store.fencing import FencedDatabase

        return Store(FencedDatabase(self._database, lease))

    @classmethod
    async def open(
        cls,
        location: Path | str,
        *,
        clock: Clock = time.time,
        busy_timeout_s: float = 5.0,
        password: str | None = None,
    ) -> Self:
        """Open (creating if needed) the store at ``location`` — an SQLite file's path or
        a ``postgresql://`` URL (its password given apart) — and bring its schema up to
        date.

        Raises :class:`~dialguard.store.SchemaTooNew` if a newer dialguard wrote it and
        :class:`~dialguard.store.StoreError` if it is not a dialguard store or cannot be
        created or reached.
        """
        if is_postgres_url(location):
            from dialguard.store.postgres import PostgresDatabase

            assert isinstance(location, str)
            return cls(await PostgresDatabase.open(location, clock=clock, password=password))
        return cls(await SqliteDatabase.open(location, clock=clock, busy_timeout_s=busy_timeout_s))

    @property
    def path(self) -> str:
        """Where the store is (a file, or the URL as configured: never a password)."""
        return self._database.path

    @property
    def shared(self) -> bool:
        """Can several engines run on this store at once (PostgreSQL), each campaign
        under a lease? An SQLite file has one engine (``engine_lock``)."""
        return self._database.dialect.name == "postgresql"

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
