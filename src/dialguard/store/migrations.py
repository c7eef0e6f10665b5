"""The store's schema, as numbered migrations applied in order, each in one transaction.

A migration is never edited once released: a change to the schema is a new entry at the
end of :data:`MIGRATIONS`. ``schema_version`` records which have been applied and when,
so a store opened by an older dialguard (one that does not know the newest migration) is
refused instead of being written to with the wrong idea of its tables.

Why the tables look as they do:

- ``attempts`` has a row per dial, written *before* the INVITE leaves (``created_at``),
  with every timestamp of the call's life; ``outcome`` stays NULL while the call is open,
  so after a crash the open rows are exactly the calls whose fate is unknown.
- ``contacts`` has one row per (campaign, E.164 number); the partial index
  ``contacts_due`` serves "next callable contacts of campaign X at time T by priority"
  by walking pending contacts in priority order, without a sort.
- ``suppressions`` keeps the first time a number was seen on each list (``added_at``),
  so a compliance report can tell whether a past call was made to a listed number.
- ``contacts.order_score`` (migration 5) is the expected value of calling the contact
  now minus its wait (dialguard.propensity.score); ``contacts_due_value`` walks it in
  order, so ``order = "expected_value"`` picks from a million contacts without a sort.
  ``answer_stats`` holds the answer model's counts; ``handoffs`` one row per contact
  handed to another channel (UNIQUE: once), ``published_at`` NULL until MQTT has it.
- ``dnc_lists`` records the date of each national list, so the engine can refuse to
  dial when the list is older than the law allows (TPS/CTPS 28 days, US DNC 31).
- Migration 7 lets ``suppressions`` and ``dnc_lists`` hold France's Bloctel and
  Australia's Do Not Call Register (``bloctel``, ``dncr``): SQLite cannot alter a CHECK,
  so both tables are rebuilt with the wider one and their rows copied (PostgreSQL swaps
  the constraints in place, ``postgres_migrations._TWINS``).
- Migration 8 lets them hold any list an engine config declares (``[[dnc_list]]``, e.g.
  ``robinson_de``): the fixed list of names becomes a check of the name's shape (a
  lower-case token, :data:`dialguard.law.LIST_NAME_PATTERN`), so a new national list
  needs no migration. Which names exist is the config's business, not the schema's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dialguard.store.errors import SchemaTooNew

__all__ = ["BOOTSTRAP_SQL", "MIGRATIONS", "SCHEMA_VERSION", "Migration", "pending"]


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    description: str
    sql: str


def pending(migrations: Sequence[Migration], current: int, where: str) -> list[Migration]:
    """What a store at schema version ``current`` still needs of ``migrations`` (one
    backend's list), oldest first. :class:`SchemaTooNew` if a newer dialguard wrote it:
    writing with the wrong idea of its tables could corrupt it. Both backends ask this."""
    known = migrations[-1].version
    if current > known:
        raise SchemaTooNew(where, current, known)
    return [m for m in migrations if m.version > current]


# Created before any migration runs, so the store can say which migrations it has.
BOOTSTRAP_SQL = """
CREATE TABLE IF NOT EXISTS schema_version (
    version     INTEGER PRIMARY KEY,
    description TEXT NOT NULL,
    applied_at  REAL NOT NULL
);
"""

_V1 = """
CREATE TABLE campaigns (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    config_json TEXT NOT NULL,
    state       TEXT NOT NULL DEFAULT 'paused'
                CHECK (state IN ('active', 'paused', 'stopped')),
    created_at  REAL NOT NULL,
    updated_at  REAL NOT NULL
);

CREATE TABLE contacts (
    id                INTEGER PRIMARY KEY,
    campaign_id       TEXT NOT NULL REFERENCES campaigns(id),
    number            TEXT NOT NULL CHECK (number GLOB '+[1-9]*'),
    region            TEXT NOT NULL,
    timezones         TEXT NOT NULL DEFAULT '[]',
    name              TEXT,
    priority          INTEGER NOT NULL DEFAULT 0,
    consent           TEXT,
    preferred_channel TEXT,
    preferred_hours   TEXT,
    custom            TEXT NOT NULL DEFAULT '{}',
    status            TEXT NOT NULL DEFAULT 'pending'
                      CHECK (status IN ('pending', 'in_progress', 'done', 'exhausted', 'dnc')),
    attempts          INTEGER NOT NULL DEFAULT 0,
    next_attempt_at   REAL NOT NULL DEFAULT 0,
    last_outcome      TEXT,
    created_at        REAL NOT NULL,
    UNIQUE (campaign_id, number)
);
CREATE INDEX contacts_due ON contacts (campaign_id, priority DESC, next_attempt_at, id)
    WHERE status = 'pending';
CREATE INDEX contacts_number ON contacts (number);

CREATE TABLE suppressions (
    number    TEXT NOT NULL,
    source    TEXT NOT NULL CHECK (source IN ('internal', 'tps', 'ctps', 'usdnc')),
    list_date TEXT,
    reason    TEXT,
    added_at  REAL NOT NULL,
    PRIMARY KEY (number, source)
) WITHOUT ROWID;

CREATE TABLE dnc_lists (
    source      TEXT PRIMARY KEY CHECK (source IN ('internal', 'tps', 'ctps', 'usdnc')),
    list_date   TEXT NOT NULL,
    imported_at REAL NOT NULL,
    rows        INTEGER NOT NULL
);

CREATE TABLE attempts (
    id                INTEGER PRIMARY KEY,
    campaign_id       TEXT NOT NULL REFERENCES campaigns(id),
    contact_id        INTEGER REFERENCES contacts(id),
    number            TEXT NOT NULL,
    mode              TEXT NOT NULL,
    agent_id          TEXT,
    call_id           TEXT,
    created_at        REAL NOT NULL,
    invite_at         REAL,
    ringing_at        REAL,
    answered_at       REAL,
    connected_at      REAL,
    ended_at          REAL,
    outcome           TEXT CHECK (outcome IS NULL OR outcome IN (
                          'connected', 'abandoned', 'busy', 'no_answer', 'unavailable',
                          'invalid', 'rejected', 'failed', 'voicemail', 'interrupted',
                          'cancelled')),
    sip_code          INTEGER,
    abandoned         INTEGER NOT NULL DEFAULT 0 CHECK (abandoned IN (0, 1)),
    abandon_reason    TEXT,
    ended_by          TEXT,
    disposition       TEXT,
    message_played_at REAL,
    opted_out         INTEGER NOT NULL DEFAULT 0 CHECK (opted_out IN (0, 1))
);
CREATE INDEX attempts_campaign_time ON attempts (campaign_id, created_at);
CREATE INDEX attempts_number_time ON attempts (number, created_at);
CREATE INDEX attempts_open ON attempts (campaign_id) WHERE outcome IS NULL;

CREATE TABLE skips (
    id          INTEGER PRIMARY KEY,
    ts          REAL NOT NULL,
    campaign_id TEXT NOT NULL REFERENCES campaigns(id),
    contact_id  INTEGER REFERENCES contacts(id),
    rule        TEXT NOT NULL,
    reason      TEXT NOT NULL
);
CREATE INDEX skips_campaign_time ON skips (campaign_id, ts);

CREATE TABLE audit (
    id          INTEGER PRIMARY KEY,
    ts          REAL NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    campaign_id TEXT,
    old         TEXT,
    new         TEXT,
    detail      TEXT
);
CREATE INDEX audit_campaign_time ON audit (campaign_id, ts);
"""

_V2 = """
CREATE INDEX attempts_call_id ON attempts (call_id) WHERE call_id IS NOT NULL;
"""

_V3 = """
ALTER TABLE attempts ADD COLUMN trunk_fault INTEGER NOT NULL DEFAULT 0;
"""

_V4 = """
CREATE TABLE pacing_overrides (
    campaign_id TEXT NOT NULL REFERENCES campaigns(id),
    field       TEXT NOT NULL,
    value       TEXT NOT NULL,
    file_value  TEXT NOT NULL,
    actor       TEXT NOT NULL,
    ts          REAL NOT NULL,
    PRIMARY KEY (campaign_id, field)
) WITHOUT ROWID;
"""

_V5 = """
ALTER TABLE contacts ADD COLUMN voice_consent TEXT NOT NULL DEFAULT 'unknown'
    CHECK (voice_consent IN ('yes', 'no', 'unknown'));
ALTER TABLE contacts ADD COLUMN consent_date TEXT;
ALTER TABLE contacts ADD COLUMN consent_source TEXT;
ALTER TABLE contacts ADD COLUMN segment TEXT;
ALTER TABLE contacts ADD COLUMN propensity REAL
    CHECK (propensity IS NULL OR (propensity >= 0 AND propensity <= 1));
ALTER TABLE contacts ADD COLUMN offer_key TEXT;
ALTER TABLE contacts ADD COLUMN order_score REAL NOT NULL DEFAULT 0;
CREATE INDEX contacts_due_list ON contacts (campaign_id, next_attempt_at, id)
    WHERE status = 'pending';
CREATE INDEX contacts_due_value ON contacts (campaign_id, priority DESC, order_score DESC, id)
    WHERE status = 'pending';

CREATE TABLE answer_stats (
    campaign_id TEXT NOT NULL REFERENCES campaigns(id),
    scope       TEXT NOT NULL CHECK (scope IN ('campaign', 'segment', 'contact',
                                       'campaign_total', 'segment_total', 'contact_total')),
    key         TEXT NOT NULL,
    bucket      INTEGER NOT NULL,
    tries       REAL NOT NULL,
    answers     REAL NOT NULL,
    expected    REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (campaign_id, scope, key, bucket)
) WITHOUT ROWID;

CREATE TABLE handoffs (
    id           INTEGER PRIMARY KEY,
    campaign_id  TEXT NOT NULL REFERENCES campaigns(id),
    contact_id   INTEGER NOT NULL REFERENCES contacts(id),
    channel      TEXT NOT NULL CHECK (channel IN ('sms', 'email', 'none')),
    reason       TEXT NOT NULL,
    created_at   REAL NOT NULL,
    published_at REAL,
    UNIQUE (campaign_id, contact_id)
);
CREATE INDEX handoffs_unpublished ON handoffs (campaign_id) WHERE published_at IS NULL;
"""

_V7 = """
CREATE TABLE suppressions_v7 (
    number    TEXT NOT NULL,
    source    TEXT NOT NULL CHECK (source IN ('internal', 'tps', 'ctps', 'usdnc',
                                              'bloctel', 'dncr')),
    list_date TEXT,
    reason    TEXT,
    added_at  REAL NOT NULL,
    PRIMARY KEY (number, source)
) WITHOUT ROWID;
INSERT INTO suppressions_v7 (number, source, list_date, reason, added_at)
    SELECT number, source, list_date, reason, added_at FROM suppressions;
DROP TABLE suppressions;
ALTER TABLE suppressions_v7 RENAME TO suppressions;

CREATE TABLE dnc_lists_v7 (
    source      TEXT PRIMARY KEY CHECK (source IN ('internal', 'tps', 'ctps', 'usdnc',
                                                   'bloctel', 'dncr')),
    list_date   TEXT NOT NULL,
    imported_at REAL NOT NULL,
    rows        INTEGER NOT NULL
);
INSERT INTO dnc_lists_v7 (source, list_date, imported_at, rows)
    SELECT source, list_date, imported_at, rows FROM dnc_lists;
DROP TABLE dnc_lists;
ALTER TABLE dnc_lists_v7 RENAME TO dnc_lists;
"""

# A lower-case token, at most 32 characters (dialguard.law.LIST_NAME_PATTERN in GLOB's
# words: a letter first, then no character outside a-z, 0-9 and _).
_SOURCE_SHAPE = "source GLOB '[a-z]*' AND source NOT GLOB '*[^a-z0-9_]*' AND length(source) <= 32"
_V8 = f"""
CREATE TABLE suppressions_v8 (
    number    TEXT NOT NULL,
    source    TEXT NOT NULL CHECK ({_SOURCE_SHAPE}),
    list_date TEXT,
    reason    TEXT,
    added_at  REAL NOT NULL,
    PRIMARY KEY (number, source)
) WITHOUT ROWID;
INSERT INTO suppressions_v8 (number, source, list_date, reason, added_at)
    SELECT number, source, list_date, reason, added_at FROM suppressions;
DROP TABLE suppressions;
ALTER TABLE suppressions_v8 RENAME TO suppressions;

CREATE TABLE dnc_lists_v8 (
    source      TEXT PRIMARY KEY CHECK ({_SOURCE_SHAPE}),
    list_date   TEXT NOT NULL,
    imported_at REAL NOT NULL,
    rows        INTEGER NOT NULL
);
INSERT INTO dnc_lists_v8 (source, list_date, imported_at, rows)
    SELECT source, list_date, imported_at, rows FROM dnc_lists;
DROP TABLE dnc_lists;
ALTER TABLE dnc_lists_v8 RENAME TO dnc_lists;
"""

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "campaigns, contacts, suppressions, DNC lists, attempts, skips, audit", _V1),
    Migration(2, "index attempts by Call-ID (agent dispositions name the call)", _V2),
    Migration(3, "attempts refused by the trunk itself (not charged to the contact)", _V3),
    Migration(4, "pacing fields a supervisor set live, and the file's value then", _V4),
    Migration(5, "contact profiles, ordering score, answer model counts, hand-offs", _V5),
    # 6 is PostgreSQL's own (campaign leases, store/postgres_migrations.py), so both
    # lists stay in one order of versions
    Migration(7, "DNC sources bloctel (France) and dncr (Australia)", _V7),
    Migration(8, "DNC sources checked by shape, so a config can declare new lists", _V8),
)

SCHEMA_VERSION = MIGRATIONS[-1].version
