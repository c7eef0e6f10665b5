"""The write queue's write-behind: attempt updates queued after the INVITE are written
many to a transaction, in order, retried while the store refuses (nothing lost), and a
write that can never succeed — a bad row, a campaign whose lease another node took — is
dropped alone and named, never the updates around it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from dialguard.engine.writes import StoreWrites
from dialguard.store import AttemptUpdate, NewContact, Store
from tests.support.attempts import counting_transactions
from tests.support.postgres import scratch_database
from tests.support.scripted import FlakyStore

NUMBERS = [f"+4420794601{n:02d}" for n in range(4)]


async def _attempts(store: Store, campaign: str = "c1") -> list[int]:
    await store.campaigns.upsert(campaign, campaign, "{}")
    await store.contacts.insert(campaign, [NewContact(number=n, region="GB") for n in NUMBERS])
    return [
        await store.attempts.open(campaign_id=campaign, contact_id=c.id, number=c.number, mode="p")
        for c in await store.contacts.due(campaign, 1e12, len(NUMBERS))
    ]


@contextlib.asynccontextmanager
async def writer(writes: StoreWrites) -> AsyncIterator[None]:
    task = asyncio.create_task(writes.run())
    try:
        yield
    finally:
        assert await writes.drain(10), "writes left in the queue"
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _steps(ids: list[int], t: float = 100.0) -> list[AttemptUpdate]:
    """Each attempt's life after the INVITE, interleaved as calls' events are."""
    steps = []
    for i in ids:
        steps += [AttemptUpdate.invited(i, t, f"call-{i}"), AttemptUpdate.ringing(i, t + 1)]
    for i in ids:
        steps += [
            AttemptUpdate.answered(i, t + 2),
            AttemptUpdate.connected(i, t + 3, "a1"),
            AttemptUpdate.settled(i, "connected", ended_at=t + 9, ended_by="remote"),
        ]
    return steps


async def test_updates_queued_together_are_written_in_one_transaction(tmp_path: Path) -> None:
    async with await Store.open(tmp_path / "s.sqlite3") as store:
        ids = await _attempts(store)
        opened = counting_transactions(store)
        writes = StoreWrites()
        for step in _steps(ids):
            writes.update(store, step)
        async with writer(writes):
            pass
        assert (writes.stats.batches, len(opened), writes.stats.done) == (1, 1, 5 * len(ids))
        for i in ids:
            a = await store.attempts.get(i)
            assert a is not None and (a.call_id, a.connected_at, a.outcome) == (
                f"call-{i}",
                103.0,
                "connected",
            )


async def test_a_refusing_store_is_retried_and_loses_nothing_in_order(tmp_path: Path) -> None:
    """A full disk: the batch is retried until the store heals, dialling stays closed
    meanwhile, and a write queued behind the updates (a contact's settlement) runs only
    after them, so the store never holds a later write without the earlier ones."""
    async with await Store.open(tmp_path / "s.sqlite3") as real:
        ids = await _attempts(real)
        store = FlakyStore(real)
        store.failing.add("attempts.apply_updates")
        writes = StoreWrites()
        seen_by_settle: list[object] = []

        async def settle_contact() -> None:
            seen_by_settle.append((await real.attempts.get(ids[0])).outcome)  # type: ignore[union-attr]

        async with writer(writes):
            for step in _steps(ids)[:7]:
                writes.update(store, step)  # type: ignore[arg-type]
            await asyncio.sleep(0.3)
            assert store.refused >= 1 and not writes.healthy
            assert writes.pending == 7
            # queued while failing: must land after (and fold over) the earlier ones
            for step in _steps(ids)[7:]:
                writes.update(store, step)  # type: ignore[arg-type]
            writes.submit("settle contact", settle_contact)
            writes.update(store, AttemptUpdate.disposition(ids[0], "first"))  # type: ignore[arg-type]
            writes.update(store, AttemptUpdate.disposition(ids[0], "second"))  # type: ignore[arg-type]
            await asyncio.sleep(0.5)
            assert writes.pending == 5 * len(ids) + 3, "a write was lost or run out of turn"
            assert seen_by_settle == []
            store.failing.clear()
        assert writes.healthy and writes.stats.retried >= 2 and writes.stats.dropped == 0
        assert seen_by_settle == ["connected"], "the settlement ran before the updates"
        for i in ids:
            a = await real.attempts.get(i)
            assert a is not None and (a.ringing_at, a.outcome) == (101.0, "connected")
        first = await real.attempts.get(ids[0])
        assert first is not None and first.disposition == "second"


async def test_an_update_that_can_never_be_written_is_dropped_alone(tmp_path: Path) -> None:
    async with await Store.open(tmp_path / "s.sqlite3") as store:
        ids = await _attempts(store)
        bad = AttemptUpdate(ids[1], "bad", ("outcome",), ("no such outcome",))  # CHECK fails
        writes = StoreWrites()
        writes.update(store, AttemptUpdate.answered(ids[0], 5.0))
        writes.update(store, bad)
        writes.update(store, AttemptUpdate.answered(ids[2], 6.0))
        writes.update(store, AttemptUpdate.answered(999_999, 7.0))  # no such attempt
        with capture_logs() as logs:
            async with writer(writes):
                pass
        assert (writes.stats.done, writes.stats.dropped) == (2, 2)
        dropped = [e["what"] for e in logs if e["event"] == "store_write_dropped"]
        assert dropped == [f"attempt {ids[1]} bad", "attempt 999999 answered"]
        rows = [await store.attempts.get(i) for i in ids[:3]]
        assert [r.answered_at for r in rows if r] == [5.0, None, 6.0]
        assert writes.healthy


async def test_a_lost_lease_drops_only_that_campaigns_updates_each_named() -> None:
    """On PostgreSQL each campaign's updates are fenced by its own lease: once another
    node took c1, c1's queued updates are refused and reported one by one, while c2's,
    queued in the same few milliseconds, are written."""
    with scratch_database() as url:
        async with await Store.open(url) as pg:
            c1, c2 = await _attempts(pg, "c1"), await _attempts(pg, "c2")
            l1 = await pg.leases.acquire("c1", "node-a", 60.0)
            l2 = await pg.leases.acquire("c2", "node-a", 60.0)
            assert l1 is not None and l2 is not None
            as_a1, as_a2 = pg.fenced(l1), pg.fenced(l2)
            await pg.leases.release(l1)
            assert await pg.leases.acquire("c1", "node-b", 60.0) is not None
            writes = StoreWrites()
            writes.update(as_a1, AttemptUpdate.answered(c1[0], 1.0))
            writes.update(as_a2, AttemptUpdate.answered(c2[0], 2.0))
            writes.update(as_a1, AttemptUpdate.ringing(c1[1], 3.0))
            writes.update(as_a2, AttemptUpdate.ringing(c2[1], 4.0))
            with capture_logs() as logs:
                async with writer(writes):
                    pass
            dropped = [
                (e["what"], "node-b" in e["error"])
                for e in logs
                if e["event"] == "store_write_dropped"
            ]
            assert dropped == [
                (f"attempt {c1[0]} answered", True),
                (f"attempt {c1[1]} ringing", True),
            ]
            assert (writes.stats.done, writes.stats.dropped) == (2, 2)
            got = [await pg.attempts.get(i) for i in (c1[0], c1[1], c2[0], c2[1])]
            assert [(a.answered_at, a.ringing_at) for a in got if a] == [
                (None, None),
                (None, None),
                (2.0, None),
                (None, 4.0),
            ]


@pytest.mark.parametrize("queued", [0, 3])
async def test_drain_waits_for_the_updates_in_flight(tmp_path: Path, queued: int) -> None:
    async with await Store.open(tmp_path / "s.sqlite3") as store:
        ids = await _attempts(store)
        writes = StoreWrites()
        async with writer(writes):
            for i in ids[:queued]:
                writes.update(store, AttemptUpdate.answered(i, 9.0))
        assert writes.pending == 0 and writes.stats.done == queued
        rows = [await store.attempts.get(i) for i in ids[:queued]]
        assert all(r is not None and r.answered_at == 9.0 for r in rows)


def test_a_lost_postgresql_connection_is_retried_a_bad_row_is_not() -> None:
    """The queue retries what is transient: on PostgreSQL that is psycopg's
    OperationalError (it used to count as permanent, so a dropped connection dropped
    the write); a CHECK violation or a lost lease is dropped."""
    import psycopg
    from psycopg_pool import PoolTimeout

    from dialguard.store import is_transient
    from dialguard.store.leases import LeaseLost

    assert is_transient(psycopg.OperationalError("server closed the connection unexpectedly"))
    assert is_transient(PoolTimeout("couldn't get a connection after 10.00 sec"))
    assert is_transient(psycopg.errors.DiskFull("could not extend file"))
    assert not is_transient(psycopg.errors.CheckViolation("violates check constraint"))
    assert not is_transient(psycopg.ProgrammingError("syntax error"))
    assert not is_transient(LeaseLost("campaign 'c1': node-a lost its lease"))
