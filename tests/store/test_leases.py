"""Campaign leases on PostgreSQL: expiry, renewal, takeover and the fencing token (a node
that lost its lease cannot write for the campaign), on a clock moved by hand."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from dialguard.store import AttemptUpdate, Store
from dialguard.store.leases import LeaseLost
from tests.store.helpers import FakeClock, contact
from tests.support.postgres import scratch_database

TTL = 10.0


@pytest.fixture
async def pg(clock: FakeClock) -> AsyncIterator[Store]:
    with scratch_database() as url:
        async with await Store.open(url, clock=clock) as s:
            await s.campaigns.upsert("spring", "Spring renewals", '{"id": "spring"}')
            yield s


async def test_first_node_gets_the_lease_and_others_do_not(pg: Store) -> None:
    a = await pg.leases.acquire("spring", "node-a", TTL)
    assert a is not None and a.token == 1
    assert await pg.leases.acquire("spring", "node-b", TTL) is None
    [held] = await pg.leases.all()
    assert (held.owner, held.token) == ("node-a", 1)


async def test_a_lease_not_renewed_is_taken_after_expiry_with_a_higher_token(
    pg: Store, clock: FakeClock
) -> None:
    a = await pg.leases.acquire("spring", "node-a", TTL)
    assert a is not None
    clock.now += TTL - 0.1
    assert await pg.leases.acquire("spring", "node-b", TTL) is None, "not expired yet"
    clock.now += 0.2
    b = await pg.leases.acquire("spring", "node-b", TTL)
    assert b is not None and b.token == a.token + 1 and b.owner == "node-b"
    with pytest.raises(LeaseLost, match="node-b"):
        await pg.leases.renew(a, TTL)


async def test_renewal_keeps_the_lease_past_its_first_expiry(pg: Store, clock: FakeClock) -> None:
    a = await pg.leases.acquire("spring", "node-a", TTL)
    assert a is not None
    for _ in range(3):
        clock.now += TTL / 2
        a = await pg.leases.renew(a, TTL)
    assert a.expires_at == clock.now + TTL
    clock.now += TTL - 1
    assert await pg.leases.acquire("spring", "node-b", TTL) is None


async def test_a_released_lease_is_free_at_once(pg: Store) -> None:
    a = await pg.leases.acquire("spring", "node-a", TTL)
    assert a is not None
    await pg.leases.release(a)
    b = await pg.leases.acquire("spring", "node-b", TTL)
    assert b is not None and b.token == 2


async def test_a_restarted_node_takes_its_own_lease_back_at_once(pg: Store) -> None:
    a = await pg.leases.acquire("spring", "node-a", TTL)
    again = await pg.leases.acquire("spring", "node-a", TTL)
    assert a is not None and again is not None and again.token == a.token + 1
    with pytest.raises(LeaseLost):  # the old process's writes are fenced off too
        await pg.fenced(a).attempts.open(
            campaign_id="spring", contact_id=None, number="+442079460000", mode="p"
        )


async def test_a_node_that_lost_its_lease_cannot_write(pg: Store, clock: FakeClock) -> None:
    await pg.contacts.insert("spring", [contact("+442079460000")])
    [c] = await pg.contacts.due("spring", clock.now, 1)
    a = await pg.leases.acquire("spring", "node-a", TTL)
    assert a is not None
    as_a = pg.fenced(a)
    attempt = await as_a.attempts.open(
        campaign_id="spring", contact_id=c.id, number=c.number, mode="p"
    )
    await as_a.contacts.claim(c.id)  # writes succeed while the lease is held

    clock.now += TTL + 1  # node-a stalls past its expiry; node-b takes over
    b = await pg.leases.acquire("spring", "node-b", TTL)
    assert b is not None

    with pytest.raises(LeaseLost, match="node-b"):
        await as_a.attempts.open(campaign_id="spring", contact_id=c.id, number=c.number, mode="p")
    with pytest.raises(LeaseLost):
        await as_a.attempts.mark_answered(attempt, clock.now)
    with pytest.raises(LeaseLost):
        await as_a.contacts.release(c.id)
    with pytest.raises(LeaseLost):
        await as_a.skips.record("spring", c.id, "r", "why")
    assert await pg.attempts.count("spring") == 1, "the fenced write left nothing behind"
    row = await pg.attempts.get(attempt)
    assert row is not None and row.answered_at is None
    # the new holder writes fine
    await pg.fenced(b).attempts.mark_answered(attempt, clock.now)


async def test_an_expired_lease_nobody_took_still_lets_its_owner_write(
    pg: Store, clock: FakeClock
) -> None:
    """The token is the safety, the expiry only liveness: nobody else wrote meanwhile."""
    a = await pg.leases.acquire("spring", "node-a", TTL)
    assert a is not None
    clock.now += TTL * 3
    await pg.fenced(a).skips.record("spring", None, "r", "why")
    a = await pg.leases.renew(a, TTL)
    assert a.expires_at == clock.now + TTL


async def test_a_takeover_waits_for_a_write_under_way(pg: Store, clock: FakeClock) -> None:
    """The fence reads the lease FOR SHARE: the acquiring UPDATE waits for the write's
    commit, so no write of the old holder can land after the new one holds the lease."""
    a = await pg.leases.acquire("spring", "node-a", TTL)
    assert a is not None
    fenced = pg.fenced(a)
    inside = asyncio.Event()
    release = asyncio.Event()
    order: list[str] = []

    async def slow_write() -> None:
        async with fenced._database.transaction() as tx:
            inside.set()
            await release.wait()
            await tx.execute(
                "INSERT INTO skips (ts, campaign_id, rule, reason) VALUES (?, ?, ?, ?)",
                (clock.now, "spring", "r", "slow"),
            )
        order.append("write committed")

    async def takeover() -> None:
        await inside.wait()
        clock.now += TTL + 1
        got = await pg.leases.acquire("spring", "node-b", TTL)
        assert got is not None
        order.append("lease taken")

    writer = asyncio.create_task(slow_write())
    taker = asyncio.create_task(takeover())
    await inside.wait()
    await asyncio.sleep(0.3)
    assert order == [], "the takeover must wait for the write under way"
    release.set()
    await asyncio.gather(writer, taker)
    assert order == ["write committed", "lease taken"]


async def test_live_nodes_are_those_whose_heartbeat_has_not_expired(
    pg: Store, clock: FakeClock
) -> None:
    await pg.leases.heartbeat("node-a", TTL)
    await pg.leases.heartbeat("node-b", TTL / 2)
    assert await pg.leases.live_nodes() == ["node-a", "node-b"]
    clock.now += TTL / 2 + 0.1
    assert await pg.leases.live_nodes() == ["node-a"]
    await pg.leases.leave("node-a")
    assert await pg.leases.live_nodes() == []


async def test_a_batch_of_attempt_steps_is_fenced_as_a_whole(pg: Store, clock: FakeClock) -> None:
    """The write-behind's batch is one fenced transaction: written while the lease is
    held, refused whole (nothing written) once another node took the campaign."""
    await pg.contacts.insert("spring", [contact("+442079460000")])
    [c] = await pg.contacts.due("spring", clock.now, 1)
    a = await pg.leases.acquire("spring", "node-a", TTL)
    assert a is not None
    as_a = pg.fenced(a)
    attempt = await as_a.attempts.open(
        campaign_id="spring", contact_id=c.id, number=c.number, mode="p"
    )
    await as_a.attempts.apply_updates([AttemptUpdate.invited(attempt, clock.now, "call-1")])
    clock.now += TTL + 1
    assert await pg.leases.acquire("spring", "node-b", TTL) is not None
    with pytest.raises(LeaseLost, match="node-b"):
        await as_a.attempts.apply_updates(
            [AttemptUpdate.ringing(attempt, clock.now), AttemptUpdate.answered(attempt, clock.now)]
        )
    row = await pg.attempts.get(attempt)
    assert row is not None and row.call_id == "call-1"
    assert (row.ringing_at, row.answered_at) == (None, None)
