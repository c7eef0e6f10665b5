"""S4: the simulator's own record of every call shows the contacts' choices respected."""

from __future__ import annotations

import pytest

from dialguard.sim.modes import make_pacer
from dialguard.sim.right_time import (
    S4,
    Callees,
    ContactRow,
    Dialler,
    make_population,
    run_s4_day,
    run_s4_days,
    summarise_s4,
)


@pytest.mark.parametrize("order", ["list", "priority", "expected_value"])
def test_s4_day_calls_nobody_against_their_choices(order: str) -> None:
    days = [
        run_s4_day(seed, order, make_pacer("progressive", S4), hours=13, contacts=3000)
        for seed in (1, 2)
    ]
    s = summarise_s4(order, days)
    calls = sum(d.attempts for d, _ in days)
    assert calls > 1000  # a real day of dialling, not a vacuous zero
    rows, _ = make_population(1, 3000)
    # the population does hold people each rule must protect (else the zeros say nothing)
    assert sum(r.voice_consent != "yes" for r in rows) > 100
    assert sum(r.preferred_channel == "sms" for r in rows) > 100
    assert sum(r.preferred_hours is not None for r in rows) > 100
    assert s.calls_without_consent == 0
    assert s.calls_outside_preferred_hours == 0
    assert s.calls_to_other_channel == 0
    assert s.handoffs > 0 and s.handoffs_repeated == 0
    assert days[0][0].abandoned_all == 0  # guaranteed mode


def test_the_record_does_count_a_call_against_the_contacts_choices() -> None:
    """The recorder is not a rubber stamp: calls a careless dialler would make count."""
    rows, truths = make_population(3, 200)
    callees = Callees(rows, truths, consent_required=True)
    monday_0700 = 1_772_452_800.0  # 2026-03-02 07:00 New York: before any stated hours
    for r in rows:
        callees.called(r.id, monday_0700)
    rec = callees.record
    assert rec.calls_without_consent == sum(r.voice_consent != "yes" for r in rows)
    assert rec.calls_to_other_channel == sum(r.preferred_channel is not None for r in rows)
    assert rec.calls_outside_preferred_hours == sum(r.preferred_hours is not None for r in rows)


def test_the_dialler_sees_only_what_the_store_holds() -> None:
    """The ordering must use what the daemon could know: the imported row and outcomes.
    The dialler gets the rows and a hand-off callback, nothing of the truth."""
    assert set(ContactRow.__dataclass_fields__) == {
        "id",
        "voice_consent",
        "preferred_channel",
        "preferred_hours",
        "segment",
        "propensity",
    }
    rows, _truths = make_population(4, 50)
    seen: list[int] = []
    d = Dialler(rows, "expected_value", seen.append)
    picked = d.pick(d.start + 3600)
    assert picked is not None and picked not in seen


def test_expected_value_beats_list_order_on_the_same_people() -> None:
    """Two seeds, a smaller list: the direction of the bench's result, not its size."""
    by_order = {
        o: summarise_s4(
            o, [run_s4_day(s, o, make_pacer("progressive", S4), contacts=8000) for s in (5,)]
        )
        for o in ("list", "expected_value")
    }
    ev, lst = by_order["expected_value"], by_order["list"]
    assert ev.live_contacts_per_agent_hour > lst.live_contacts_per_agent_hour
    assert ev.attempts_per_live_contact < lst.attempts_per_live_contact


def test_a_week_keeps_the_list_and_the_model_and_still_calls_nobody_against_their_choices() -> None:
    """Several days on one list, as a daemon runs a campaign: the same people, what the
    model learnt carried over, nobody handed off twice, every day's record clean."""
    runs = run_s4_days(7, "expected_value", lambda: make_pacer("progressive", S4), days=2,
                       contacts=3000)  # fmt: skip
    assert len(runs) == 2
    (monday, mon_rec), (tuesday, tue_rec) = runs
    assert monday.attempts > 500  # a small list: Tuesday gets Monday's retries and the rest
    assert tuesday.attempts > 100
    for rec in (mon_rec, tue_rec):
        assert rec.calls_without_consent == rec.calls_outside_preferred_hours == 0
        assert rec.calls_to_other_channel == 0
        assert rec.handoffs_repeated == 0
    assert mon_rec.handoffs > 0  # the other-channel people are handed off once, on Monday
    assert mon_rec.calls + tue_rec.calls == monday.attempts + tuesday.attempts


def test_a_new_day_puts_calls_cut_short_at_close_back_in_the_queue() -> None:
    rows, _ = make_population(4, 50)
    d = Dialler(rows, "list", lambda _cid: None)
    picked = d.pick(d.start + 3600)
    assert picked is not None
    d.new_day(d.start + 86400)  # the centre closed with that call in flight
    again = [d.pick(d.start + 3600 + i) for i in range(60)]
    assert picked in again
    with pytest.raises(ValueError, match="forward"):
        d.new_day(d.start - 1)


def test_days_are_monday_to_friday() -> None:
    with pytest.raises(ValueError, match="1–5"):
        run_s4_days(1, "list", lambda: make_pacer("progressive", S4), days=6, contacts=10)
