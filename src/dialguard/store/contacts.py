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

import dataclasses
import json
from collections.abc import Iterable

from dialguard.store.database import Database, check_choice, dumps
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

__all__ = ["DUE_SQL", "Contacts"]

_INSERT = """
INSERT INTO contacts (campaign_id, number, region, timezones, name, priority, consent,
                      preferred_channel, preferred_hours, custom, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (campaign_id, number) DO NOTHING
"""

DUE_SQL = (
    "SELECT * FROM contacts WHERE campaign_id = ? AND status = 'pending' "
    "AND next_attempt_at <= ? ORDER BY priority DESC, next_attempt_at, id LIMIT ?"
)
"""The engine's hottest read; public so a test can check it walks ``contacts_due``."""


class Contacts:
    """The ``contacts`` table."""

    def __init__(self, database: Database) -> None:
        self._db = database

    # ------------------------------------------------------------------ import

    async def insert(
        self, campaign_id: str, rows: Iterable[NewContact], *, now: float | None = None
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
            )
            for c in rows
        )
        return await self._db.insert_in_batches(_INSERT, params)

    # ------------------------------------------------------------------ reads

    async def get(self, contact_id: int) -> ContactRecord | None:
        row = await self._db.fetchone("SELECT * FROM contacts WHERE id = ?", (contact_id,))
        return None if row is None else ContactRecord.from_row(row)

    async def due(self, campaign_id: str, now: float, limit: int) -> list[ContactRecord]:
        """Pending contacts due at ``now``: highest priority first, then longest due, then id.

        One walk of the partial index ``contacts_due``, stopping after ``limit`` rows.
        """
        rows = await self._db.fetchall(DUE_SQL, (campaign_id, now, limit))
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

    async def claim_due(self, campaign_id: str, now: float, limit: int) -> list[ContactRecord]:
        """Claim up to ``limit`` due contacts in one transaction: the :data:`DUE_SQL` walk,
        then one ``UPDATE … RETURNING`` marks them ``in_progress``; in due order.

        Only rows still ``pending`` at the UPDATE are returned (another claimer sharing
        the store may have taken some), so each contact is claimed by one caller."""
        if limit <= 0:
            return []
        async with self._db.transaction() as tx:
            rows = list(await tx.execute_fetchall(DUE_SQL, (campaign_id, now, limit)))
            if not rows:
                return []
            ids = [int(r["id"]) for r in rows]
            marks = ",".join("?" * len(ids))
            taken = await tx.execute_fetchall(
                f"UPDATE contacts SET status = 'in_progress' WHERE id IN ({marks})"
                " AND status = 'pending' RETURNING id",
                ids,
            )
        claimed = {int(r[0]) for r in taken}
        return [
            dataclasses.replace(ContactRecord.from_row(r), status="in_progress")
            for r in rows
            if int(r["id"]) in claimed
        ]

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
