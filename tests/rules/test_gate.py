"""The gate: rule order, first refusal, all refusals, and a retry time that is exact."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from dialguard.law import BUILT_IN_LISTS, ListTerms
from dialguard.rules.gate import (
    RULE_ORDER,
    all_refusals,
    check_contact,
    earliest_allowed,
    priority_key,
)
from dialguard.rules.types import (
    ALLOWED,
    ContactFacts,
    DialMode,
    PastAttempt,
    Suppression,
    WeeklySpan,
)
from dialguard.rules.window import CallingWindow
from tests.rules.helpers import DAY, LA, NY, PARIS, at, campaign, show

NOON = at(NY, 2026, 11, 23, 12, 0)  # a Monday
NY_FACTS = ContactFacts("+12125550100", (NY,))
US = campaign(dnc={"lists": ["usdnc"]})
FRESH = {"usdnc": NOON - DAY}


def test_a_fresh_contact_in_hours_is_allowed() -> None:
    assert check_contact(NY_FACTS, [], [], FRESH, US, "guaranteed", NOON) is ALLOWED
    assert all_refusals(NY_FACTS, [], [], FRESH, US, "guaranteed", NOON) == []
    assert earliest_allowed(NY_FACTS, [], [], FRESH, US, "guaranteed", NOON) == NOON


def test_a_stale_national_list_refuses_every_contact_first() -> None:
    stale = {"usdnc": NOON - 32 * DAY}
    v = check_contact(NY_FACTS, [], [], stale, US, "guaranteed", NOON)
    assert (v.rule, v.retry_at) == ("dnc_list_stale", None)
    assert check_contact(NY_FACTS, [], [], {}, US, "guaranteed", NOON).rule == "dnc_list_stale"
    # Even a contact on the internal list, out of hours, reports the stale list first.
    night = at(NY, 2026, 11, 23, 23, 0)
    rs = all_refusals(NY_FACTS, [], [Suppression("internal")], stale, US, "guaranteed", night)
    assert [r.rule for r in rs] == ["dnc_list_stale", "dnc_internal", "calling_window"]


def test_dnc_refusal_is_final_even_when_other_rules_could_be_waited_out() -> None:
    night = at(NY, 2026, 11, 23, 23, 0)
    v = check_contact(NY_FACTS, [], [Suppression("usdnc")], FRESH, US, "guaranteed", night)
    assert (v.rule, v.retry_at) == ("dnc_usdnc", None)
    # A campaign not using the US list ignores that entry.
    uk = campaign()
    assert check_contact(NY_FACTS, [], [Suppression("usdnc")], {}, uk, "guaranteed", NOON).allowed


def test_retry_at_is_widened_to_when_every_rule_allows() -> None:
    # Busy at 20:55 local: the 15 min retry delay ends at 21:10, after the TCPA window
    # closes, so the contact is parked until 08:00 the next morning.
    busy_end = at(NY, 2026, 11, 23, 20, 55)
    c = ContactFacts(
        NY_FACTS.number,
        (NY,),
        attempts=1,
        last_outcome="busy",
        last_outcome_at=busy_end,
        outcome_counts={"busy": 1},
    )
    h = [PastAttempt(busy_end - 20, "busy", ended_at=busy_end)]
    now = busy_end + 60
    v = check_contact(c, h, [], FRESH, US, "guaranteed", now)
    assert v.rule == "retry_delay"
    assert v.retry_at == at(NY, 2026, 11, 24, 8, 0), show(v.retry_at, NY)
    # all_refusals keeps each rule's own time.
    rs = all_refusals(c, h, [], FRESH, US, "guaranteed", now)
    assert [(r.rule, r.retry_at) for r in rs] == [("retry_delay", busy_end + 900)]
    assert check_contact(c, h, [], FRESH, US, "guaranteed", v.retry_at) is ALLOWED


def test_a_list_going_stale_later_does_not_close_the_contact() -> None:
    # The contact is parked until the window opens; by then the list is stale, and the
    # gate says so for the whole campaign — the contact itself is not given up.
    night = at(NY, 2026, 11, 23, 23, 0)
    almost_stale = {"usdnc": night - 31 * DAY + 3600}  # goes stale at midnight
    v = check_contact(NY_FACTS, [], [], almost_stale, US, "guaranteed", night)
    morning = at(NY, 2026, 11, 24, 8, 0)
    assert (v.rule, v.retry_at) == ("calling_window", morning)
    later = check_contact(NY_FACTS, [], [], almost_stale, US, "guaranteed", morning)
    assert later.rule == "dnc_list_stale"


def test_lockout_applies_to_predictive_calls_only() -> None:
    h = [PastAttempt(NOON - 3600, "abandoned", abandoned=True, mode="predictive", campaign="x")]
    v = check_contact(NY_FACTS, h, [], FRESH, US, "predictive", NOON)
    assert v.rule == "abandon_lockout"
    assert v.retry_at == NOON - 3600 + 72 * 3600  # 11:00 local three days later: in hours
    assert check_contact(NY_FACTS, h, [], FRESH, US, "guaranteed", NOON).allowed


def test_unknown_zone_fails_closed_except_with_no_hour_limit() -> None:
    nowhere = ContactFacts("+999123", ())
    v = check_contact(nowhere, [], [], FRESH, US, "guaranteed", NOON)
    assert (v.rule, v.retry_at) == ("timezone_unknown", None)
    anytime = campaign(calling_window={"regime": "none"})
    assert check_contact(nowhere, [], [], {}, anytime, "guaranteed", NOON).allowed


def test_caps_then_window_then_preferred_hours_order() -> None:
    h = [PastAttempt(NOON - k * 3600, "no_answer") for k in (1, 2, 3)]
    c = ContactFacts(
        NY_FACTS.number,
        (NY,),
        preferred_hours=(WeeklySpan.of(["tue"], "10:00", "11:00"),),
    )
    night = at(NY, 2026, 11, 23, 22, 0)
    rules = [r.rule for r in all_refusals(c, h, [], FRESH, US, "guaranteed", night)]
    assert rules == ["cap_day", "calling_window", "preferred_hours"]
    assert all(r in RULE_ORDER for r in rules)
    v = check_contact(c, h, [], FRESH, US, "guaranteed", night)
    assert v.rule == "cap_day" and v.retry_at == at(NY, 2026, 11, 24, 10, 0)


def test_france_window_and_cap_of_four_per_30_days() -> None:
    fr = campaign(
        calling_window={"regime": "france"}, caps={"per_day": 1, "per_7_days": 0, "per_30_days": 4}
    )
    c = ContactFacts("+33145678901", (PARIS,))
    wed = at(PARIS, 2026, 11, 25, 11, 0)
    h = [PastAttempt(wed - k * 6 * DAY, "no_answer") for k in (1, 2, 3, 4)]
    v = check_contact(c, h, [], {}, fr, "guaranteed", wed)
    assert v.rule == "cap_30d"
    # The oldest (24 days ago) ages out 6 days from now, a Tuesday at 11:00: in hours.
    assert v.retry_at == wed + 6 * DAY
    lunch = at(PARIS, 2026, 11, 25, 13, 30)
    v = check_contact(c, [], [], {}, fr, "guaranteed", lunch)
    assert (v.rule, v.retry_at) == ("calling_window", at(PARIS, 2026, 11, 25, 14, 0))


def test_passing_the_window_gives_the_same_answer() -> None:
    w = CallingWindow.from_config(US.calling_window)
    night = at(NY, 2026, 11, 23, 22, 0)
    a = check_contact(NY_FACTS, [], [], FRESH, US, "guaranteed", night, window=w)
    assert a == check_contact(NY_FACTS, [], [], FRESH, US, "guaranteed", night)


def test_bad_mode_or_time_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="mode must be one of"):
        check_contact(NY_FACTS, [], [], FRESH, US, "progressive", NOON)  # type: ignore[arg-type]
    # NaN would compare false against every "not before" and slip through: refused loudly.
    for bad in (float("nan"), float("inf"), -1.0, 1e12):
        with pytest.raises(ValueError, match="now must be epoch seconds"):
            check_contact(NY_FACTS, [], [], FRESH, US, "guaranteed", bad)


def test_priority_key_orders_high_priority_and_fresh_contacts_first() -> None:
    cs = [
        ContactFacts("+3", priority=0),
        ContactFacts("+2", priority=5, attempts=2),
        ContactFacts("+1", priority=5),
    ]
    assert [c.number for c in sorted(cs, key=priority_key)] == ["+1", "+2", "+3"]


# -- property: the gate's retry time is exactly the first allowed instant -----------------

ZONES = [NY, LA, PARIS, "Australia/Sydney", "Europe/London", "America/Chicago"]
OUTCOMES = ["busy", "no_answer", "failed", "voicemail", "abandoned", "interrupted"]


@st.composite
def scenarios(
    draw: st.DrawFn,
) -> tuple[ContactFacts, list[PastAttempt], str, DialMode, float]:
    now = float(draw(st.integers(int(NOON), int(NOON + 400 * DAY))))
    zones = tuple(draw(st.lists(st.sampled_from(ZONES), min_size=1, max_size=2, unique=True)))
    spread = draw(st.sampled_from([DAY, 3 * DAY, 20 * DAY]))
    ages = sorted(draw(st.lists(st.integers(60, spread), max_size=5)), reverse=True)
    history = [
        PastAttempt(
            now - age,
            outcome := draw(st.sampled_from(OUTCOMES)),
            abandoned=outcome == "abandoned",
            ended_at=now - age + 30,
        )
        for age in ages
    ]
    counts: dict[str, int] = {}
    for a in history:
        counts[a.outcome] = counts.get(a.outcome, 0) + 1
    last = history[-1] if history else None
    pref = draw(st.sampled_from([(), (WeeklySpan.of(["mon", "wed", "sat"], "09:30", "12:00"),)]))
    contact = ContactFacts(
        "+12125550100",
        zones,
        attempts=len(history),
        last_outcome=last.outcome if last else None,
        last_outcome_at=last.ended_at if last else None,
        outcome_counts=counts,
        preferred_hours=pref,
    )
    regime = draw(st.sampled_from(["tcpa", "france", "australia", "none"]))
    mode: DialMode = draw(st.sampled_from(["guaranteed", "predictive"]))
    return contact, history, regime, mode, now


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_check_contact_agrees_with_all_refusals_and_its_retry_time_is_exact(
    s: tuple[ContactFacts, list[PastAttempt], str, DialMode, float],
) -> None:
    contact, history, regime, mode, now = s
    camp = campaign(
        calling_window={"regime": regime, "holidays": [dt.date(2027, 1, 1)]},
        retry={
            "max_attempts_total": 10,
            **{o: {"delay_s": 3600, "max_attempts": 9} for o in OUTCOMES[:-2]},
        },
        caps={"per_day": 2, "per_7_days": 4, "per_30_days": 0},
    )
    v = check_contact(contact, history, [], {}, camp, mode, now)
    rs = all_refusals(contact, history, [], {}, camp, mode, now)
    assert v.allowed == (rs == [])
    if v.allowed:
        return
    event(f"{v.rule} retry={v.retry_at is not None}")
    assert v.rule == rs[0].rule and v.reason == rs[0].reason
    if v.retry_at is None:
        return
    assert v.retry_at > now
    assert v.retry_at >= max(r.retry_at or now for r in rs)
    # Allowed at the retry time, and refused one second before it.
    assert check_contact(contact, history, [], {}, camp, mode, v.retry_at).allowed, show(v.retry_at)
    assert not check_contact(contact, history, [], {}, camp, mode, v.retry_at - 1).allowed


ROBINSON = {"robinson_de": ListTerms("DE", 30, "Robinsonliste (DE)")}
"""A list the engine config declares ([[dnc_list]]), as ``national_lists()`` hands it on."""


def test_a_declared_list_blocks_when_stale_and_refuses_a_listed_number() -> None:
    """A declared list is checked like tps: missing or as old as its declared
    max_age_days blocks the campaign; a number on it is refused for good; a campaign
    screening a list nobody declared is blocked (fail closed)."""
    berlin = ContactFacts("+4930901820", (NY,))
    camp = campaign(dnc={"lists": ["robinson_de"]})
    dated = NOON - 10 * DAY
    fresh = {"robinson_de": dated}
    kw = {"lists": {**BUILT_IN_LISTS, **ROBINSON}}
    assert check_contact(berlin, [], [], fresh, camp, "guaranteed", NOON, **kw).allowed
    on_it = [Suppression("robinson_de")]
    v = check_contact(berlin, [], on_it, fresh, camp, "guaranteed", NOON, **kw)
    assert (v.rule, v.retry_at) == ("dnc_declared", None)
    assert "Robinsonliste (DE)" in v.reason
    assert check_contact(berlin, [], [], fresh, camp, "guaranteed", dated + 30 * DAY - 1, **kw)
    v = check_contact(berlin, [], [], fresh, camp, "guaranteed", dated + 30 * DAY, **kw)
    assert v.rule == "dnc_list_stale" and "less than 30 days" in v.reason
    v = check_contact(berlin, [], [], {}, camp, "guaranteed", NOON, **kw)
    assert v.rule == "dnc_list_stale" and "never imported" in v.reason
    v = check_contact(berlin, [], [], fresh, camp, "guaranteed", NOON)  # not declared
    assert v.rule == "dnc_list_stale" and "[[dnc_list]]" in v.reason
