"""The store: campaigns, contacts, DNC entries, attempts, skips and audit in SQLite.

A thin async data layer over one aiosqlite connection, shared by the engine, the import
commands and the reports. It holds no policy: which contact to call and whether a call
is allowed are the engine's rules; this module only makes each fact durable, and makes
the queries those rules need cheap (see :mod:`dialguard.store.migrations`).

Why it is built this way:

- WAL journal, so reports and a second process (``dialguard import`` while the daemon
  runs) read while the engine writes; ``busy_timeout`` so a writer waits for another
  instead of failing at once.
- Every write runs in an explicit ``BEGIN IMMEDIATE`` transaction under an asyncio lock:
  the connection is shared by coroutines, and without the lock one coroutine's statement
  would land inside another's transaction and be committed or rolled back with it.
- Time comes from an injectable clock (epoch seconds, UTC) so tests and the simulator
  control it; methods whose time matters to the law also take ``now`` explicitly.
- All SQL is parameterised; the only identifiers ever formatted into SQL are column names
  checked against fixed whitelists.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import json
import re
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import aiosqlite

from dialguard.logs import get_logger
from dialguard.store.answers import AnsweredAttempt, answered_attempts
from dialguard.store.errors import SchemaTooNew, StoreError, UnknownRecord
from dialguard.store.migrations import BOOTSTRAP_SQL, MIGRATIONS, SCHEMA_VERSION
from dialguard.store.records import (
    ATTEMPT_OUTCOMES,
    CAMPAIGN_STATES,
    CONTACT_STATUSES,
    DNC_SOURCES,
    AttemptRecord,
    AuditRecord,
    CampaignRecord,
    ContactRecord,
    DncListInfo,
    DueSummary,
    InsertCounts,
    NewContact,
    PacingOverride,
    SkipRecord,
    SuppressionHit,
)

__all__ = ["Store"]

log = get_logger(__name__)

Clock = Callable[[], float]

# Rows per transaction in batch inserts: big enough to amortise the commit, small
# enough that the engine never waits long for the write lock behind an import.
BATCH_ROWS = 5000

# Columns update_attempt() may set. id, campaign_id, contact_id, number and created_at
# are facts of the dial itself and never change after open_attempt().
_ATTEMPT_UPDATABLE = frozenset(
    {
        "trunk_fault",
        "mode",
        "agent_id",
        "call_id",
        "invite_at",
        "ringing_at",
        "answered_at",
        "connected_at",
        "ended_at",
        "outcome",
        "sip_code",
        "abandoned",
        "abandon_reason",
        "ended_by",
        "disposition",
        "message_played_at",
        "opted_out",
    }
)
_CONTACT_UPDATABLE = frozenset({"status", "attempts", "next_attempt_at", "last_outcome"})

_LIST_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

_INSERT_CONTACT = """
INSERT INTO contacts (campaign_id, number, region, timezones, name, priority, consent,
                      preferred_channel, preferred_hours, custom, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (campaign_id, number) DO NOTHING
"""

_INSERT_SUPPRESSION = """
INSERT INTO suppressions (number, source, list_date, reason, added_at)
VALUES (?, ?, ?, ?, ?)
ON CONFLICT (number, source) DO NOTHING
"""
# A refreshed list keeps the first time a number was seen (added_at): compliance asks
# "was it listed when we called?", and moving added_at forward would hide that.
_REFRESH_SUPPRESSION = """
UPDATE suppressions SET list_date = ?, reason = coalesce(?, reason)
WHERE number = ? AND source = ?
"""


def check_list_date(value: str) -> str:
    """``YYYY-MM-DD`` or a ValueError naming the value; lists are dated by calendar day."""
    if not _LIST_DATE.match(value):
        raise ValueError(f"list date {value!r} must be written YYYY-MM-DD")
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"list date {value!r} is not a real calendar date") from None
    return value


def _check_choice(what: str, value: str, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise ValueError(f"{what} {value!r} is not one of: {', '.join(allowed)}")


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


class Store:
    """One open store file. Create with ``await Store.open(path)``; close when done."""

    def __init__(self, db: aiosqlite.Connection, path: str, clock: Clock) -> None:
        self._db = db
        self._path = path
        self._clock = clock
        self._write_lock = asyncio.Lock()

    # ------------------------------------------------------------------ lifecycle

    @classmethod
    async def open(
        cls, path: Path | str, *, clock: Clock = time.time, busy_timeout_s: float = 5.0
    ) -> Self:
        """Open (creating if needed) the store at ``path`` and bring its schema up to date.

        Raises :class:`SchemaTooNew` if a newer dialguard wrote the file and
        :class:`StoreError` if it is not an SQLite database or cannot be created.
        """
        shown = str(path)
        if shown != ":memory:":
            try:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise StoreError(f"{shown}: cannot create its directory ({e.strerror})") from None
        try:
            db = await aiosqlite.connect(shown, isolation_level=None)
        except sqlite3.Error as e:
            raise StoreError(f"{shown}: cannot open the store ({e})") from None
        store = cls(db, shown, clock)
        try:
            await store._configure(busy_timeout_s)
            await store._migrate()
        except BaseException:
            await db.close()
            raise
        return store

    async def _configure(self, busy_timeout_s: float) -> None:
        db = self._db
        db.row_factory = sqlite3.Row
        try:
            await db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
            async with db.execute("PRAGMA journal_mode = WAL") as cur:
                row = await cur.fetchone()
        except sqlite3.DatabaseError as e:
            raise StoreError(f"{self._path}: not a dialguard store ({e})") from None
        mode = str(row[0]).lower() if row else "?"
        if mode not in ("wal", "memory"):
            log.warning("store_not_wal", path=self._path, journal_mode=mode)
        await db.execute("PRAGMA foreign_keys = ON")
        # NORMAL is durable across application crashes in WAL mode; only an OS crash or
        # power loss can lose the last transactions, and it never corrupts the file.
        await db.execute("PRAGMA synchronous = NORMAL")

    async def _current_version(self) -> int:
        async with self._db.execute("SELECT max(version) FROM schema_version") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    async def _migrate(self) -> None:
        db = self._db
        await db.executescript(BOOTSTRAP_SQL)
        current = await self._current_version()
        if current > SCHEMA_VERSION:
            raise SchemaTooNew(self._path, current, SCHEMA_VERSION)
        for m in MIGRATIONS:
            if m.version <= current:
                continue
            # The script carries its own BEGIN/COMMIT: executescript() would otherwise
            # commit a transaction opened around it. Applied-at is computed by SQLite.
            script = (
                "BEGIN IMMEDIATE;\n"
                f"{m.sql}\n"
                "INSERT INTO schema_version (version, description, applied_at) VALUES "
                f"({m.version}, {_sql_literal(m.description)}, "
                "(julianday('now') - 2440587.5) * 86400.0);\n"
                "COMMIT;"
            )
            try:
                await db.executescript(script)
            except sqlite3.Error as e:
                if db.in_transaction:
                    await db.rollback()
                # Another process may have applied it between our read and our BEGIN.
                current = await self._current_version()
                if current >= m.version:
                    continue
                raise StoreError(f"{self._path}: migration {m.version} failed: {e}") from None
            current = m.version
            log.info("store_migrated", path=self._path, version=m.version)

    async def close(self) -> None:
        await self._db.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def path(self) -> str:
        return self._path

    @property
    def connection(self) -> aiosqlite.Connection:
        """The underlying connection, for read-only report queries."""
        return self._db

    async def schema_version(self) -> int:
        return await self._current_version()

    def _now(self, now: float | None) -> float:
        return self._clock() if now is None else now

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._write_lock:
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                await self._db.rollback()
                raise
            await self._db.commit()

    async def _fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        async with self._db.execute(sql, params) as cur:
            return list(await cur.fetchall())

    async def _fetchone(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        async with self._db.execute(sql, params) as cur:
            row: sqlite3.Row | None = await cur.fetchone()
            return row

    # ------------------------------------------------------------------ campaigns

    async def upsert_campaign(
        self,
        campaign_id: str,
        name: str,
        config_json: str,
        *,
        state: str | None = None,
        actor: str = "system",
        now: float | None = None,
    ) -> CampaignRecord:
        """Create the campaign or update its name and config; audited when anything changes.

        A new campaign starts ``paused`` unless ``state`` says otherwise, so loading a
        list never starts dialling by itself. ``state=None`` keeps an existing state.
        """
        if state is not None:
            _check_choice("campaign state", state, CAMPAIGN_STATES)
        try:
            json.loads(config_json)
        except ValueError as e:
            raise ValueError(f"campaign {campaign_id}: config_json is not JSON ({e})") from None
        ts = self._now(now)
        async with self._transaction() as db:
            old = await self._fetchone("SELECT * FROM campaigns WHERE id = ?", (campaign_id,))
            if old is None:
                await db.execute(
                    "INSERT INTO campaigns (id, name, config_json, state, created_at, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (campaign_id, name, config_json, state or "paused", ts, ts),
                )
                new = {"name": name, "state": state or "paused", "config": json.loads(config_json)}
                await self._audit(db, ts, actor, "campaign.created", campaign_id, None, new)
            else:
                new_state = state or old["state"]
                changed = (old["name"], old["config_json"], old["state"]) != (
                    name,
                    config_json,
                    new_state,
                )
                if changed:
                    await db.execute(
                        "UPDATE campaigns SET name = ?, config_json = ?, state = ?, "
                        "updated_at = ? WHERE id = ?",
                        (name, config_json, new_state, ts, campaign_id),
                    )
                    before = {
                        "name": old["name"],
                        "state": old["state"],
                        "config": json.loads(old["config_json"]),
                    }
                    after = {"name": name, "state": new_state, "config": json.loads(config_json)}
                    await self._audit(db, ts, actor, "campaign.updated", campaign_id, before, after)
        record = await self.get_campaign(campaign_id)
        assert record is not None
        return record

    async def get_campaign(self, campaign_id: str) -> CampaignRecord | None:
        row = await self._fetchone("SELECT * FROM campaigns WHERE id = ?", (campaign_id,))
        return None if row is None else CampaignRecord.from_row(row)

    async def list_campaigns(self) -> list[CampaignRecord]:
        rows = await self._fetchall("SELECT * FROM campaigns ORDER BY id")
        return [CampaignRecord.from_row(r) for r in rows]

    async def set_campaign_state(
        self, campaign_id: str, state: str, *, actor: str, now: float | None = None
    ) -> CampaignRecord:
        """Change a campaign's state and audit who did it. Raises UnknownRecord if absent."""
        _check_choice("campaign state", state, CAMPAIGN_STATES)
        ts = self._now(now)
        async with self._transaction() as db:
            row = await self._fetchone("SELECT state FROM campaigns WHERE id = ?", (campaign_id,))
            if row is None:
                raise UnknownRecord(f"campaign {campaign_id!r} is not in the store")
            if row["state"] != state:
                await db.execute(
                    "UPDATE campaigns SET state = ?, updated_at = ? WHERE id = ?",
                    (state, ts, campaign_id),
                )
                await self._audit(
                    db,
                    ts,
                    actor,
                    "campaign.state",
                    campaign_id,
                    {"state": row["state"]},
                    {"state": state},
                )
        record = await self.get_campaign(campaign_id)
        assert record is not None
        return record

    async def pacing_overrides(self, campaign_id: str) -> dict[str, PacingOverride]:
        """The pacing fields a supervisor set live for this campaign, by field."""
        rows = await self._fetchall(
            "SELECT * FROM pacing_overrides WHERE campaign_id = ? ORDER BY field", (campaign_id,)
        )
        return {
            r["field"]: PacingOverride(
                r["field"], json.loads(r["value"]), json.loads(r["file_value"]), r["actor"], r["ts"]
            )
            for r in rows
        }

    async def save_pacing_overrides(
        self, campaign_id: str, overrides: Iterable[PacingOverride]
    ) -> None:
        """Replace the campaign's live-set pacing fields with ``overrides`` (one transaction)."""
        async with self._transaction() as db:
            await db.execute("DELETE FROM pacing_overrides WHERE campaign_id = ?", (campaign_id,))
            await db.executemany(
                "INSERT INTO pacing_overrides (campaign_id, field, value, file_value, actor, ts)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (campaign_id, o.field, _dumps(o.value), _dumps(o.file_value), o.actor, o.ts)
                    for o in overrides
                ],
            )

    async def _insert_in_batches(
        self,
        insert_sql: str,
        params: Iterable[tuple[Any, ...]],
        *,
        refresh: tuple[str, Callable[..., tuple[Any, ...]]] | None = None,
    ) -> InsertCounts:
        """INSERT OR IGNORE ``params`` in transactions of BATCH_ROWS rows, counting rows
        new and already present; ``refresh`` (SQL, row → its parameters) then updates
        the rows of each batch that were already there."""
        inserted = present = 0
        it = iter(params)
        while batch := list(itertools.islice(it, BATCH_ROWS)):
            async with self._transaction() as db:
                cur = await db.executemany(insert_sql, batch)
                n = cur.rowcount
                await cur.close()
                if refresh is not None:
                    sql, of = refresh
                    cur = await db.executemany(sql, [of(*row) for row in batch])
                    await cur.close()
            inserted += n
            present += len(batch) - n
        return InsertCounts(inserted=inserted, already_present=present)

    # ------------------------------------------------------------------ contacts

    async def insert_contacts(
        self, campaign_id: str, rows: Iterable[NewContact], *, now: float | None = None
    ) -> InsertCounts:
        """Insert contacts, skipping numbers the campaign already has (idempotent).

        Existing contacts are left exactly as they are: a re-import must not reset the
        status, attempt count or retry time of someone already called.
        """
        if await self.get_campaign(campaign_id) is None:
            raise UnknownRecord(f"campaign {campaign_id!r} is not in the store")
        ts = self._now(now)
        params = (
            (
                campaign_id,
                c.number,
                c.region,
                _dumps(list(c.timezones)),
                c.name,
                c.priority,
                c.consent,
                c.preferred_channel,
                None if c.preferred_hours is None else _dumps(c.preferred_hours),
                _dumps(c.custom),
                ts,
            )
            for c in rows
        )
        return await self._insert_in_batches(_INSERT_CONTACT, params)

    async def count_contacts(self, campaign_id: str, status: str | None = None) -> int:
        if status is None:
            row = await self._fetchone(
                "SELECT count(*) FROM contacts WHERE campaign_id = ?", (campaign_id,)
            )
        else:
            _check_choice("contact status", status, CONTACT_STATUSES)
            row = await self._fetchone(
                "SELECT count(*) FROM contacts WHERE campaign_id = ? AND status = ?",
                (campaign_id, status),
            )
        return int(row[0]) if row else 0

    async def listed_contacts(self, campaign_id: str) -> dict[str, int]:
        """How many of a campaign's contacts are on each do-not-call list, by source.

        One indexed pass; the import reports it so a supervisor sees at once how much of
        a new list the engine will refuse to dial.
        """
        rows = await self._fetchall(
            "SELECT s.source, count(*) FROM contacts c JOIN suppressions s"
            " ON s.number = c.number WHERE c.campaign_id = ? GROUP BY s.source ORDER BY s.source",
            (campaign_id,),
        )
        return {r[0]: int(r[1]) for r in rows}

    async def get_contact(self, contact_id: int) -> ContactRecord | None:
        row = await self._fetchone("SELECT * FROM contacts WHERE id = ?", (contact_id,))
        return None if row is None else ContactRecord.from_row(row)

    async def due_contacts(self, campaign_id: str, now: float, limit: int) -> list[ContactRecord]:
        """Pending contacts due at ``now``: highest priority first, then longest due, then id.

        One walk of the partial index ``contacts_due``, stopping after ``limit`` rows.
        """
        rows = await self._fetchall(
            "SELECT * FROM contacts WHERE campaign_id = ? AND status = 'pending' "
            "AND next_attempt_at <= ? ORDER BY priority DESC, next_attempt_at, id LIMIT ?",
            (campaign_id, now, limit),
        )
        return [ContactRecord.from_row(r) for r in rows]

    async def due_summary(self, campaign_id: str, now: float) -> DueSummary:
        """How many contacts are left to call and due now, and why the next one waits
        (the rule of its latest skip): what ``status`` and ``config check`` say when a
        running campaign dials nothing."""
        row = await self._fetchone(
            "SELECT count(*), sum(next_attempt_at <= ?) FROM contacts"
            " WHERE campaign_id = ? AND status = 'pending'",
            (now, campaign_id),
        )
        pending = int(row[0]) if row else 0
        due = int(row[1] or 0) if row else 0
        if pending == 0 or due > 0:
            return DueSummary(pending, due, None, None, None)
        nxt = await self._fetchone(
            "SELECT id, next_attempt_at FROM contacts WHERE campaign_id = ? AND status = 'pending'"
            " ORDER BY next_attempt_at LIMIT 1",
            (campaign_id,),
        )
        assert nxt is not None
        skip = await self._fetchone(
            "SELECT rule, reason FROM skips WHERE contact_id = ? ORDER BY id DESC LIMIT 1",
            (nxt["id"],),
        )
        return DueSummary(
            pending,
            0,
            float(nxt["next_attempt_at"]),
            skip["rule"] if skip else None,
            skip["reason"] if skip else None,
        )

    async def update_contact(self, contact_id: int, **fields: Any) -> None:
        """Set status / attempts / next_attempt_at / last_outcome of one contact."""
        unknown = sorted(set(fields) - _CONTACT_UPDATABLE)
        if unknown:
            raise ValueError(
                f"update_contact: cannot set {', '.join(unknown)} "
                f"(allowed: {', '.join(sorted(_CONTACT_UPDATABLE))})"
            )
        if not fields:
            return
        if "status" in fields:
            _check_choice("contact status", fields["status"], CONTACT_STATUSES)
        cols = sorted(fields)
        sql = f"UPDATE contacts SET {', '.join(f'{c} = ?' for c in cols)} WHERE id = ?"
        async with self._transaction() as db:
            cur = await db.execute(sql, [*(fields[c] for c in cols), contact_id])
            if cur.rowcount == 0:
                raise UnknownRecord(f"contact {contact_id} is not in the store")

    # ------------------------------------------------------------------ do-not-call

    async def add_suppressions(
        self,
        numbers: Iterable[str | tuple[str, str | None]],
        source: str,
        list_date: str | None,
        *,
        now: float | None = None,
    ) -> InsertCounts:
        """Put E.164 numbers on a do-not-call list (``(number, reason)`` pairs allowed).

        ``inserted`` counts numbers new to that list; ``already_present`` the rest.
        National lists need ``list_date``; internal entries may leave it None.
        """
        _check_choice("DNC source", source, DNC_SOURCES)
        if list_date is not None:
            check_list_date(list_date)
        elif source != "internal":
            raise ValueError(f"a {source} list needs its list date (YYYY-MM-DD)")
        ts = self._now(now)
        params = (
            (item, source, list_date, None, ts)
            if isinstance(item, str)
            else (item[0], source, list_date, item[1], ts)
            for item in numbers
        )
        return await self._insert_in_batches(
            _INSERT_SUPPRESSION,
            params,
            # rows already on the list take the newer list date and reason
            refresh=(_REFRESH_SUPPRESSION, lambda num, src, d, r, _ts: (d, r, num, src)),
        )

    async def record_dnc_list(
        self, source: str, list_date: str, rows: int, *, now: float | None = None
    ) -> DncListInfo:
        """Record that a list dated ``list_date`` was imported.

        The newest list date wins: importing an older file after a newer one does not
        make the store look staler (or fresher) than the numbers it holds.
        """
        _check_choice("DNC source", source, DNC_SOURCES)
        check_list_date(list_date)
        ts = self._now(now)
        async with self._transaction() as db:
            await db.execute(
                "INSERT INTO dnc_lists (source, list_date, imported_at, rows) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (source) DO UPDATE SET list_date = excluded.list_date,"
                " imported_at = excluded.imported_at, rows = excluded.rows"
                " WHERE excluded.list_date >= dnc_lists.list_date",
                (source, list_date, ts, rows),
            )
        info = (await self.dnc_list_dates())[source]
        return info

    async def dnc_list_dates(self) -> dict[str, DncListInfo]:
        """Newest imported list per source, for the engine's list-age check."""
        rows = await self._fetchall("SELECT * FROM dnc_lists ORDER BY source")
        return {r["source"]: DncListInfo(**{k: r[k] for k in r.keys()}) for r in rows}  # noqa: SIM118

    async def is_suppressed(self, number: str) -> list[SuppressionHit]:
        """Every list ``number`` (E.164) is on; empty if none."""
        rows = await self._fetchall(
            "SELECT source, list_date, reason, added_at FROM suppressions WHERE number = ?"
            " ORDER BY source",
            (number,),
        )
        return [SuppressionHit(r[0], r[1], r[2], r[3]) for r in rows]

    # ------------------------------------------------------------------ attempts

    async def open_attempt(
        self,
        *,
        campaign_id: str,
        contact_id: int | None,
        number: str,
        mode: str,
        agent_id: str | None = None,
        call_id: str | None = None,
        now: float | None = None,
    ) -> int:
        """Write the attempt row that must exist *before* the INVITE is sent; its id."""
        ts = self._now(now)
        async with self._transaction() as db:
            cur = await db.execute(
                "INSERT INTO attempts (campaign_id, contact_id, number, mode, agent_id, call_id,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (campaign_id, contact_id, number, mode, agent_id, call_id, ts),
            )
            attempt_id = cur.lastrowid
        assert attempt_id is not None
        return attempt_id

    async def update_attempt(self, attempt_id: int, **fields: Any) -> None:
        """Set lifecycle columns of one attempt (timestamps, outcome, SIP code, flags…)."""
        unknown = sorted(set(fields) - _ATTEMPT_UPDATABLE)
        if unknown:
            raise ValueError(
                f"update_attempt: cannot set {', '.join(unknown)} "
                f"(allowed: {', '.join(sorted(_ATTEMPT_UPDATABLE))})"
            )
        if not fields:
            return
        if fields.get("outcome") is not None:
            _check_choice("attempt outcome", fields["outcome"], ATTEMPT_OUTCOMES)
        cols = sorted(fields)
        values = [int(v) if isinstance(v, bool) else v for v in (fields[c] for c in cols)]
        sql = f"UPDATE attempts SET {', '.join(f'{c} = ?' for c in cols)} WHERE id = ?"
        async with self._transaction() as db:
            cur = await db.execute(sql, [*values, attempt_id])
            if cur.rowcount == 0:
                raise UnknownRecord(f"attempt {attempt_id} is not in the store")

    async def get_attempt(self, attempt_id: int) -> AttemptRecord | None:
        row = await self._fetchone("SELECT * FROM attempts WHERE id = ?", (attempt_id,))
        return None if row is None else AttemptRecord.from_row(row)

    async def attempt_by_call_id(self, call_id: str) -> AttemptRecord | None:
        """The attempt whose INVITE had this Call-ID (an agent's disposition names it)."""
        row = await self._fetchone(
            "SELECT * FROM attempts WHERE call_id = ? ORDER BY id DESC LIMIT 1", (call_id,)
        )
        return None if row is None else AttemptRecord.from_row(row)

    async def open_attempts(self) -> list[AttemptRecord]:
        rows = await self._fetchall("SELECT * FROM attempts WHERE outcome IS NULL ORDER BY id")
        return [AttemptRecord.from_row(r) for r in rows]

    async def release_in_progress(self) -> int:
        """After a crash: contacts marked ``in_progress`` whose attempt row was never
        written go back to ``pending``; the count. No INVITE can have left for them
        (the row is written first), so they may be dialled again at once."""
        async with self._transaction() as db:
            cur = await db.execute(
                "UPDATE contacts SET status = 'pending' WHERE status = 'in_progress'"
                " AND id NOT IN (SELECT contact_id FROM attempts"
                " WHERE outcome IS NULL AND contact_id IS NOT NULL)"
            )
            return int(cur.rowcount)

    async def close_open_attempts_as_interrupted(self, now: float) -> list[int]:
        """After a crash: close every attempt with no outcome as ``interrupted``; their ids.

        ``ended_at`` is set to ``now`` unless the call had already ended.
        """
        async with self._transaction() as db:
            rows = await self._fetchall("SELECT id FROM attempts WHERE outcome IS NULL")
            ids = [int(r[0]) for r in rows]
            if ids:
                await db.execute(
                    "UPDATE attempts SET outcome = 'interrupted',"
                    " ended_at = coalesce(ended_at, ?) WHERE outcome IS NULL",
                    (now,),
                )
        if ids:
            log.warning("attempts_interrupted", count=len(ids))
        return ids

    async def attempts_for_number_since(self, number: str, since: float) -> list[AttemptRecord]:
        """All attempts to ``number`` created at or after ``since`` (any campaign), oldest first.

        For frequency caps and the 72-hour lock-out after an abandoned call.
        """
        rows = await self._fetchall(
            "SELECT * FROM attempts WHERE number = ? AND created_at >= ? ORDER BY created_at, id",
            (number, since),
        )
        return [AttemptRecord.from_row(r) for r in rows]

    async def answered_attempts(self, campaign_id: str, since: float) -> list[AnsweredAttempt]:
        """A campaign's attempts answered (or abandoned) after ``since`` (store/answers.py)."""
        return await answered_attempts(self.connection, campaign_id, since)

    async def attempts(self, campaign_id: str, since: float, until: float) -> list[AttemptRecord]:
        """A campaign's attempts created in ``[since, until)``, oldest first."""
        rows = await self._fetchall(
            "SELECT * FROM attempts WHERE campaign_id = ? AND created_at >= ? AND created_at < ?"
            " ORDER BY created_at, id",
            (campaign_id, since, until),
        )
        return [AttemptRecord.from_row(r) for r in rows]

    # ------------------------------------------------------------------ skips and audit

    async def record_skip(
        self,
        campaign_id: str,
        contact_id: int | None,
        rule: str,
        reason: str,
        *,
        now: float | None = None,
    ) -> int:
        """Why a contact was not dialled (rule name + human reason), for the audit trail."""
        ts = self._now(now)
        async with self._transaction() as db:
            cur = await db.execute(
                "INSERT INTO skips (ts, campaign_id, contact_id, rule, reason)"
                " VALUES (?, ?, ?, ?, ?)",
                (ts, campaign_id, contact_id, rule, reason),
            )
            skip_id = cur.lastrowid
        assert skip_id is not None
        return skip_id

    async def skips(self, campaign_id: str, since: float, until: float) -> list[SkipRecord]:
        rows = await self._fetchall(
            "SELECT * FROM skips WHERE campaign_id = ? AND ts >= ? AND ts < ? ORDER BY ts, id",
            (campaign_id, since, until),
        )
        return [SkipRecord.from_row(r) for r in rows]

    async def record_audit(
        self,
        actor: str,
        action: str,
        *,
        campaign_id: str | None = None,
        old: Any = None,
        new: Any = None,
        detail: str | None = None,
        now: float | None = None,
    ) -> int:
        """Who changed what, when; ``old``/``new`` are stored as JSON."""
        ts = self._now(now)
        async with self._transaction() as db:
            return await self._audit(db, ts, actor, action, campaign_id, old, new, detail)

    async def _audit(
        self,
        db: aiosqlite.Connection,
        ts: float,
        actor: str,
        action: str,
        campaign_id: str | None,
        old: Any,
        new: Any,
        detail: str | None = None,
    ) -> int:
        cur = await db.execute(
            "INSERT INTO audit (ts, actor, action, campaign_id, old, new, detail)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                ts,
                actor,
                action,
                campaign_id,
                None if old is None else _dumps(old),
                None if new is None else _dumps(new),
                detail,
            ),
        )
        audit_id = cur.lastrowid
        assert audit_id is not None
        return audit_id

    async def audit_events(
        self, campaign_id: str | None = None, since: float = 0.0
    ) -> list[AuditRecord]:
        if campaign_id is None:
            rows = await self._fetchall(
                "SELECT * FROM audit WHERE ts >= ? ORDER BY ts, id", (since,)
            )
        else:
            rows = await self._fetchall(
                "SELECT * FROM audit WHERE campaign_id = ? AND ts >= ? ORDER BY ts, id",
                (campaign_id, since),
            )
        return [AuditRecord.from_row(r) for r in rows]


def _sql_literal(text: str) -> str:
    """Quote a constant (a migration's description) as an SQL string literal."""
    return "'" + text.replace("'", "''") + "'"
