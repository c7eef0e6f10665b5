"""The attempt log: one row per dial, written before the INVITE leaves, then filled in
as the call lives.

Each step of a call's life is one named write, so the row can only change the way a
call can (``id``, ``campaign_id``, ``contact_id``, ``number`` and ``created_at`` are
facts of the dial and never change after :meth:`Attempts.open`)::

    open ─▶ mark_invited ─▶ mark_ringing ─▶ mark_answered ─▶ mark_connected ─▶ settle
                                         ╰▶ mark_abandoned (any time after the answer)
    also: mark_trunk_fault, mark_opted_out, set_disposition (the agent's, after the call)

``outcome`` stays NULL until :meth:`Attempts.settle`, so after a crash the unsettled
rows are exactly the calls whose fate is unknown (:meth:`Attempts.interrupt_unsettled`).
"""

from __future__ import annotations

from collections.abc import Sequence

from dialguard.logs import get_logger
from dialguard.store.answers import AnsweredAttempt, answered_attempts
from dialguard.store.attempt_updates import AttemptUpdate, apply_updates
from dialguard.store.database import Database
from dialguard.store.errors import UnknownRecord
from dialguard.store.period_figures import (
    HourFigures,
    ZoneSlot,
    abandon_reasons,
    dialled_times,
    hour_figures,
    live_answer_times,
    zone_sets,
    zone_slots,
)
from dialguard.store.records import AttemptOutcome, AttemptRecord

__all__ = ["AttemptUpdate", "Attempts"]

log = get_logger(__name__)


class Attempts:
    """The ``attempts`` table."""

    def __init__(self, database: Database) -> None:
        self._db = database

    # ------------------------------------------------------------------ the row

    async def open(
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
        ts = self._db.now(now)
        async with self._db.transaction() as tx:
            cur = await tx.execute(
                "INSERT INTO attempts (campaign_id, contact_id, number, mode, agent_id, call_id,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (campaign_id, contact_id, number, mode, agent_id, call_id, ts),
            )
            row = await cur.fetchone()
        assert row is not None
        return int(row[0])

    async def mark_invited(self, attempt_id: int, at: float, call_id: str) -> None:
        """The INVITE left at ``at`` with this Call-ID."""
        await self.update(AttemptUpdate.invited(attempt_id, at, call_id))

    async def mark_ringing(self, attempt_id: int, at: float) -> None:
        """First 180/183 at ``at`` (the ring-time floor counts from here)."""
        await self.update(AttemptUpdate.ringing(attempt_id, at))

    async def mark_answered(self, attempt_id: int, at: float) -> None:
        """200 OK at ``at`` (the 2-second connect deadline counts from here)."""
        await self.update(AttemptUpdate.answered(attempt_id, at))

    async def mark_connected(self, attempt_id: int, at: float, agent_id: str) -> None:
        """The callee reached ``agent_id`` at ``at``."""
        await self.update(AttemptUpdate.connected(attempt_id, at, agent_id))

    async def mark_abandoned(
        self, attempt_id: int, reason: str, *, message_played_at: float | None = None
    ) -> None:
        """A person answered and reached nobody (``reason`` says why); the information
        message started at ``message_played_at`` if it was played."""
        await self.update(
            AttemptUpdate.abandoned(attempt_id, reason, message_played_at=message_played_at)
        )

    async def mark_opted_out(self, attempt_id: int) -> None:
        """The callee pressed the opt-out key during the message."""
        await self.update(AttemptUpdate.opted_out(attempt_id))

    async def mark_trunk_fault(self, attempt_id: int) -> None:
        """The trunk itself refused the call (503/408 storm): not the contact's fault."""
        await self.update(AttemptUpdate.trunk_fault(attempt_id))

    async def settle(
        self,
        attempt_id: int,
        outcome: AttemptOutcome,
        *,
        ended_at: float,
        ended_by: str,
        sip_code: int | None = None,
    ) -> None:
        """The call's final outcome: it ended at ``ended_at``, by ``local`` or ``remote``."""
        await self.update(
            AttemptUpdate.settled(
                attempt_id, outcome, ended_at=ended_at, ended_by=ended_by, sip_code=sip_code
            )
        )

    async def set_disposition(self, attempt_id: int, code: str) -> None:
        """The agent's wrap-up code for the call."""
        await self.update(AttemptUpdate.disposition(attempt_id, code))

    async def update(self, update: AttemptUpdate) -> None:
        """Write one step; :class:`UnknownRecord` if its attempt is not in the store."""
        if await apply_updates(self._db, [update]):
            raise UnknownRecord(f"attempt {update.attempt_id} is not in the store")

    async def apply_updates(self, updates: Sequence[AttemptUpdate]) -> list[int]:
        """Write many steps (of any attempts) in one transaction, as if one by one in
        order: the engine's write-behind (:mod:`dialguard.store.attempt_updates`). The
        ids of attempts not in the store, whose steps wrote nothing; the rest commit.

        On a fenced store the transaction checks the lease first, so every step in it is
        fenced, and a lost lease raises :class:`~dialguard.store.leases.LeaseLost` with
        nothing written."""
        return await apply_updates(self._db, updates)

    # ------------------------------------------------------------------ reads

    async def get(self, attempt_id: int) -> AttemptRecord | None:
        row = await self._db.fetchone("SELECT * FROM attempts WHERE id = ?", (attempt_id,))
        return None if row is None else AttemptRecord.from_row(row)

    async def by_call_id(self, call_id: str) -> AttemptRecord | None:
        """The attempt whose INVITE had this Call-ID (an agent's disposition names it)."""
        row = await self._db.fetchone(
            "SELECT * FROM attempts WHERE call_id = ? ORDER BY id DESC LIMIT 1", (call_id,)
        )
        return None if row is None else AttemptRecord.from_row(row)

    async def of_campaign(
        self, campaign_id: str, since: float, until: float
    ) -> list[AttemptRecord]:
        """A campaign's attempts created in ``[since, until)``, oldest first."""
        rows = await self._db.fetchall(
            "SELECT * FROM attempts WHERE campaign_id = ? AND created_at >= ? AND created_at < ?"
            " ORDER BY created_at, id",
            (campaign_id, since, until),
        )
        return [AttemptRecord.from_row(r) for r in rows]

    async def to_number_since(self, number: str, since: float) -> list[AttemptRecord]:
        """All attempts to ``number`` created at or after ``since`` (any campaign), oldest first.

        For frequency caps and the 72-hour lock-out after an abandoned call.
        """
        rows = await self._db.fetchall(
            "SELECT * FROM attempts WHERE number = ? AND created_at >= ? ORDER BY created_at, id",
            (number, since),
        )
        return [AttemptRecord.from_row(r) for r in rows]

    async def to_numbers(self, numbers: Sequence[str]) -> dict[str, list[AttemptRecord]]:
        """:meth:`to_number_since` (from the start) for many numbers in one query: the
        contact picker checks a claimed batch at once. Numbers never called are absent."""
        found: dict[str, list[AttemptRecord]] = {}
        if not numbers:
            return found
        marks = ",".join("?" * len(numbers))
        rows = await self._db.fetchall(
            f"SELECT * FROM attempts WHERE number IN ({marks}) ORDER BY created_at, id",
            list(numbers),
        )
        for r in rows:
            a = AttemptRecord.from_row(r)
            found.setdefault(a.number, []).append(a)
        return found

    async def count(self, campaign_id: str) -> int:
        """How many attempts the campaign has made, in one indexed count."""
        row = await self._db.fetchone(
            "SELECT count(*) FROM attempts WHERE campaign_id = ?", (campaign_id,)
        )
        return int(row[0]) if row else 0

    async def answered_since(self, campaign_id: str, since: float) -> list[AnsweredAttempt]:
        """A campaign's attempts answered (or abandoned) after ``since``, five columns
        each: the governor's seed (:mod:`dialguard.store.answers`)."""
        return await answered_attempts(self._db, campaign_id, since)

    # ------------------------------------------------------------------ the report

    async def hour_figures(
        self,
        campaign_id: str,
        hours: Sequence[tuple[float, float]],
        honoured: Sequence[str],
    ) -> list[HourFigures]:
        """The compliance figures of the attempts created in each ``[since, until)`` of
        ``hours``, summed by the database (:mod:`dialguard.store.period_figures`)."""
        return await hour_figures(self._db, campaign_id, hours, honoured)

    async def abandon_reasons(self, campaign_id: str, since: float, until: float) -> dict[str, int]:
        """The abandoned calls among the attempts created in ``[since, until)``, by
        reason (the row's, else late_connect or unknown)."""
        return await abandon_reasons(self._db, campaign_id, since, until)

    async def live_answer_times(
        self, campaign_id: str, since: float, until: float
    ) -> list[tuple[float, bool]]:
        """(instant, abandoned?) of every live answer among the attempts created in
        ``[since, until)``: the rolling abandon rate's input."""
        return await live_answer_times(self._db, campaign_id, since, until)

    async def zone_slots(self, campaign_id: str, since: float, until: float) -> list[ZoneSlot]:
        """The attempts created in ``[since, until)`` with a contact, counted by the
        contact's zone set and dial hour."""
        return await zone_slots(self._db, campaign_id, since, until)

    async def zone_sets(self, campaign_id: str) -> list[str]:
        """Every zone set among the campaign's contacts, as stored (JSON lists)."""
        return await zone_sets(self._db, campaign_id)

    async def dialled_times(
        self,
        campaign_id: str,
        since: float,
        until: float,
        zones_key: str,
        first: float,
        last: float,
    ) -> list[float]:
        """The dial instants between ``first`` and ``last`` (inclusive) of the attempts
        created in ``[since, until)`` to contacts of the zone set ``zones_key``: for a
        :class:`ZoneSlot` whose hour holds a calling-window edge."""
        return await dialled_times(self._db, campaign_id, since, until, zones_key, first, last)

    # ------------------------------------------------------------------ crash recovery

    async def unsettled(self, campaign_id: str | None = None) -> list[AttemptRecord]:
        """Every attempt with no outcome yet (of one campaign, if given), by id."""
        if campaign_id is None:
            rows = await self._db.fetchall(
                "SELECT * FROM attempts WHERE outcome IS NULL ORDER BY id"
            )
        else:
            rows = await self._db.fetchall(
                "SELECT * FROM attempts WHERE outcome IS NULL AND campaign_id = ? ORDER BY id",
                (campaign_id,),
            )
        return [AttemptRecord.from_row(r) for r in rows]

    async def interrupt_unsettled(self, now: float, campaign_id: str | None = None) -> list[int]:
        """After a crash: close every attempt with no outcome (of one campaign, if given:
        the campaign a node just took over) as ``interrupted``; their ids.

        ``ended_at`` is set to ``now`` unless the call had already ended.
        """
        scope, params = (
            ("", ()) if campaign_id is None else (" AND campaign_id = ?", (campaign_id,))
        )
        async with self._db.transaction() as tx:
            rows = await self._db.fetchall(
                "SELECT id FROM attempts WHERE outcome IS NULL" + scope, params
            )
            ids = [int(r[0]) for r in rows]
            if ids:
                await tx.execute(
                    "UPDATE attempts SET outcome = 'interrupted',"
                    " ended_at = coalesce(ended_at, ?) WHERE outcome IS NULL" + scope,
                    (now, *params),
                )
        if ids:
            log.warning("attempts_interrupted", count=len(ids))
        return ids
