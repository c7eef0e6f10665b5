"""The attempt log: the row before the INVITE, one typed write per step, recovery."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from dialguard.store import AttemptUpdate, Store, UnknownRecord
from tests.store.helpers import FakeClock, contact_id
from tests.support.attempts import counting_transactions


async def test_attempt_row_written_before_invite_then_updated(
    store: Store, clock: FakeClock
) -> None:
    cid = await contact_id(store)
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
    assert a.dialled_at == clock.now  # no INVITE yet: when the row was written
    assert [x.id for x in await store.attempts.unsettled()] == [aid]
    await store.attempts.mark_invited(aid, clock.now + 0.01, "call-1")
    invited = await store.attempts.get(aid)
    assert invited is not None and invited.dialled_at == clock.now + 0.01
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


@pytest.mark.sqlite_only
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


# --- write-behind: many steps in one transaction ---------------------------------------


async def _two_attempts(store: Store) -> tuple[int, int]:
    ids = []
    for n in ("+442079460000", "+442079460001"):
        ids.append(
            await store.attempts.open(
                campaign_id="spring", contact_id=await contact_id(store, n), number=n, mode="p"
            )
        )
    return ids[0], ids[1]


async def test_a_batch_of_steps_is_one_transaction_and_the_same_as_one_by_one(
    store: Store, clock: FakeClock
) -> None:
    a, b = await _two_attempts(store)
    t = clock.now
    steps = [
        AttemptUpdate.invited(a, t, "call-a"),
        AttemptUpdate.invited(b, t, "call-b"),
        AttemptUpdate.ringing(a, t + 1),
        AttemptUpdate.answered(a, t + 2),
        AttemptUpdate.abandoned(a, "connect_timeout", message_played_at=t + 3.7),
        AttemptUpdate.settled(b, "busy", ended_at=t + 1, ended_by="remote", sip_code=486),
        AttemptUpdate.settled(a, "abandoned", ended_at=t + 9, ended_by="local"),
        AttemptUpdate.disposition(a, "first"),
        AttemptUpdate.disposition(a, "second"),  # a later value of a column wins
    ]
    opened = counting_transactions(store)
    assert await store.attempts.apply_updates(steps) == []
    assert len(opened) == 1
    got = await store.attempts.get(a), await store.attempts.get(b)
    # the same steps one by one, on fresh rows, give the same rows
    c, d = await _two_attempts(store)
    ids = {a: c, b: d}
    for s in steps:
        await store.attempts.update(AttemptUpdate(ids[s.attempt_id], s.step, s.columns, s.values))
    want = await store.attempts.get(c), await store.attempts.get(d)
    for g, w in zip(got, want, strict=True):
        assert g is not None and w is not None
        same = {k: v for k, v in vars_of(g).items() if k not in ("id", "contact_id", "number")}
        assert same == {
            k: v for k, v in vars_of(w).items() if k not in ("id", "contact_id", "number")
        }
    assert got[0] is not None and got[0].disposition == "second"
    assert got[0].message_played_at == t + 3.7 and got[0].outcome == "abandoned"
    assert got[1] is not None and (got[1].sip_code, got[1].call_id) == (486, "call-b")


def vars_of(record: object) -> dict[str, object]:
    return {k: getattr(record, k) for k in record.__dataclass_fields__}  # type: ignore[attr-defined]


async def test_a_batch_names_attempts_not_in_the_store_and_commits_the_rest(
    store: Store, clock: FakeClock
) -> None:
    a, _ = await _two_attempts(store)
    missing = await store.attempts.apply_updates(
        [
            AttemptUpdate.answered(a, clock.now),
            AttemptUpdate.answered(999_999, clock.now),
            AttemptUpdate.ringing(999_999, clock.now),
        ]
    )
    assert missing == [999_999]
    row = await store.attempts.get(a)
    assert row is not None and row.answered_at == clock.now
    with pytest.raises(UnknownRecord, match="999999"):
        await store.attempts.mark_answered(999_999, clock.now)


async def test_a_bad_step_in_a_batch_rolls_the_whole_batch_back(store: Store) -> None:
    a, b = await _two_attempts(store)
    with pytest.raises(ValueError, match="outcome"):  # refused before any SQL
        AttemptUpdate.settled(a, "lost", ended_at=1.0, ended_by="x")  # type: ignore[arg-type]
    bad = AttemptUpdate(b, "bad", ("outcome",), ("no such outcome",))  # the CHECK refuses
    with pytest.raises(Exception):  # noqa: B017 (sqlite3 or psycopg IntegrityError)
        await store.attempts.apply_updates([AttemptUpdate.answered(a, 5.0), bad])
    row = await store.attempts.get(a)
    assert row is not None and row.answered_at is None, "half a batch was committed"
