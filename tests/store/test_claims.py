"""Batch claims: due contacts marked in_progress in priority order, in one statement;
claimers running at once (two nodes, or two launches) never get the same contact."""

from __future__ import annotations

import asyncio

import pytest

from dialguard.store import Store
from tests.store.helpers import FakeClock, contact


async def test_a_claim_takes_due_contacts_in_priority_order_and_marks_them(
    store: Store, clock: FakeClock
) -> None:
    await store.contacts.insert(
        "spring",
        [contact("+442079460001", priority=1), contact("+442079460002", priority=5)]
        + [contact(f"+44207946001{i}") for i in range(3)],
    )
    first = await store.contacts.claim_due("spring", clock.now, 2)
    assert [c.number for c in first] == ["+442079460002", "+442079460001"]
    assert await store.contacts.count("spring", "in_progress") == 2
    rest = await store.contacts.claim_due("spring", clock.now, 10)
    assert len(rest) == 3 and not {c.id for c in rest} & {c.id for c in first}
    assert await store.contacts.claim_due("spring", clock.now, 10) == []


async def test_a_contact_not_due_yet_is_not_claimed(store: Store, clock: FakeClock) -> None:
    await store.contacts.insert("spring", [contact("+442079460001")])
    [c] = await store.contacts.due("spring", clock.now, 1)
    await store.contacts.defer(c.id, clock.now + 60)
    assert await store.contacts.claim_due("spring", clock.now, 5) == []
    assert [x.id for x in await store.contacts.claim_due("spring", clock.now + 60, 5)] == [c.id]


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_claimers_on_two_connections_at_once_never_share_a_contact(
    store: Store, location: str, clock: FakeClock
) -> None:
    await store.contacts.insert("spring", [contact(f"+4420794{i:05d}") for i in range(200)])
    async with await Store.open(location, clock=clock) as other:

        async def drain(s: Store) -> list[int]:
            got: list[int] = []
            while batch := await s.contacts.claim_due("spring", clock.now, 7):
                got += [c.id for c in batch]
            return got

        results = await asyncio.gather(drain(store), drain(other), drain(store), drain(other))
    every = [cid for r in results for cid in r]
    assert len(every) == 200 and len(set(every)) == 200
    assert sum(1 for r in results if r) >= 2, "the claimers really ran side by side"
