"""The engine's answer model: learnt from outcomes, persisted, and the scores it stores."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from dialguard.engine.right_time import RightTime, group_of
from dialguard.engine.selection import ContactPicker
from dialguard.propensity import hour_of_week, order_score
from dialguard.store import NewContact, Store
from tests.engine.test_selection import NOW, NY, campaign, make_store

NY_ZONE = ZoneInfo(NY[0])
ALL_DAY = {"spans": "00:00-23:59"}  # a stated preference the gate always allows


def _people(n: int, *, same_propensity: bool = False) -> list[NewContact]:
    return [
        NewContact(f"+1212555{i:04d}", "US", NY, segment="a" if i % 2 else "b",
                   propensity=0.5 if same_propensity else 0.2 + i / (2 * n),
                   preferred_hours=ALL_DAY if i % 3 == 0 else None)
        for i in range(n)
    ]  # fmt: skip


async def test_outcomes_persist_and_a_restart_rebuilds_the_same_model(tmp_path: Path) -> None:
    store = await make_store(tmp_path, _people(6))
    rt = RightTime(store, "c1")
    contacts = await store.contacts.due("c1", NOW, 10)
    for c in contacts:
        await rt.observe(c, "connected" if c.segment == "a" else "no_answer", NOW)
    await rt.observe(contacts[0], "failed", NOW)  # a line failure teaches nothing
    await store.close()
    store = await Store.open(tmp_path / "s.sqlite3")
    again = RightTime(store, "c1")
    await again.load()
    assert again.model.rows() == rt.model.rows()
    how = hour_of_week(NOW)
    assert again.model.segment_probability("a", how) > again.model.segment_probability("b", how)
    await store.close()


async def test_refresh_writes_the_same_score_as_order_score(tmp_path: Path) -> None:
    store = await make_store(tmp_path, _people(10))
    rt = RightTime(store, "c1")
    first = (await store.contacts.due("c1", NOW, 10))[0]
    await rt.observe(first, "no_answer", NOW)  # one warm contact, the rest cold
    assert await rt.refresh(NOW) is True
    assert await rt.refresh(NOW + 1) is False  # not again before REFRESH_S
    for c in await store.contacts.due("c1", NOW, 10):
        expected = rt.score(c, NOW)
        assert c.order_score == pytest.approx(expected, abs=1e-12)
        p = rt.model.ordering_probability(c.id, group_of(c), hour_of_week(NOW, NY_ZONE))
        assert expected == order_score(p, c.propensity, max(c.next_attempt_at, c.created_at))
    await store.close()


async def test_expected_value_order_calls_the_likelier_answerer_first(tmp_path: Path) -> None:
    # the first contact (lowest id, what list order would pick) is of segment b
    store = await make_store(tmp_path, _people(6, same_propensity=True), order="expected_value")
    picker = ContactPicker(store, campaign(order="expected_value"))
    for c in await store.contacts.due("c1", NOW, 10):  # segment a answered at this hour
        await picker.right_time.observe(c, "connected" if c.segment == "a" else "no_answer", NOW)
    await store.close()
    store = await Store.open(tmp_path / "s.sqlite3")  # …then the engine restarted
    picker = ContactPicker(store, campaign(order="expected_value"))
    picked = await picker.next_contact("progressive", NOW + 7 * 86400)  # same hour, a week on
    assert picked is not None and not isinstance(picked, bool)
    assert getattr(picked, "segment", None) == "a"
    await store.close()


async def test_contacts_who_stated_hours_learn_as_their_own_group(tmp_path: Path) -> None:
    """In one segment, the people who stated hours answer and the others do not: after
    a refresh a cold contact who stated hours is scored above one who did not, which
    the segment alone could not tell apart."""
    people = [
        NewContact(f"+1212555{i:04d}", "US", NY, segment="a", propensity=0.5,
                   preferred_hours=ALL_DAY if i % 2 else None)
        for i in range(40)
    ]  # fmt: skip
    store = await make_store(tmp_path, people)
    rt = RightTime(store, "c1")
    for c in (await store.contacts.due("c1", NOW, 40))[:30]:
        await rt.observe(c, "connected" if c.preferred_hours else "no_answer", NOW)
    assert await rt.refresh(NOW, force=True)
    cold = [c for c in await store.contacts.due("c1", NOW, 40) if not rt.model.has_history(c.id)]
    stated = [c.order_score for c in cold if c.preferred_hours]
    unstated = [c.order_score for c in cold if not c.preferred_hours]
    assert stated and unstated
    assert min(stated) > max(unstated) + 0.1
    await store.close()
