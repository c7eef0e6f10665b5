"""dialguard's records: campaigns, contacts, DNC lists, attempts, skips and audit.

A top-level package (not under ``engine``) because the engine, the import commands and
the reports all read and write it. SQLite via aiosqlite in WAL mode; the schema is
versioned (:data:`SCHEMA_VERSION`) and migrated when a store is opened::

    async with await Store.open(cfg.store.path) as store:
        await store.upsert_campaign("spring", "Spring renewals", cfg_json)
"""

from dialguard.store.database import BATCH_ROWS, Store, check_list_date
from dialguard.store.errors import SchemaTooNew, StoreError, UnknownRecord, is_transient
from dialguard.store.migrations import MIGRATIONS, SCHEMA_VERSION, Migration
from dialguard.store.records import (
    ATTEMPT_OUTCOMES,
    CAMPAIGN_STATES,
    CONTACT_STATUSES,
    DNC_SOURCES,
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

__all__ = [
    "ATTEMPT_OUTCOMES",
    "BATCH_ROWS",
    "CAMPAIGN_STATES",
    "CONTACT_STATUSES",
    "DNC_SOURCES",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "AttemptRecord",
    "AuditRecord",
    "CampaignRecord",
    "CampaignState",
    "ContactRecord",
    "ContactStatus",
    "DncListInfo",
    "DncSource",
    "DueSummary",
    "InsertCounts",
    "Migration",
    "NewContact",
    "PacingOverride",
    "SchemaTooNew",
    "SkipRecord",
    "Store",
    "StoreError",
    "SuppressionHit",
    "UnknownRecord",
    "check_list_date",
    "is_transient",
]
