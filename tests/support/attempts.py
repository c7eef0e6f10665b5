"""Fill in an attempt row from the columns a test wants, through the store's typed writes.

Report tests describe a call by its columns (``answered_at=t + 6, outcome="connected"``);
this plays them back in the order a real call writes them (invite, ringing, answer,
connect, abandon, opt-out, outcome), so a test cannot build a row the engine never could.
"""

from __future__ import annotations

from typing import Any

from dialguard.store import AttemptOutcome, Store


def counting_transactions(store: Store) -> list[int]:
    """Count the write transactions ``store`` opens from now on (one element each)."""
    db = store._database
    inner = db.transaction
    opened: list[int] = []

    def counted() -> Any:
        opened.append(1)
        return inner()

    db.transaction = counted  # type: ignore[method-assign]
    return opened


async def play_attempt(
    store: Store,
    attempt_id: int,
    *,
    invite_at: float | None = None,
    call_id: str | None = None,
    ringing_at: float | None = None,
    answered_at: float | None = None,
    connected_at: float | None = None,
    agent_id: str | None = None,
    abandoned: bool = False,
    abandon_reason: str | None = None,
    message_played_at: float | None = None,
    opted_out: bool = False,
    trunk_fault: bool = False,
    outcome: AttemptOutcome | None = None,
    ended_at: float | None = None,
    ended_by: str = "remote",
    sip_code: int | None = None,
) -> None:
    attempts = store.attempts
    if invite_at is not None:
        row = await attempts.get(attempt_id)
        known = row.call_id if row is not None else None
        await attempts.mark_invited(attempt_id, invite_at, call_id or known or f"call-{attempt_id}")
    if ringing_at is not None:
        await attempts.mark_ringing(attempt_id, ringing_at)
    if answered_at is not None:
        await attempts.mark_answered(attempt_id, answered_at)
    if connected_at is not None:
        await attempts.mark_connected(attempt_id, connected_at, agent_id or "agent-001")
    if abandoned:
        await attempts.mark_abandoned(
            attempt_id, abandon_reason or "unknown", message_played_at=message_played_at
        )
    if opted_out:
        await attempts.mark_opted_out(attempt_id)
    if trunk_fault:
        await attempts.mark_trunk_fault(attempt_id)
    if outcome is not None:
        if ended_at is None:  # not said: it ended when last heard of
            known = (invite_at, ringing_at, answered_at, connected_at, message_played_at)
            ended_at = max((t for t in known if t is not None), default=0.0)
        await attempts.settle(
            attempt_id, outcome, ended_at=ended_at, ended_by=ended_by, sip_code=sip_code
        )
