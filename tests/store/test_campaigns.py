"""Campaigns: created paused, every change audited, states checked."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from dialguard.store import Store, UnknownRecord
from tests.store.helpers import FakeClock


async def test_new_campaign_starts_paused_and_is_audited(store: Store, clock: FakeClock) -> None:
    c = await store.campaigns.get("spring")
    assert c is not None
    assert (c.state, c.name, c.config, c.created_at) == (
        "paused",
        "Spring renewals",
        {"id": "spring"},
        clock.now,
    )
    [event] = await store.audit.events("spring")
    assert (event.action, event.actor, event.old) == ("campaign.created", "system", None)
    assert event.new == {"name": "Spring renewals", "state": "paused", "config": {"id": "spring"}}


async def test_upsert_unchanged_is_not_audited_changed_is(store: Store, clock: FakeClock) -> None:
    await store.campaigns.upsert("spring", "Spring renewals", '{"id": "spring"}')
    assert len(await store.audit.events("spring")) == 1
    clock.now += 60
    c = await store.campaigns.upsert("spring", "Spring 2", '{"id": "spring", "x": 1}', actor="ann")
    assert (c.name, c.state, c.updated_at) == ("Spring 2", "paused", clock.now)
    last = (await store.audit.events("spring"))[-1]
    assert (last.action, last.actor) == ("campaign.updated", "ann")
    assert last.old["name"] == "Spring renewals"
    assert last.new["config"] == {"id": "spring", "x": 1}


async def test_upsert_refuses_bad_state_and_bad_json(store: Store) -> None:
    with pytest.raises(ValueError, match="campaign state 'running' is not one of"):
        await store.campaigns.upsert("x", "X", "{}", state="running")
    with pytest.raises(ValueError, match="campaign x: config_json is not JSON"):
        await store.campaigns.upsert("x", "X", "{oops")
    assert await store.campaigns.get("x") is None


async def test_set_campaign_state_audits_who(store: Store) -> None:
    c = await store.campaigns.set_state("spring", "active", actor="supervisor:ann")
    assert c.state == "active"
    last = (await store.audit.events("spring"))[-1]
    assert (last.action, last.actor, last.old, last.new) == (
        "campaign.state",
        "supervisor:ann",
        {"state": "paused"},
        {"state": "active"},
    )
    with pytest.raises(UnknownRecord, match="campaign 'nope' is not in the store"):
        await store.campaigns.set_state("nope", "active", actor="x")
    with pytest.raises(ValueError, match="campaign state 'go'"):
        await store.campaigns.set_state("spring", "go", actor="x")


@pytest.mark.sqlite_only
async def test_state_check_constraint_holds_at_sql_level(store: Store, tmp_path: Path) -> None:
    with (
        sqlite3.connect(tmp_path / "store.sqlite3") as db,
        pytest.raises(sqlite3.IntegrityError, match="CHECK"),
    ):
        db.execute("UPDATE campaigns SET state = 'running'")
