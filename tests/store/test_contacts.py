"""Contacts: idempotent import, the due query and its index, the named moves."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from dialguard.store import NewContact, Store, UnknownRecord
from dialguard.store import database as store_database
from dialguard.store.contacts import DUE_SQL, ORDER_BY, due_sql
from tests.store.helpers import FakeClock, contact


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


@pytest.mark.sqlite_only
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


async def test_claim_due_marks_a_batch_in_due_order_and_never_twice(store: Store) -> None:
    await store.contacts.insert(
        "spring",
        [contact(f"+4420794601{n:02d}", priority=n % 3) for n in range(6)],
    )
    due = [c.id for c in await store.contacts.due("spring", 100.0, 4)]
    first = await store.contacts.claim_due("spring", 100.0, 4)
    assert [c.id for c in first] == due  # the due query's order, whatever it is
    assert {c.status for c in first} == {"in_progress"}
    for c in first:
        got = await store.contacts.get(c.id)
        assert got is not None and got.status == "in_progress"
    rest = await store.contacts.claim_due("spring", 100.0, 10)
    assert len(rest) == 2 and not {c.id for c in rest} & set(due)
    assert await store.contacts.claim_due("spring", 100.0, 10) == []
    # given back: pending and due again; a contact no longer in progress is not touched
    await store.contacts.close(rest[0].id, "done")
    assert await store.contacts.release_many([*due, rest[0].id]) == 4
    assert sorted(c.id for c in await store.contacts.due("spring", 100.0, 10)) == sorted(
        [*due, rest[1].id][:4]
    )


@pytest.mark.sqlite_only  # SQLite's planner and INDEXED BY; PostgreSQL has neither hint
@pytest.mark.parametrize("order", ["list", "priority", "expected_value"])
async def test_every_order_walks_its_index_without_sorting(
    store: Store, tmp_path: Path, order: str
) -> None:
    with sqlite3.connect(tmp_path / "store.sqlite3") as db:
        rows = db.execute(f"EXPLAIN QUERY PLAN {due_sql(order)}", ("spring", 0, 10)).fetchall()
    plan = " ".join(str(r[3]) for r in rows)
    assert ORDER_BY[order][0] in plan
    assert "TEMP B-TREE" not in plan


async def test_expected_value_order_follows_the_score_within_a_priority(store: Store) -> None:
    await store.contacts.insert("spring", [contact(f"+4420794600{i:02d}") for i in range(4)])
    ids = [c.id for c in await store.contacts.due("spring", 100.0, 10)]
    await store.contacts.set_scores([(ids[0], 0.1), (ids[1], 0.9), (ids[2], 0.5), (ids[3], -1)])
    due = await store.contacts.due("spring", 100.0, 10, order="expected_value")
    assert [c.id for c in due] == [ids[1], ids[2], ids[0], ids[3]]
    assert due[0].order_score == 0.9
    with pytest.raises(ValueError, match="contact order"):
        await store.contacts.due("spring", 100.0, 10, order="random")
    # a batch claim walks the same order and returns it in that order
    claimed = await store.contacts.claim_due("spring", 100.0, 3, order="expected_value")
    assert [c.id for c in claimed] == [ids[1], ids[2], ids[0]]


async def test_cold_rescore_keys_on_segment_stated_hours_and_zone(store: Store) -> None:
    """profile_keys tells a contact who stated hours from one who did not (their answer
    groups differ, engine/right_time.py group_of), and rescore_cold writes each key's
    figure × propensity − due/aging, the SQL mirror of order_score."""
    hours = {"mon-fri": "18:00-21:00"}
    await store.contacts.insert(
        "spring",
        [
            contact("+442079460001", segment="w", propensity=0.5),
            contact("+442079460002", segment="w", propensity=0.5, preferred_hours=hours),
            contact("+442079460003", propensity=None),
        ],
    )
    keys = await store.contacts.profile_keys("spring")
    zones = keys[0][2]
    assert sorted(keys) == [("", False, zones), ("w", False, zones), ("w", True, zones)]
    figures = {("w", False, zones): 0.2, ("w", True, zones): 0.6, ("", False, zones): 0.4}
    await store.contacts.rescore_cold("spring", figures, aging_s=1e9, default_propensity=0.25)
    by_number = {c.number: c for c in await store.contacts.due("spring", 1e12, 10)}
    due = max(by_number["+442079460001"].created_at, by_number["+442079460001"].next_attempt_at)
    assert by_number["+442079460001"].order_score == pytest.approx(0.2 * 0.5 - due / 1e9)
    assert by_number["+442079460002"].order_score == pytest.approx(0.6 * 0.5 - due / 1e9)
    assert by_number["+442079460003"].order_score == pytest.approx(0.4 * 0.25 - due / 1e9)
