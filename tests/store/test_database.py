"""The database under the repositories: parameters not SQL, one transaction per writer,
WAL readers beside a writer, a writer that waits for another process, a transaction that
raises rolls back."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from dialguard.store import Store, UnknownRecord
from tests.store.helpers import contact


async def test_values_are_parameters_not_sql(store: Store) -> None:
    nasty = "x'); DROP TABLE contacts; --"
    await store.skips.record("spring", None, nasty, nasty)
    [s] = await store.skips.between("spring", 0, 1e12)
    assert s.rule == nasty
    assert await store.contacts.count("spring") == 0  # table still there


async def test_concurrent_writers_do_not_share_a_transaction(store: Store) -> None:
    """Coroutines writing at once must each get their own transaction."""
    rows = [contact(f"+4420794{i:05d}") for i in range(300)]

    async def dial(i: int) -> int:
        return await store.attempts.open(
            campaign_id="spring", contact_id=None, number="+442079460000", mode="p", now=float(i)
        )

    results = await asyncio.gather(
        store.contacts.insert("spring", rows), *(dial(i) for i in range(50))
    )
    assert len(set(results[1:])) == 50
    assert await store.contacts.count("spring") == 300
    assert len(await store.attempts.of_campaign("spring", 0, 100)) == 50


@pytest.mark.sqlite_only
async def test_second_connection_sees_committed_writes(store: Store, tmp_path: Path) -> None:
    async with await Store.open(tmp_path / "store.sqlite3") as other:
        await other.contacts.insert("spring", [contact("+442079460000")])
    assert await store.contacts.count("spring") == 1


@pytest.mark.sqlite_only
async def test_writer_waits_for_another_process_instead_of_failing(
    store: Store, tmp_path: Path
) -> None:
    """`dialguard import` and the daemon share the file: busy_timeout makes writes queue."""
    other = sqlite3.connect(tmp_path / "store.sqlite3", isolation_level=None, timeout=5)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    other.execute("INSERT INTO audit (ts, actor, action) VALUES (0, 'other', 'x')")

    async def release_later() -> None:
        await asyncio.sleep(0.3)
        other.execute("COMMIT")

    started = asyncio.get_running_loop().time()
    release = asyncio.create_task(release_later())
    # Readers are not blocked by the writer (WAL) ...
    assert await store.campaigns.get("spring") is not None
    # ... and a writer waits for the lock rather than raising "database is locked".
    await store.audit.record("engine", "y")
    waited = asyncio.get_running_loop().time() - started
    await release
    other.close()
    assert waited >= 0.25
    actors = [e.actor for e in await store.audit.events()]  # ordered by ts; other's is 0
    assert actors[0] == "other" and actors[-1] == "engine"


async def test_a_transaction_that_raises_leaves_nothing_behind(store: Store) -> None:
    """A campaign change and its audit entry commit together or not at all."""
    database = store._database
    with pytest.raises(RuntimeError, match="half way"):
        async with database.transaction() as tx:
            await tx.execute("UPDATE campaigns SET name = 'renamed' WHERE id = 'spring'")
            raise RuntimeError("half way")
    record = await store.campaigns.get("spring")
    assert record is not None and record.name == "Spring renewals"
    # the lock was released and the connection is usable: the next write commits
    await store.campaigns.upsert("spring", "Spring, renamed", '{"id": "spring"}')
    assert [e.action for e in await store.audit.events("spring")] == [
        "campaign.created",
        "campaign.updated",
    ]


async def test_an_update_of_a_missing_row_names_it_and_commits_nothing(store: Store) -> None:
    with pytest.raises(UnknownRecord, match="attempt 41 is not in the store"):
        await store.attempts.mark_ringing(41, 1.0)
    assert await store.attempts.unsettled() == []


async def test_a_read_beside_an_open_transaction_sees_only_what_is_committed(
    store: Store,
) -> None:
    """Another task's read while a write transaction is open (the write-behind's batch,
    awaiting its statements): answered at once from the last commit, never the open
    transaction's rows. On SQLite it runs on the read connection; on one shared
    connection it used to see the uncommitted row."""
    [c] = await _one_contact(store)
    cid = c.id
    inside, release = asyncio.Event(), asyncio.Event()

    async def open_transaction() -> None:
        async with store._database.transaction() as tx:
            await tx.execute("UPDATE contacts SET status = 'done' WHERE id = ?", (cid,))
            inside.set()
            await release.wait()

    writer = asyncio.create_task(open_transaction())
    await inside.wait()
    seen = await asyncio.wait_for(store.contacts.get(cid), 2)
    release.set()
    await writer
    assert seen is not None and seen.status == "pending", "read an uncommitted row"
    after = await store.contacts.get(cid)
    assert after is not None and after.status == "done"


async def _one_contact(store: Store) -> list[Any]:
    await store.contacts.insert("spring", [contact("+442079460000")])
    return await store.contacts.due("spring", 1e12, 1)
