"""dialguard's records: campaigns, contacts, DNC lists, attempts, skips and audit.

A top-level package (not under ``engine``) because the engine, the import commands and
the reports all read and write it. SQLite via aiosqlite in WAL mode; the schema is
versioned (:data:`SCHEMA_VERSION`) and migrated when a store is opened.

How it is laid out: one entry point, one database, one small repository per table::

    async with await Store.open(cfg.store.path) as store:
        await store.campaigns.upsert("spring", "Spring renewals", cfg_json)
        await store.contacts.insert("spring", rows)
        for contact in await store.contacts.due("spring", now, limit=25): ...
        attempt_id = await store.attempts.open(campaign_id="spring", ...)
        await store.attempts.mark_answered(attempt_id, at)
        await store.attempts.settle(attempt_id, "connected", ended_at=t, ended_by="remote")

- :class:`Store` (``store.py``) opens the file and holds the repositories.
- :class:`~dialguard.store.database.Database` (``database.py``) owns the one connection,
  the ``BEGIN IMMEDIATE`` transactions and the migrations; only the repositories use it.
- ``campaigns.py``, ``contacts.py``, ``dnc.py`` (suppressions and list dates),
  ``attempts.py`` (the attempt log) and ``audit.py`` (audit trail and skips): each
  repository's methods are named for what a caller asks or records — typed updates
  such as ``attempts.mark_answered(id, at)`` or ``contacts.claim(id)``, never a bag of
  columns — and the reports' questions are named queries here too
  (``contacts.zones_by_id``, ``dnc.listings_of_dialled``, ``attempts.count``);
  ``answers.py`` is the governor's seed query behind ``attempts.answered_since``.

No SQL lives outside this package, and nothing outside it reaches the connection
(``tests/store/test_boundary.py``). The repositories' methods are the seam where a
PostgreSQL store will plug in: the same names over another database.
"""

from dialguard.store.attempts import Attempts, AttemptUpdate
from dialguard.store.audit import AuditLog, Skips
from dialguard.store.campaigns import Campaigns
from dialguard.store.contacts import Contacts
from dialguard.store.database import BATCH_ROWS
from dialguard.store.dnc import DncLists, check_list_date
from dialguard.store.errors import SchemaTooNew, StoreError, UnknownRecord, is_transient
from dialguard.store.migrations import MIGRATIONS, SCHEMA_VERSION, Migration
from dialguard.store.records import (
    ATTEMPT_OUTCOMES,
    CAMPAIGN_STATES,
    CONTACT_STATUSES,
    DNC_SOURCES,
    AttemptOutcome,
    AttemptRecord,
    AuditRecord,
    CampaignRecord,
    CampaignState,
    ContactRecord,
    ContactStatus,
    DncListInfo,
    DncSource,
    DueSummary,
    InsertCounts,
    NewContact,
    PacingOverride,
    SkipRecord,
    SuppressionHit,
)
from dialguard.store.store import Store

__all__ = [
    "ATTEMPT_OUTCOMES",
    "BATCH_ROWS",
    "CAMPAIGN_STATES",
    "CONTACT_STATUSES",
    "DNC_SOURCES",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "AttemptOutcome",
    "AttemptRecord",
    "AttemptUpdate",
    "Attempts",
    "AuditLog",
    "AuditRecord",
    "CampaignRecord",
    "CampaignState",
    "Campaigns",
    "ContactRecord",
    "ContactStatus",
    "Contacts",
    "DncListInfo",
    "DncLists",
    "DncSource",
    "DueSummary",
    "InsertCounts",
    "Migration",
    "NewContact",
    "PacingOverride",
    "SchemaTooNew",
    "SkipRecord",
    "Skips",
    "Store",
    "StoreError",
    "SuppressionHit",
    "UnknownRecord",
    "check_list_date",
    "is_transient",
]
