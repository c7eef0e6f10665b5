"""The Store's data operations: campaigns, contacts, DNC, attempts, skips, audit."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from dialguard.store import NewContact, Store, UnknownRecord
from dialguard.store import database as store_database
from dialguard.store.contacts import DUE_SQL


class FakeClock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def store(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Store]:
    async with await Store.open(tmp_path / "store.sqlite3", clock=clock) as s:
        await s.campaigns.upsert("spring", "Spring renewals", '{"id": "spring"}')
        yield s


def contact(number: str, **kw: object) -> NewContact:
    return NewContact(number=number, region="GB", **kw)  # type: ignore[arg-type]


# ---------------------------------------------------------------- campaigns


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


async def test_state_check_constraint_holds_at_sql_level(store: Store, tmp_path: Path) -> None:
    with (
        sqlite3.connect(tmp_path / "store.sqlite3") as db,
        pytest.raises(sqlite3.IntegrityError, match="CHECK"),
    ):
        db.execute("UPDATE campaigns SET state = 'running'")


# ---------------------------------------------------------------- contacts


async def test_insert_contacts_is_idempotent_and_counts(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_database, "BATCH_ROWS", 3)  # several transactions
    rows = [contact(f"+4420794600{i:02d}") for i in range(8)]
    first = await store.contacts.insert("spring", rows)
    assert (first.inserted, first.already_present) == (8, 0)
    again = await store.contacts.insert("spring", [*rows[:5], contact("+442079460099")])
    assert (again.inserted, again.already_present) == (1, 5)
    assert await store.contacts.count("spring") == 9
    assert await store.contacts.count("spring", "pending") == 9
    assert await store.contacts.count("spring", "done") == 0


async def test_same_number_may_be_in_two_campaigns(store: Store) -> None:
    await store.campaigns.upsert("autumn", "Autumn", "{}")
    await store.contacts.insert("spring", [contact("+442079460000")])
    counts = await store.contacts.insert("autumn", [contact("+442079460000")])
    assert counts.inserted == 1


async def test_insert_contacts_needs_the_campaign(store: Store) -> None:
    with pytest.raises(UnknownRecord, match="campaign 'nope'"):
        await store.contacts.insert("nope", [contact("+442079460000")])


async def test_contact_fields_round_trip(store: Store, clock: FakeClock) -> None:
    await store.contacts.insert(
        "spring",
        [
            NewContact(
                number="+442079460000",
                region="GB",
                timezones=("Europe/London",),
                name="Zoë O'Brien",
                priority=5,
                consent="opt-in 2026-01-02",
                preferred_channel="voice",
                preferred_hours={"start": "18:00", "end": "20:00"},
                custom={"account": "A-1", "note": "x"},
            )
        ],
    )
    [c] = await store.contacts.due("spring", clock.now, 10)
    assert c.number == "+442079460000"
    assert c.timezones == ("Europe/London",)
    assert c.name == "Zoë O'Brien"
    assert c.priority == 5
    assert c.preferred_hours == {"start": "18:00", "end": "20:00"}
    assert c.custom == {"account": "A-1", "note": "x"}
    assert (c.status, c.attempts, c.next_attempt_at, c.last_outcome) == ("pending", 0, 0.0, None)
    assert await store.contacts.get(c.id) == c


async def test_due_contacts_by_priority_then_id_only_pending_and_due(store: Store) -> None:
    await store.campaigns.upsert("other", "Other", "{}")
    await store.contacts.insert(
        "spring",
        [
            contact("+442079460001", priority=0),
            contact("+442079460002", priority=9),
            contact("+442079460003", priority=0),
            contact("+442079460004", priority=9),  # will be not yet due
            contact("+442079460005", priority=5),  # will be done
        ],
    )
    await store.contacts.insert("other", [contact("+442079460006", priority=99)])
    by_number = {c.number: c for c in await store.contacts.due("spring", 0, 100)}
    await store.contacts.defer(by_number["+442079460004"].id, 500.0)
    await store.contacts.close(by_number["+442079460005"].id, "done")
    due = await store.contacts.due("spring", 100.0, 10)
    assert [c.number for c in due] == ["+442079460002", "+442079460001", "+442079460003"]
    assert [c.number for c in await store.contacts.due("spring", 100.0, 2)] == [
        "+442079460002",
        "+442079460001",
    ]
    later = await store.contacts.due("spring", 500.0, 10)
    assert [c.number for c in later][:2] == ["+442079460002", "+442079460004"]


async def test_due_contacts_query_walks_the_index_without_sorting(
    store: Store, tmp_path: Path
) -> None:
    with sqlite3.connect(tmp_path / "store.sqlite3") as db:
        rows = db.execute(f"EXPLAIN QUERY PLAN {DUE_SQL}", ("spring", 0, 10)).fetchall()
    plan = " ".join(str(r[3]) for r in rows)
    assert "contacts_due" in plan
    assert "TEMP B-TREE" not in plan


async def test_contact_moves_set_what_they_name(store: Store) -> None:
    await store.contacts.insert("spring", [contact("+442079460000")])
    [c] = await store.contacts.due("spring", 0, 10)

    async def row() -> tuple[str, int, float, str | None]:
        got = await store.contacts.get(c.id)
        assert got is not None
        return (got.status, got.attempts, got.next_attempt_at, got.last_outcome)

    await store.contacts.claim(c.id)
    assert await row() == ("in_progress", 0, 0.0, None)
    await store.contacts.release(c.id)
    assert await row() == ("pending", 0, 0.0, None)
    await store.contacts.defer(c.id, 50.0)
    assert await row() == ("pending", 0, 50.0, None)
    await store.contacts.release(c.id, due_at=60.0)
    assert await row() == ("pending", 0, 60.0, None)
    await store.contacts.settle(
        c.id, "pending", attempts=1, last_outcome="busy", next_attempt_at=90
    )
    assert await row() == ("pending", 1, 90.0, "busy")
    await store.contacts.settle(c.id, "done", attempts=2, last_outcome="connected")
    assert await row() == ("done", 2, 90.0, "connected")
    await store.contacts.close(c.id, "dnc")
    assert await row() == ("dnc", 2, 90.0, "connected")


async def test_contact_moves_refuse_unknown_ids_and_statuses(store: Store) -> None:
    await store.contacts.insert("spring", [contact("+442079460000")])
    with pytest.raises(UnknownRecord, match="contact 12345"):
        await store.contacts.claim(12345)
    with pytest.raises(UnknownRecord, match="contact 12345"):
        await store.contacts.close(12345, "done")
    with pytest.raises(ValueError, match="contact status 'gone'"):
        await store.contacts.close(1, "gone")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="contact status 'gone'"):
        await store.contacts.settle(1, "gone", attempts=1, last_outcome="busy")  # type: ignore[arg-type]
    assert (await store.contacts.get(1)).status == "pending"  # type: ignore[union-attr]


async def test_count_by_status_names_every_status(store: Store) -> None:
    await store.contacts.insert("spring", [contact(f"+44207946000{i}") for i in range(3)])
    await store.contacts.close(1, "done")
    await store.contacts.claim(2)
    assert await store.contacts.count_by_status("spring") == {
        "pending": 1,
        "in_progress": 1,
        "done": 1,
        "exhausted": 0,
        "dnc": 0,
    }
    assert await store.contacts.count_by_status("nope") == dict.fromkeys(
        ("pending", "in_progress", "done", "exhausted", "dnc"), 0
    )


async def test_zones_by_id_decodes_each_contacts_zones(store: Store) -> None:
    await store.contacts.insert(
        "spring",
        [
            contact("+442079460000", timezones=("Europe/London",)),
            contact("+442079460001"),
        ],
    )
    assert await store.contacts.zones_by_id("spring") == {1: ("Europe/London",), 2: ()}
    assert await store.contacts.zones_by_id("nope") == {}


# ---------------------------------------------------------------- do-not-call


async def test_suppressions_counts_and_hits(store: Store, clock: FakeClock) -> None:
    counts = await store.dnc.add(["+442079460000", "+442079460001"], "tps", "2026-11-01")
    assert (counts.inserted, counts.already_present) == (2, 0)
    await store.dnc.add([("+442079460000", "pressed 9")], "internal", None)
    hits = await store.dnc.lookup("+442079460000")
    assert [(h.source, h.list_date, h.reason) for h in hits] == [
        ("internal", None, "pressed 9"),
        ("tps", "2026-11-01", None),
    ]
    assert await store.dnc.lookup("+442079469999") == []


async def test_refreshed_list_keeps_first_seen_time(store: Store, clock: FakeClock) -> None:
    await store.dnc.add(["+442079460000"], "tps", "2026-10-01")
    first_seen = clock.now
    clock.now += 86400 * 30
    counts = await store.dnc.add(["+442079460000", "+442079460001"], "tps", "2026-11-01")
    assert (counts.inserted, counts.already_present) == (1, 1)
    [hit] = await store.dnc.lookup("+442079460000")
    assert (hit.list_date, hit.added_at) == ("2026-11-01", first_seen)


async def test_suppression_argument_checks(store: Store) -> None:
    with pytest.raises(ValueError, match="DNC source 'fps' is not one of"):
        await store.dnc.add(["+442079460000"], "fps", "2026-11-01")
    with pytest.raises(ValueError, match="a tps list needs its list date"):
        await store.dnc.add(["+442079460000"], "tps", None)
    with pytest.raises(ValueError, match="list date '01/11/2026' must be written YYYY-MM-DD"):
        await store.dnc.add(["+442079460000"], "tps", "01/11/2026")
    with pytest.raises(ValueError, match="'2026-02-30' is not a real calendar date"):
        await store.dnc.add(["+442079460000"], "tps", "2026-02-30")


async def test_dnc_list_dates_newest_wins(store: Store, clock: FakeClock) -> None:
    assert await store.dnc.list_dates() == {}
    await store.dnc.record_list("tps", "2026-11-01", 100)
    clock.now += 10
    await store.dnc.record_list("tps", "2026-10-01", 90)  # an older file, imported later
    await store.dnc.record_list("usdnc", "2026-11-05", 7)
    dates = await store.dnc.list_dates()
    assert (dates["tps"].list_date, dates["tps"].rows) == ("2026-11-01", 100)
    assert dates["usdnc"].list_date == "2026-11-05"
    clock.now += 10
    info = await store.dnc.record_list("tps", "2026-11-20", 120)
    assert (info.list_date, info.rows, info.imported_at) == ("2026-11-20", 120, clock.now)


# ---------------------------------------------------------------- attempts


async def _contact_id(store: Store, number: str = "+442079460000") -> int:
    await store.contacts.insert("spring", [contact(number)])
    return (await store.contacts.due("spring", 1e12, 1))[0].id


async def test_attempt_row_written_before_invite_then_updated(
    store: Store, clock: FakeClock
) -> None:
    cid = await _contact_id(store)
    aid = await store.attempts.open(
        campaign_id="spring",
        contact_id=cid,
        number="+442079460000",
        mode="progressive",
        agent_id="a1",
    )
    a = await store.attempts.get(aid)
    assert a is not None
    assert (a.created_at, a.outcome, a.invite_at, a.abandoned) == (clock.now, None, None, False)
    assert [x.id for x in await store.attempts.unsettled()] == [aid]
    await store.attempts.mark_invited(aid, clock.now + 0.01, "call-1")
    await store.attempts.mark_answered(aid, clock.now + 8)
    await store.attempts.mark_abandoned(aid, "agent_vanished")
    await store.attempts.settle(
        aid, "abandoned", ended_at=clock.now + 9, ended_by="remote", sip_code=200
    )
    a = await store.attempts.get(aid)
    assert a is not None
    assert (a.outcome, a.abandoned, a.abandon_reason, a.sip_code) == (
        "abandoned",
        True,
        "agent_vanished",
        200,
    )
    assert await store.attempts.unsettled() == []


async def test_each_attempt_write_sets_only_its_own_columns(store: Store) -> None:
    aid = await store.attempts.open(
        campaign_id="spring", contact_id=None, number="+442079460000", mode="preview", now=1.0
    )
    first = await store.attempts.get(aid)
    assert first is not None
    steps = [
        (store.attempts.mark_invited(aid, 2.0, "c-1"), {"invite_at": 2.0, "call_id": "c-1"}),
        (store.attempts.mark_ringing(aid, 3.0), {"ringing_at": 3.0}),
        (store.attempts.mark_answered(aid, 4.0), {"answered_at": 4.0}),
        (store.attempts.mark_connected(aid, 5.0, "a1"), {"connected_at": 5.0, "agent_id": "a1"}),
        (
            store.attempts.mark_abandoned(aid, "late_connect", message_played_at=5.5),
            {"abandoned": True, "abandon_reason": "late_connect", "message_played_at": 5.5},
        ),
        (store.attempts.mark_opted_out(aid), {"opted_out": True}),
        (store.attempts.mark_trunk_fault(aid), {"trunk_fault": True}),
        (
            store.attempts.settle(aid, "abandoned", ended_at=9.0, ended_by="local", sip_code=200),
            {"outcome": "abandoned", "ended_at": 9.0, "ended_by": "local", "sip_code": 200},
        ),
        (store.attempts.set_disposition(aid, "sale"), {"disposition": "sale"}),
    ]
    expected = {f: getattr(first, f) for f in first.__slots__}  # type: ignore[attr-defined]
    for write, changes in steps:
        await write
        expected.update(changes)
        got = await store.attempts.get(aid)
        assert got is not None
        assert {f: getattr(got, f) for f in expected} == expected, changes


async def test_attempt_writes_refuse_unknown_ids_and_outcomes(store: Store) -> None:
    aid = await store.attempts.open(
        campaign_id="spring", contact_id=None, number="+442079460000", mode="preview"
    )
    with pytest.raises(ValueError, match="attempt outcome 'hung_up' is not one of"):
        await store.attempts.settle(aid, "hung_up", ended_at=1, ended_by="local")  # type: ignore[arg-type]
    with pytest.raises(UnknownRecord, match="attempt 999"):
        await store.attempts.settle(999, "busy", ended_at=1, ended_by="remote")
    with pytest.raises(UnknownRecord, match="attempt 999"):
        await store.attempts.mark_answered(999, 1.0)
    assert (await store.attempts.get(aid)).outcome is None  # type: ignore[union-attr]


async def test_close_open_attempts_as_interrupted(
    store: Store, clock: FakeClock, tmp_path: Path
) -> None:
    ids = [
        await store.attempts.open(
            campaign_id="spring", contact_id=None, number=f"+44207946000{i}", mode="progressive"
        )
        for i in range(3)
    ]
    await store.attempts.settle(ids[0], "busy", ended_at=clock.now + 2, ended_by="remote")
    # ended, outcome never written (a row from before outcome and end were one write)
    with sqlite3.connect(tmp_path / "store.sqlite3") as db:
        db.execute("UPDATE attempts SET ended_at = ? WHERE id = ?", (clock.now + 3, ids[1]))
    closed = await store.attempts.interrupt_unsettled(clock.now + 100)
    assert closed == ids[1:]
    a0, a1, a2 = [await store.attempts.get(i) for i in ids]
    assert a0 is not None and a1 is not None and a2 is not None
    assert (a0.outcome, a0.ended_at) == ("busy", clock.now + 2)
    assert (a1.outcome, a1.ended_at) == ("interrupted", clock.now + 3)
    assert (a2.outcome, a2.ended_at) == ("interrupted", clock.now + 100)
    assert await store.attempts.interrupt_unsettled(clock.now + 200) == []


async def test_attempt_queries_by_number_and_campaign_window(store: Store) -> None:
    await store.campaigns.upsert("other", "Other", "{}")
    for t, camp, num in [
        (100.0, "spring", "+442079460000"),
        (200.0, "other", "+442079460000"),
        (300.0, "spring", "+442079460001"),
        (400.0, "spring", "+442079460000"),
    ]:
        await store.attempts.open(campaign_id=camp, contact_id=None, number=num, mode="p", now=t)
    by_number = await store.attempts.to_number_since("+442079460000", 200.0)
    assert [(a.created_at, a.campaign_id) for a in by_number] == [
        (200.0, "other"),
        (400.0, "spring"),
    ]
    window = await store.attempts.of_campaign("spring", 100.0, 400.0)  # half-open: 400 excluded
    assert [a.created_at for a in window] == [100.0, 300.0]


# ---------------------------------------------------------------- skips, audit, safety


async def test_skips_and_audit(store: Store, clock: FakeClock) -> None:
    cid = await _contact_id(store)
    await store.skips.record("spring", cid, "calling_window", "21:05 in America/New_York")
    [s] = await store.skips.between("spring", 0, clock.now + 1)
    assert (s.contact_id, s.rule, s.reason, s.ts) == (
        cid,
        "calling_window",
        "21:05 in America/New_York",
        clock.now,
    )
    await store.audit.record(
        "supervisor:bo", "pacing.set", campaign_id="spring", old={"mode": "a"}, new={"mode": "b"}
    )
    last = (await store.audit.events("spring"))[-1]
    assert (last.action, last.old, last.new) == ("pacing.set", {"mode": "a"}, {"mode": "b"})


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


async def test_second_connection_sees_committed_writes(store: Store, tmp_path: Path) -> None:
    async with await Store.open(tmp_path / "store.sqlite3") as other:
        await other.contacts.insert("spring", [contact("+442079460000")])
    assert await store.contacts.count("spring") == 1


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


async def test_listed_contacts_counts_by_source(store: Store) -> None:
    await store.campaigns.upsert("other", "Other", "{}")
    await store.contacts.insert("spring", [contact(f"+44207946000{i}") for i in range(5)])
    await store.contacts.insert("other", [contact("+442079460009")])
    assert await store.dnc.listed_contacts("spring") == {}
    await store.dnc.add(["+442079460000", "+442079460001"], "tps", "2026-11-01")
    await store.dnc.add(["+442079460001", "+442079460009"], "internal", None)
    assert await store.dnc.listed_contacts("spring") == {"internal": 1, "tps": 2}
    assert await store.dnc.listed_contacts("other") == {"internal": 1}


async def test_release_in_progress_keeps_contacts_with_an_open_attempt(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "s.sqlite3")
    await store.campaigns.upsert("c1", "C1", "{}", state="active")
    await store.contacts.insert(
        "c1", [NewContact(number=f"+4420794600{i}", region="GB") for i in range(10, 13)]
    )
    for cid in (1, 2, 3):
        await store.contacts.claim(cid)
    await store.attempts.open(campaign_id="c1", contact_id=2, number="+442079460011", mode="p")
    await store.contacts.close(3, "done")
    assert await store.contacts.release_orphans() == 1
    statuses = [(await store.contacts.get(i)).status for i in (1, 2, 3)]  # type: ignore[union-attr]
    assert statuses == ["pending", "in_progress", "done"]
    await store.close()


async def test_attempt_by_call_id_finds_the_attempt_an_agent_names(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "s.sqlite3")
    await store.campaigns.upsert("c1", "C1", "{}", state="active")
    a = await store.attempts.open(
        campaign_id="c1", contact_id=None, number="+442079460010", mode="p"
    )
    b = await store.attempts.open(
        campaign_id="c1", contact_id=None, number="+442079460011", mode="p"
    )
    await store.attempts.mark_invited(a, 1.0, "call-a")
    await store.attempts.mark_invited(b, 2.0, "call-b")
    found = await store.attempts.by_call_id("call-b")
    assert found is not None and found.id == b
    assert await store.attempts.by_call_id("nope") is None
    await store.close()
