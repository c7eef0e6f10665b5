"""The steps of an attempt row's life after the INVITE, as values, and how many of
them are written in one transaction.

Why values rather than one method call each: the engine queues a call's record updates
behind the pacer (``engine/writes.py``) and, at load, hundreds arrive a second. Each as
its own transaction was three round trips to the store's thread (``BEGIN``,
``UPDATE``, ``COMMIT``) and, on SQLite, a wait for its write lock; as values they are
written many at a time by :func:`apply_updates`.

Each :class:`AttemptUpdate` is made only by its named constructor (``invited``,
``answered``, ``settled`` …), so the columns one step may set are written down once, here,
and never come from a caller's text. :class:`~dialguard.store.attempts.Attempts`' named
methods (``mark_answered`` …) are these same steps, written one at a time.

Applying a batch is exactly applying its updates one by one in order: the updates of one
attempt are folded in order (a later value of a column replaces an earlier one), then
each attempt's row is written once. The attempts folded to the same columns share one
``executemany``, so a batch of a few dozen steps is a handful of statements.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dialguard.store.database import Database, check_choice
from dialguard.store.records import ATTEMPT_OUTCOMES, AttemptOutcome

__all__ = ["AttemptUpdate", "apply_updates"]


@dataclass(frozen=True, slots=True)
class AttemptUpdate:
    """One step of attempt ``attempt_id``: the ``columns`` it sets to ``values``.

    ``step`` names it in logs ("attempt 7 answered"). Make one with a constructor below."""

    attempt_id: int
    step: str
    columns: tuple[str, ...]
    values: tuple[object, ...]

    @classmethod
    def invited(cls, attempt_id: int, at: float, call_id: str) -> AttemptUpdate:
        """The INVITE left at ``at`` with this Call-ID."""
        return cls(attempt_id, "invited", ("invite_at", "call_id"), (at, call_id))

    @classmethod
    def ringing(cls, attempt_id: int, at: float) -> AttemptUpdate:
        """First 180/183 at ``at`` (the ring-time floor counts from here)."""
        return cls(attempt_id, "ringing", ("ringing_at",), (at,))

    @classmethod
    def answered(cls, attempt_id: int, at: float) -> AttemptUpdate:
        """200 OK at ``at`` (the 2-second connect deadline counts from here)."""
        return cls(attempt_id, "answered", ("answered_at",), (at,))

    @classmethod
    def connected(cls, attempt_id: int, at: float, agent_id: str) -> AttemptUpdate:
        """The callee reached ``agent_id`` at ``at``."""
        return cls(attempt_id, "connected", ("connected_at", "agent_id"), (at, agent_id))

    @classmethod
    def abandoned(
        cls, attempt_id: int, reason: str, *, message_played_at: float | None = None
    ) -> AttemptUpdate:
        """A person answered and reached nobody (``reason`` says why); the information
        message started at ``message_played_at`` if it was played."""
        if message_played_at is None:
            return cls(attempt_id, "abandoned", ("abandoned", "abandon_reason"), (1, reason))
        return cls(
            attempt_id,
            "abandoned",
            ("abandoned", "abandon_reason", "message_played_at"),
            (1, reason, message_played_at),
        )

    @classmethod
    def opted_out(cls, attempt_id: int) -> AttemptUpdate:
        """The callee pressed the opt-out key during the message."""
        return cls(attempt_id, "opted out", ("opted_out",), (1,))

    @classmethod
    def trunk_fault(cls, attempt_id: int) -> AttemptUpdate:
        """The trunk itself refused the call (503/408 storm): not the contact's fault."""
        return cls(attempt_id, "trunk fault", ("trunk_fault",), (1,))

    @classmethod
    def settled(
        cls,
        attempt_id: int,
        outcome: AttemptOutcome,
        *,
        ended_at: float,
        ended_by: str,
        sip_code: int | None = None,
    ) -> AttemptUpdate:
        """The call's final outcome: it ended at ``ended_at``, by ``local`` or ``remote``."""
        check_choice("attempt outcome", outcome, ATTEMPT_OUTCOMES)
        return cls(
            attempt_id,
            f"outcome {outcome}",
            ("outcome", "ended_at", "ended_by", "sip_code"),
            (outcome, ended_at, ended_by, sip_code),
        )

    @classmethod
    def disposition(cls, attempt_id: int, code: str) -> AttemptUpdate:
        """The agent's wrap-up code for the call."""
        return cls(attempt_id, "disposition", ("disposition",), (code,))

    def __str__(self) -> str:
        return f"attempt {self.attempt_id} {self.step}"


async def apply_updates(db: Database, updates: Sequence[AttemptUpdate]) -> list[int]:
    """Write ``updates`` in one transaction of ``db``, as if one by one in order; the ids
    of the attempts that are not in the store (their updates wrote nothing; the others
    are committed all the same)."""
    if not updates:
        return []
    rows: dict[int, dict[str, object]] = {}
    for u in updates:
        rows.setdefault(u.attempt_id, {}).update(zip(u.columns, u.values, strict=True))
    by_columns: dict[tuple[str, ...], list[tuple[object, ...]]] = {}
    for attempt_id, row in rows.items():
        by_columns.setdefault(tuple(row), []).append((*row.values(), attempt_id))
    written = 0
    async with db.transaction() as tx:
        for columns, params in by_columns.items():
            # ``columns`` are the constructors' constants above, never a caller's text.
            sets = ", ".join(f"{c} = ?" for c in columns)
            sql = f"UPDATE attempts SET {sets} WHERE id = ?"
            if len(params) == 1:
                cur = await tx.execute(sql, params[0])
            else:
                cur = await tx.executemany(sql, params)
            written += cur.rowcount
            await cur.close()
        if written == len(rows):
            return []
        marks = ",".join("?" * len(rows))
        cur = await tx.execute(f"SELECT id FROM attempts WHERE id IN ({marks})", list(rows))
        present = {int(r[0]) for r in await cur.fetchall()}
        await cur.close()
    return [i for i in rows if i not in present]
