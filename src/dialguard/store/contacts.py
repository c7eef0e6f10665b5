"""Contacts: one row per (campaign, E.164 number), and where each stands.

A contact's life, as the engine moves it (each move is one named method here)::

    pending ──claim──▶ in_progress ──settle──▶ pending (retry due) | done | exhausted | dnc
    in_progress ──release──▶ pending      picked but never dialled, or the trunk refused
    pending ──defer──▶ pending            refused for now: not due before the time a rule named
    pending ──close──▶ done | exhausted | dnc     a rule closed it for good

Importing inserts; it never resets a contact already there. Which contact to call, and
whether a call is allowed, are the engine's rules: this module only records the answer.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence

from dialguard.store.database import SQLITE, Database, Dialect, check_choice, dumps
from dialguard.store.errors import UnknownRecord
from dialguard.store.records import (
    CONTACT_STATUSES,
    AttemptOutcome,
    ContactRecord,
    ContactStatus,
    DueSummary,
    InsertCounts,
    NewContact,
)

__all__ = ["DUE_SQL", "ORDER_BY", "Contacts", "due_sql"]

_INSERT = """
INSERT INTO contacts (campaign_id, number, region, timezones, name, priority, consent,
                      preferred_channel, preferred_hours, custom, created_at,
                      voice_consent, consent_date, consent_source, segment, propensity,
                      offer_key, order_score)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (campaign_id, number) DO NOTHING
"""

ORDER_BY: dict[str, tuple[str, str]] = {
    # the file's order, retries as they come due
    "list": ("contacts_due_list", "next_attempt_at, id"),
    # higher priority first, then longest due: the default
    "priority": ("contacts_due", "priority DESC, next_attempt_at, id"),
    # priority tiers kept, then expected value minus wait (dialguard.propensity.score)
    "expected_value": ("contacts_due_value", "priority DESC, order_score DESC, id"),
}
"""The one place a campaign's ``order`` becomes SQL: the partial index each walks (named,
so the planner cannot pick one that needs a sort) and its ORDER BY."""


def due_sql(order: str = "priority", dialect: Dialect = SQLITE) -> str:
    """The due query for ``order`` (a key of :data:`ORDER_BY`; ValueError otherwise)."""
    check_choice("contact order", order, tuple(ORDER_BY))
    index, order_by = ORDER_BY[order]
    return (
        f"SELECT * FROM contacts{dialect.indexed_by(index)} WHERE campaign_id = ?"
        f" AND status = 'pending' AND next_attempt_at <= ? ORDER BY {order_by} LIMIT ?"
    )


_SORT_KEY: dict[str, Callable[[ContactRecord], tuple[float, ...]]] = {
    "list": lambda c: (c.next_attempt_at, c.id),
    "priority": lambda c: (-c.priority, c.next_attempt_at, c.id),
    "expected_value": lambda c: (-c.priority, -c.order_score, c.id),
}
""":data:`ORDER_BY` in Python: ``UPDATE … RETURNING`` returns rows in no set order."""


DUE_SQL = due_sql()
"""The engine's hottest read; public so a test can check it walks ``contacts_due``."""

RESCORE_BATCH = 50_000

_STATED = "(CASE WHEN preferred_hours IS NULL OR preferred_hours = '{}' THEN 0 ELSE 1 END)"
"""1 if the contact stated preferred hours (engine/right_time.py ``group_of``: a
non-empty ``preferred_hours``), in SQL both stores read alike."""
"""Contacts per transaction of :meth:`Contacts.rescore_cold`."""

ScoreOf = Callable[[NewContact, float], float]
"""A new contact's ordering score, given its creation time (the importer's, from
:func:`dialguard.propensity.order_score`: the store does not know the model)."""


class Contacts:
    """The ``contacts`` table."""

    def __init__(self, database: Database) -> None:
        self._db = database

    # ------------------------------------------------------------------ import

    async def insert(
        self,
        campaign_id: str,
        rows: Iterable[NewContact],
        *,
        now: float | None = None,
        score: ScoreOf | None = None,
    ) -> InsertCounts:
        """Insert contacts, skipping numbers the campaign already has (idempotent).

        Existing contacts are left exactly as they are: a re-import must not reset the
        status, attempt count or retry time of someone already called.
        """
        if await self._db.fetchone("SELECT 1 FROM campaigns WHERE id = ?", (campaign_id,)) is None:
            raise UnknownRecord(f"campaign {campaign_id!r} is not in the store")
        ts = self._db.now(now)
        params = (
            (
                campaign_id,
                c.number,
                c.region,
                dumps(list(c.timezones)),
                c.name,
                c.priority,
                c.consent,
                c.preferred_channel,
                None if c.preferred_hours is None else dumps(c.preferred_hours),
                dumps(c.custom),
                ts,
                c.voice_consent,
                c.consent_date,
                c.consent_source,
                c.segment,
                c.propensity,
                c.offer_key,
                0.0 if score is None else score(c, ts),
            )
            for c in rows
        )
        return await self._db.insert_in_batches(_INSERT, params)

    # ------------------------------------------------------------------ reads

    async def get(self, contact_id: int) -> ContactRecord | None:
        row = await self._db.fetchone("SELECT * FROM contacts WHERE id = ?", (contact_id,))
        return None if row is None else ContactRecord.from_row(row)

    async def due(
        self, campaign_id: str, now: float, limit: int, order: str = "priority"
    ) -> list[ContactRecord]:
        """Pending contacts due at ``now`` in the campaign's ``order`` (:data:`ORDER_BY`).

        One walk of that order's partial index, stopping after ``limit`` rows.
        """
        rows = await self._db.fetchall(due_sql(order, self._db.dialect), (campaign_id, now, limit))
        return [ContactRecord.from_row(r) for r in rows]

    async def due_summary(self, campaign_id: str, now: float) -> DueSummary:
        """How many contacts are left to call and due now, and why the next one waits
        (the rule of its latest skip): what ``status`` and ``config check`` say when a
        running campaign dials nothing."""
        row = await self._db.fetchone(
            "SELECT count(*), count(*) FILTER (WHERE next_attempt_at <= ?) FROM contacts"
            " WHERE campaign_id = ? AND status = 'pending'",
            (now, campaign_id),
        )
        pending = int(row[0]) if row else 0
        due = int(row[1] or 0) if row else 0
        if pending == 0 or due > 0:
            return DueSummary(pending, due, None, None, None)
        nxt = await self._db.fetchone(
            "SELECT id, next_attempt_at FROM contacts WHERE campaign_id = ? AND status = 'pending'"
            " ORDER BY next_attempt_at LIMIT 1",
            (campaign_id,),
        )
        assert nxt is not None
        skip = await self._db.fetchone(
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

    async def count(self, campaign_id: str, status: ContactStatus | None = None) -> int:
        """How many contacts the campaign has (in ``status``, if given)."""
        if status is None:
            row = await self._db.fetchone(
                "SELECT count(*) FROM contacts WHERE campaign_id = ?", (campaign_id,)
            )
        else:
            check_choice("contact status", status, CONTACT_STATUSES)
            row = await self._db.fetchone(
                "SELECT count(*) FROM contacts WHERE campaign_id = ? AND status = ?",
                (campaign_id, status),
            )
        return int(row[0]) if row else 0

    async def count_by_status(self, campaign_id: str) -> dict[ContactStatus, int]:
        """Every status with its count (0 for none), in one grouped query: a campaign
        with millions of contacts lists as fast as an empty one."""
        counts: dict[ContactStatus, int] = dict.fromkeys(CONTACT_STATUSES, 0)  # type: ignore[arg-type]
        for status, n in await self._db.fetchall(
            "SELECT status, count(*) FROM contacts WHERE campaign_id = ? GROUP BY status",
            (campaign_id,),
        ):
            counts[status] = int(n)
        return counts

    async def zones_by_id(self, campaign_id: str) -> dict[int, tuple[str, ...]]:
        """Every contact's candidate time zones, by contact id, in one query (the
        compliance report re-checks each attempt's calling window with them)."""
        rows = await self._db.fetchall(
            "SELECT id, timezones FROM contacts WHERE campaign_id = ?", (campaign_id,)
        )
        return {int(r[0]): tuple(json.loads(r[1] or "[]")) for r in rows}

    # ------------------------------------------------------------------ moves

    async def claim_due(
        self, campaign_id: str, now: float, limit: int, order: str = "priority"
    ) -> list[ContactRecord]:
        """Claim up to ``limit`` due contacts in one statement: the due walk in the
        campaign's ``order`` inside ``UPDATE … SET status = 'in_progress' … RETURNING``;
        returned in that order.

        Safe when several transactions claim at once: on PostgreSQL the inner SELECT
        carries ``FOR UPDATE SKIP LOCKED`` (:attr:`Dialect.lock_rows`), so a second
        claimer (another launch, a node finishing a hand-over) skips the rows the first
        has locked instead of claiming them too; on SQLite ``BEGIN IMMEDIATE`` already
        makes claims one at a time. The compliance gate then decides which of them may
        be dialled; the caller releases, defers or closes the rest."""
        if limit <= 0:
            return []
        dialect = self._db.dialect
        sql = (
            f"UPDATE contacts SET status = 'in_progress' WHERE id IN (SELECT id FROM "
            f"({due_sql(order, dialect)}{dialect.lock_rows}) AS due) RETURNING *"
        )
        async with self._db.transaction() as tx:
            cur = await tx.execute(sql, (campaign_id, now, limit))
            rows = list(await cur.fetchall())
            await cur.close()
        return sorted((ContactRecord.from_row(r) for r in rows), key=_SORT_KEY[order])

    async def release_many(self, contact_ids: Iterable[int]) -> int:
        """:meth:`release` for contacts claimed but never dialled (a prefetch given back
        on a pause or a stop), in one transaction; how many were still ``in_progress``."""
        ids = list(contact_ids)
        if not ids:
            return 0
        marks = ",".join("?" * len(ids))
        async with self._db.transaction() as tx:
            cur = await tx.execute(
                f"UPDATE contacts SET status = 'pending' WHERE id IN ({marks})"
                " AND status = 'in_progress'",
                ids,
            )
            return int(cur.rowcount)

    async def claim(self, contact_id: int) -> None:
        """Mark the contact ``in_progress``: picked for a dial, so no second dial picks it."""
        await self._set(contact_id, "status = 'in_progress'", ())

    async def release(self, contact_id: int, *, due_at: float | None = None) -> None:
        """Back to ``pending``: picked but never dialled, or its attempt not charged to it
        (the trunk refused); ``due_at`` moves its next attempt time."""
        if due_at is None:
            await self._set(contact_id, "status = 'pending'", ())
        else:
            await self._set(contact_id, "status = 'pending', next_attempt_at = ?", (due_at,))

    async def defer(self, contact_id: int, until: float) -> None:
        """Not before ``until`` (a rule refused it now and said when it would allow it)."""
        await self._set(contact_id, "next_attempt_at = ?", (until,))

    async def close(self, contact_id: int, status: ContactStatus) -> None:
        """Set the contact's status without an attempt (a rule closed it for good)."""
        check_choice("contact status", status, CONTACT_STATUSES)
        await self._set(contact_id, "status = ?", (status,))

    async def settle(
        self,
        contact_id: int,
        status: ContactStatus,
        *,
        attempts: int,
        last_outcome: AttemptOutcome,
        next_attempt_at: float | None = None,
    ) -> None:
        """After an attempt: its status, attempt count and outcome; when the next is due."""
        check_choice("contact status", status, CONTACT_STATUSES)
        if next_attempt_at is None:
            await self._set(
                contact_id,
                "status = ?, attempts = ?, last_outcome = ?",
                (status, attempts, last_outcome),
            )
        else:
            await self._set(
                contact_id,
                "status = ?, attempts = ?, last_outcome = ?, next_attempt_at = ?",
                (status, attempts, last_outcome, next_attempt_at),
            )

    async def set_scores(self, scores: Sequence[tuple[int, float]]) -> None:
        """Store each (contact id, ordering score): after an outcome, or the hourly
        refresh of the expected value (engine/right_time.py)."""
        async with self._db.transaction() as tx:
            await tx.executemany(
                "UPDATE contacts SET order_score = ? WHERE id = ?", [(s, i) for i, s in scores]
            )

    async def profile_keys(self, campaign_id: str) -> list[tuple[str, bool, str]]:
        """The distinct (segment or '', stated preferred hours or not, timezones JSON) of
        pending contacts: what a cold contact's answer-model figure depends on, the keys
        of :meth:`rescore_cold`'s figures."""
        rows = await self._db.fetchall(
            f"SELECT DISTINCT coalesce(segment, ''), {_STATED}, timezones FROM contacts"
            " WHERE campaign_id = ? AND status = 'pending'",
            (campaign_id,),
        )
        return [(str(r[0]), bool(r[1]), str(r[2])) for r in rows]

    async def rescore_cold(
        self,
        campaign_id: str,
        figures: dict[tuple[str, bool, str], float],
        *,
        aging_s: float,
        default_propensity: float,
        batch: int = RESCORE_BATCH,
    ) -> None:
        """Every pending contact's score from its (segment, stated, zones) figure:
        ``p × coalesce(propensity, default) − max(next_attempt_at, created_at) / aging_s``,
        the SQL mirror of :func:`dialguard.propensity.order_score` (a test holds them
        equal; the CASE is the max both SQLite and PostgreSQL read). In id batches, each its
        own transaction, so picks interleave."""
        if not figures:
            return
        whens = " ".join(
            f"WHEN coalesce(segment, '') = ? AND {_STATED} = ? AND timezones = ? THEN ?"
            for _ in figures
        )
        params: list[object] = [
            x for (seg, stated, zones), p in figures.items() for x in (seg, int(stated), zones, p)
        ]
        sql = (
            f"UPDATE contacts SET order_score = (CASE {whens} ELSE 0 END)"
            " * coalesce(propensity, ?)"
            " - (CASE WHEN next_attempt_at > created_at THEN next_attempt_at ELSE created_at END)"
            " / ?"
            " WHERE campaign_id = ? AND status = 'pending' AND id >= ? AND id < ?"
        )
        row = await self._db.fetchone(
            "SELECT min(id), max(id) FROM contacts WHERE campaign_id = ?", (campaign_id,)
        )
        if row is None or row[0] is None:
            return
        for lo in range(int(row[0]), int(row[1]) + 1, batch):
            async with self._db.transaction() as tx:
                await tx.execute(
                    sql, (*params, default_propensity, aging_s, campaign_id, lo, lo + batch)
                )

    async def pending_among(self, campaign_id: str, ids: Sequence[int]) -> list[ContactRecord]:
        """The pending contacts of the campaign among ``ids``."""
        out: list[ContactRecord] = []
        for i in range(0, len(ids), 500):
            chunk = list(ids[i : i + 500])
            marks = ",".join("?" * len(chunk))
            rows = await self._db.fetchall(
                f"SELECT * FROM contacts WHERE campaign_id = ? AND status = 'pending'"
                f" AND id IN ({marks})",
                (campaign_id, *chunk),
            )
            out += [ContactRecord.from_row(r) for r in rows]
        return out

    async def release_orphans(self, campaign_id: str | None = None) -> int:
        """After a crash: contacts marked ``in_progress`` (of one campaign, if given)
        whose attempt row was never written go back to ``pending``; the count. No INVITE
        can have left for them (the row is written first), so they may be dialled again
        at once."""
        scope, params = (
            ("", ()) if campaign_id is None else (" AND campaign_id = ?", (campaign_id,))
        )
        async with self._db.transaction() as tx:
            cur = await tx.execute(
                "UPDATE contacts SET status = 'pending' WHERE status = 'in_progress'"
                " AND id NOT IN (SELECT contact_id FROM attempts"
                " WHERE outcome IS NULL AND contact_id IS NOT NULL)" + scope,
                params,
            )
            return int(cur.rowcount)

    async def _set(self, contact_id: int, assignments: str, params: tuple[object, ...]) -> None:
        # ``assignments`` is always one of the constants above, never a caller's text.
        await self._db.update_one(
            f"UPDATE contacts SET {assignments} WHERE id = ?",
            (*params, contact_id),
            f"contact {contact_id} is not in the store",
        )
