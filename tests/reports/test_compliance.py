"""The compliance report counts what a regulator checks, from the store's own rows."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dialguard.config import CampaignConfig, parse_campaign
from dialguard.law import NATIONAL_LIST_REGION
from dialguard.reports.compliance import PeriodFigures, compliance_report
from dialguard.rules import CallingWindow, window_allows
from dialguard.rules.abandoned import RateSpan, live_answer, worst_span
from dialguard.store import ATTEMPT_OUTCOMES, AttemptRecord, NewContact, Store
from tests.support.attempts import play_attempt
from tests.support.postgres import scratch_database

# Monday 2026-11-16 15:00 UTC = 10:00 in New York (inside TCPA 08:00–21:00).
DAY0 = dt.datetime(2026, 11, 16, 15, 0, tzinfo=dt.UTC).timestamp()
NY = ("America/New_York",)
CAMPAIGN = parse_campaign(
    {
        "id": "c1",
        "name": "C1",
        "caller_id": "+12025550123",
        "calling_window": {"regime": "tcpa"},
        "dnc": {"lists": ["usdnc"]},
    }
)


async def _store(tmp_path: Path) -> tuple[Store, dict[str, int]]:
    store = await Store.open(tmp_path / "s.sqlite3")
    await store.campaigns.upsert("c1", "C1", CAMPAIGN.model_dump_json(), state="active")
    numbers = [f"+1202555{n:04d}" for n in range(10)]
    await store.contacts.insert(
        "c1", [NewContact(number=n, region="US", timezones=NY) for n in numbers], now=DAY0
    )
    ids = {c.number: c.id for c in await store.contacts.due("c1", DAY0 + 1, 100)}
    return store, ids


async def _attempt(store: Store, ids: dict[str, int], number: str, t: float, **f: Any) -> None:
    aid = await store.attempts.open(
        campaign_id="c1", contact_id=ids[number], number=number, mode="progressive", now=t
    )
    await play_attempt(store, aid, invite_at=t, **f)


async def test_counts_breaches_and_rate(tmp_path: Path) -> None:
    store, ids = await _store(tmp_path)
    n = sorted(ids)
    t = DAY0
    # connected live call: answer→agent 1.2 s
    await _attempt(
        store,
        ids,
        n[0],
        t,
        ringing_at=t + 2,
        answered_at=t + 8,
        connected_at=t + 9.2,
        ended_at=t + 100,
        outcome="connected",
        ended_by="remote",
    )
    # abandoned (agent lost), heard the message, opted out
    await _attempt(
        store,
        ids,
        n[1],
        t + 10,
        ringing_at=t + 12,
        answered_at=t + 15,
        ended_at=t + 30,
        outcome="abandoned",
        abandoned=True,
        abandon_reason="agent_lost",
        message_played_at=t + 15.5,
        opted_out=True,
        ended_by="local",
    )
    # voicemail, not abandoned: not a live answer
    await _attempt(
        store,
        ids,
        n[2],
        t + 20,
        ringing_at=t + 21,
        answered_at=t + 40,
        ended_at=t + 46,
        outcome="voicemail",
        ended_by="local",
    )
    # we cancelled after 14 s of ringing: a breach
    await _attempt(
        store,
        ids,
        n[3],
        t + 30,
        ringing_at=t + 32,
        ended_at=t + 46,
        outcome="no_answer",
        ended_by="local",
    )
    # we cancelled after 20 s: fine
    await _attempt(
        store,
        ids,
        n[4],
        t + 40,
        ringing_at=t + 41,
        ended_at=t + 61,
        outcome="no_answer",
        ended_by="local",
    )
    # the callee rejected after 3 s of ringing: not our cancel
    await _attempt(
        store,
        ids,
        n[5],
        t + 50,
        ringing_at=t + 51,
        ended_at=t + 54,
        outcome="rejected",
        sip_code=603,
        ended_by="remote",
    )
    # dialled at 03:00 New York time: outside the TCPA window
    night = dt.datetime(2026, 11, 16, 8, 0, tzinfo=dt.UTC).timestamp()
    await _attempt(store, ids, n[6], night, ended_at=night + 5, outcome="busy", sip_code=486)
    # a number on the US DNC list before the dial; another added only afterwards
    await store.dnc.add([n[7]], "usdnc", "2026-11-10", now=t - 3600)
    await _attempt(store, ids, n[7], t + 60, ended_at=t + 62, outcome="busy", sip_code=486)
    await _attempt(store, ids, n[8], t + 70, ended_at=t + 72, outcome="busy", sip_code=486)
    await store.dnc.add([n[8]], "internal", None, now=t + 80)

    rep = await compliance_report(store, CAMPAIGN, "24h", DAY0 - 86400 / 2, DAY0 + 86400 / 2)
    await store.close()
    [p] = rep.periods
    assert p.attempts == 9
    assert (p.live_answers, p.machine_answers, p.connects) == (2, 1, 1)
    assert p.abandoned == 1 and p.abandoned_by_reason == {"agent_lost": 1}
    assert p.abandon_rate == 0.5
    assert p.cancelled_before_15s == 1
    assert p.outside_window == 1
    assert p.dnc_hits == 1
    assert (p.opt_outs, p.messages_played) == (1, 1)
    assert p.max_answer_to_agent_s is not None and abs(p.max_answer_to_agent_s - 1.2) < 1e-6
    breaches = rep.breaches
    assert len(breaches) == 4, breaches
    assert any("abandon rate 50.00% over cap 3.00%" in b for b in breaches)
    assert rep.to_dict()["periods"][0]["abandon_rate"] == 0.5


@pytest.mark.parametrize(
    ("regime", "listed_on", "numbers", "zone", "local_ten"),
    [
        # Monday 16 November 2026, 10:00 in Paris (09:00 UTC) and in Sydney (23:00 UTC
        # the day before): inside each regime's hours, on no public holiday
        ("france", "bloctel", ("+33142685300", "+33142685301"), "Europe/Paris",
         dt.datetime(2026, 11, 16, 9, 0, tzinfo=dt.UTC).timestamp()),
        ("australia", "dncr", ("+61293744000", "+61293744001"), "Australia/Sydney",
         dt.datetime(2026, 11, 15, 23, 0, tzinfo=dt.UTC).timestamp()),
    ],
)  # fmt: skip
async def test_a_call_to_a_number_on_a_new_national_list_is_a_breach(
    tmp_path: Path,
    regime: str,
    listed_on: str,
    numbers: tuple[str, str],
    zone: str,
    local_ten: float,
) -> None:
    """The report's DNC query named exactly four sources (internal, tps, ctps, usdnc):
    a call to a number on Bloctel or the Do Not Call Register was not counted."""
    cfg = parse_campaign(
        {
            "id": "c1",
            "name": "C1",
            "caller_id": "+12025550123",
            "calling_window": {"regime": regime},
            "dnc": {"lists": [listed_on]},
        }
    )
    store = await Store.open(tmp_path / "s.sqlite3")
    await store.campaigns.upsert("c1", "C1", cfg.model_dump_json(), state="active")
    region = NATIONAL_LIST_REGION[listed_on]
    await store.contacts.insert(
        "c1", [NewContact(number=n, region=region, timezones=(zone,)) for n in numbers], now=0
    )
    ids = {c.number: c.id for c in await store.contacts.due("c1", local_ten, 100)}
    t = local_ten
    await store.dnc.add([numbers[0]], listed_on, "2026-11-10", now=t - 3600)
    await store.dnc.add([numbers[1]], "tps", "2026-11-10", now=t - 3600)  # not screened
    for i, number in enumerate(numbers):
        await _attempt(store, ids, number, t + 10 * i, ended_at=t + 10 * i + 2,
                       outcome="busy", sip_code=486)  # fmt: skip
    rep = await compliance_report(store, cfg, "24h", t - 3600, t + 3600)
    await store.close()
    [p] = rep.periods
    assert (p.attempts, p.outside_window, p.dnc_hits) == (2, 0, 1)
    [breach] = [b for b in rep.breaches if "dnc_hits" in b]
    assert breach.endswith(": dnc_hits = 1 (must be 0)")


async def test_periods_split_by_window(tmp_path: Path) -> None:
    store, ids = await _store(tmp_path)
    n = sorted(ids)
    for day in range(3):
        t = DAY0 + day * 86400
        await _attempt(
            store,
            ids,
            n[day],
            t,
            ringing_at=t + 1,
            answered_at=t + 5,
            connected_at=t + 5.5,
            ended_at=t + 60,
            outcome="connected",
        )
    rep = await compliance_report(store, CAMPAIGN, "24h", DAY0 - 60, DAY0 + 3 * 86400 - 60)
    await store.close()
    assert [p.attempts for p in rep.periods] == [1, 1, 1]
    assert rep.breaches == []


async def test_a_connect_later_than_2_s_counts_as_abandoned(tmp_path: Path) -> None:
    """The callee heard silence for longer than the law allows: abandoned, whatever the
    row's own flag says (our store once said `connected` at 2.24 s)."""
    store, ids = await _store(tmp_path)
    n = sorted(ids)
    t = DAY0
    for number, wait in ((n[0], 1.9), (n[1], 2.24)):
        await _attempt(
            store,
            ids,
            number,
            t,
            ringing_at=t + 2,
            answered_at=t + 8,
            connected_at=t + 8 + wait,
            ended_at=t + 100,
            outcome="connected",
            ended_by="remote",
        )
    rep = await compliance_report(store, CAMPAIGN, "24h", DAY0 - 86400 / 2, DAY0 + 86400 / 2)
    await store.close()
    [p] = rep.periods
    assert p.live_answers == 2 and p.connects == 2
    assert p.abandoned == 1 and p.abandoned_by_reason == {"late_connect": 1}
    assert p.max_answer_to_agent_s is not None and abs(p.max_answer_to_agent_s - 2.24) < 1e-6


async def test_a_bad_24_hours_straddling_two_periods_is_found_and_named(tmp_path: Path) -> None:
    """Issue 17 item 4: each calendar period is at 3 % (not over the cap), but the 24 h
    from Monday evening to Tuesday morning abandoned 6 of 6 live answers. Fixed blocks
    from --from never saw it; the rolling check names the worst span."""
    store, ids = await _store(tmp_path)
    n = sorted(ids)

    async def answer(t: float, abandoned: bool) -> None:
        fields: dict[str, object] = {"answered_at": t + 5, "ended_at": t + 60}
        if abandoned:
            fields.update(outcome="abandoned", abandoned=True, abandon_reason="no_agent")
        else:
            fields.update(outcome="connected", connected_at=t + 6)
        await _attempt(store, ids, n[int(t) % 10], t, ringing_at=t + 1, **fields)

    for i in range(97):  # Monday 10:00–11:36 New York: connected
        await answer(DAY0 + i * 60, False)
    for i in range(3):  # Monday 20:00 New York: abandoned
        await answer(DAY0 + 10 * 3600 + i * 60, True)
    for i in range(3):  # Tuesday 09:30 New York: abandoned
        await answer(DAY0 + 23.5 * 3600 + i * 60, True)
    for i in range(97):  # Tuesday 16:00– New York: connected
        await answer(DAY0 + 30 * 3600 + i * 60, False)
    start = DAY0 - 3600  # Monday 09:00 New York
    rep = await compliance_report(store, CAMPAIGN, "24h", start, start + 2 * 86400)
    await store.close()
    assert [(p.live_answers, p.abandoned) for p in rep.periods] == [(100, 3), (100, 3)]
    assert all(p.abandon_rate <= CAMPAIGN.pacing.abandon_cap for p in rep.periods)
    w = rep.worst
    assert w is not None and (w.abandoned, w.answered) == (6, 6)
    assert w.end - w.start == 86400 and start < w.start < start + 86400
    [breach] = rep.breaches
    assert "worst rolling 24h span" in breach and "abandon rate 100.00% over cap 3.00%" in breach
    assert rep.to_dict()["worst_rolling_span"]["abandon_rate"] == 1.0


# --- the database's sums against a straightforward recount ------------------------------


FRANCE = parse_campaign(
    {
        "id": "c1",
        "name": "C1",
        "caller_id": "+33144556677",
        "calling_window": {"regime": "france"},
        "dnc": {"lists": ["usdnc"]},
    }
)
ZONE_SETS = (
    ("America/New_York",),
    ("America/Los_Angeles",),
    ("America/New_York", "America/Los_Angeles"),
    (),
    ("Asia/Kolkata",),  # +05:30: the window's edges fall mid-hour in UTC
    ("Europe/Paris",),
)
NUMBERS = [f"+1202555{n:04d}" for n in range(len(ZONE_SETS))] + ["+12025559999"]
SPAN_S = 2.5 * 86400


def _reference(
    campaign: CampaignConfig,
    rows: list[AttemptRecord],
    zones_of: dict[int, tuple[str, ...]],
    listed: dict[str, list[tuple[str, float]]],
    start: float,
    end: float,
) -> tuple[list[PeriodFigures], RateSpan | None]:
    """The report as first written: every row through the rules in Python."""
    periods, t = [], start
    while t < end:
        periods.append(PeriodFigures(start=t, end=min(t + 86400.0, end)))
        t += 86400.0
    window = CallingWindow.from_config(campaign.calling_window)
    honoured = {"internal", *campaign.dnc.lists}
    answers = []
    for a in rows:
        [p] = [p for p in periods if p.start <= a.created_at < p.end]
        p.attempts += 1
        answer = live_answer(
            flagged=a.abandoned,
            outcome=a.outcome,
            created_at=a.created_at,
            answered_at=a.answered_at,
            connected_at=a.connected_at,
        )
        if answer is None:
            p.machine_answers += a.answered_at is not None
        else:
            answers.append(answer)
            p.live_answers += 1
            p.connects += a.connected_at is not None
            if a.connected_at is not None and a.answered_at is not None:
                wait = a.connected_at - a.answered_at
                if p.max_answer_to_agent_s is None or wait > p.max_answer_to_agent_s:
                    p.max_answer_to_agent_s = wait
            if answer.abandoned:
                p.abandoned += 1
                late = not a.abandoned and a.outcome != "abandoned"
                reason = a.abandon_reason or ("late_connect" if late else "unknown")
                p.abandoned_by_reason[reason] = p.abandoned_by_reason.get(reason, 0) + 1
        p.messages_played += a.message_played_at is not None
        p.opt_outs += a.opted_out
        rang_from = a.ringing_at if a.ringing_at is not None else a.invite_at
        p.cancelled_before_15s += (
            a.answered_at is None
            and a.ended_by == "local"
            and a.ended_at is not None
            and a.outcome != "interrupted"
            and rang_from is not None
            and a.ended_at - rang_from < 15.0
        )
        dialled = a.invite_at if a.invite_at is not None else a.created_at
        hits = listed.get(a.number, ())
        p.dnc_hits += any(s in honoured and added <= dialled for s, added in hits)
        names = zones_of.get(a.contact_id, ()) if a.contact_id is not None else ()
        p.outside_window += not window_allows(names, window, dialled)
    for p in periods:
        p.abandoned_by_reason = dict(sorted(p.abandoned_by_reason.items()))
    return periods, worst_span(answers, 86400.0, start, end)


# Many in the first hour: 21:00 in Kolkata is 15:30 UTC, an edge inside an hour.
_times = (
    st.floats(0, 3600, allow_nan=False)
    | st.floats(0, SPAN_S, allow_nan=False)
    | st.sampled_from([0.0, 1800.0, 3600.0, 86400.0 - 1e-3])
)
_attempt_rows = st.fixed_dictionaries(
    {
        "contact": st.none() | st.integers(0, len(ZONE_SETS) - 1),
        "created": _times,
        "invite": st.none() | st.floats(0, 5400, allow_nan=False),
        "ring": st.none() | st.floats(0, 30, allow_nan=False),
        "answer": st.none() | st.floats(0, 40, allow_nan=False),
        "connect": st.none() | st.sampled_from([2.0, 2.01]) | st.floats(0, 4, allow_nan=False),
        "flagged": st.booleans(),
        "reason": st.sampled_from(["no_agent", "agent_lost", "amd_false_positive"]),
        "outcome": st.none() | st.sampled_from(ATTEMPT_OUTCOMES),
        "ended": st.none() | st.floats(0, 60, allow_nan=False),
        "ended_by": st.sampled_from(["local", "remote"]),
        "played": st.booleans(),
        "opted_out": st.booleans(),
    }
)
_listings = st.lists(
    st.tuples(
        st.integers(0, len(NUMBERS) - 1),
        st.sampled_from(["usdnc", "tps", "internal"]),
        st.floats(-86400, SPAN_S, allow_nan=False),
    ),
    max_size=6,
)


async def _play(
    rows: list[dict[str, Any]], listings: list[tuple[int, str, float]], location: str = ":memory:"
) -> Store:
    store = await Store.open(location)
    await store.campaigns.upsert("c1", "C1", CAMPAIGN.model_dump_json(), state="active")
    contacts = [
        NewContact(number=n, region="US", timezones=z)
        for n, z in zip(NUMBERS[:-1], ZONE_SETS, strict=True)
    ]
    await store.contacts.insert("c1", contacts, now=DAY0)
    ids = {c.number: c.id for c in await store.contacts.due("c1", DAY0 + 1, 100)}
    for i, source, at in listings:
        date = None if source == "internal" else "2026-11-10"
        await store.dnc.add([NUMBERS[i]], source, date, now=DAY0 + at)
    for r in rows:
        t = DAY0 + r["created"]
        number = NUMBERS[-1] if r["contact"] is None else NUMBERS[r["contact"]]
        aid = await store.attempts.open(
            campaign_id="c1",
            contact_id=None if r["contact"] is None else ids[number],
            number=number,
            mode="progressive",
            now=t,
        )
        invite = None if r["invite"] is None else t + r["invite"]
        ring = None if r["ring"] is None or invite is None else invite + r["ring"]
        answer = None if r["answer"] is None or invite is None else invite + 1 + r["answer"]
        connect = None if r["connect"] is None or answer is None else answer + r["connect"]
        last = max(x for x in (t, invite, ring, answer, connect) if x is not None)
        await play_attempt(
            store,
            aid,
            invite_at=invite,
            ringing_at=ring,
            answered_at=answer,
            connected_at=connect,
            abandoned=r["flagged"],
            abandon_reason=r["reason"],
            message_played_at=last + 0.5 if r["played"] and r["flagged"] else None,
            opted_out=r["opted_out"],
            outcome=r["outcome"],
            ended_at=None if r["ended"] is None else last + r["ended"],
            ended_by=r["ended_by"],
        )
    return store


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(_attempt_rows, max_size=40),
    _listings,
    st.sampled_from([CAMPAIGN, FRANCE]),
    st.sampled_from([0.0, -1800.0, 1234.5]),
)
def test_the_databases_sums_equal_a_recount_row_by_row(
    rows: list[dict[str, Any]],
    listings: list[tuple[int, str, float]],
    campaign: CampaignConfig,
    shift: float,
) -> None:
    """Every figure of every period and the worst rolling span, as a recount of the
    rows through rules.abandoned and rules.window_allows says: periods of 24 h and a
    last short one, rolling spans across them, dials an hour and a half after their
    row, window edges mid-hour (Kolkata), holidays (France), attempts without contact,
    DNC entries before and after the dial, on honoured lists and not."""
    _assert_recount(rows, listings, campaign, shift, ":memory:")


def _assert_recount(
    rows: list[dict[str, Any]],
    listings: list[tuple[int, str, float]],
    campaign: CampaignConfig,
    shift: float,
    location: str,
) -> None:
    async def both() -> tuple[Any, Any]:
        store = await _play(rows, listings, location)
        start, end = DAY0 + shift, DAY0 + shift + SPAN_S
        try:
            rep = await compliance_report(store, campaign, "24h", start, end)
            records = await store.attempts.of_campaign("c1", start, end)
            zones = await store.contacts.zones_by_id("c1")
            listed = await store.dnc.listings_of_dialled("c1", start, end)
        finally:
            await store.close()
        return (rep.periods, rep.worst), _reference(campaign, records, zones, listed, start, end)

    (periods, worst), (expected, expected_worst) = asyncio.run(both())
    assert [asdict(p) for p in periods] == [asdict(p) for p in expected]
    assert worst == expected_worst


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(_attempt_rows, min_size=10, max_size=40),
    _listings,
    st.sampled_from([CAMPAIGN, FRANCE]),
    st.sampled_from([0.0, 1234.5]),
)
def test_the_sums_equal_a_recount_on_postgresql_too(
    rows: list[dict[str, Any]],
    listings: list[tuple[int, str, float]],
    campaign: CampaignConfig,
    shift: float,
) -> None:
    """The same recount on the other backend (its FILTER, IS TRUE, UNION ALL and zone
    joins), on fewer examples: each gets a database of its own."""
    with scratch_database() as url:
        _assert_recount(rows, listings, campaign, shift, url)


async def test_a_call_to_a_number_on_a_declared_list_is_a_breach(tmp_path: Path) -> None:
    """A list declared in the engine config ([[dnc_list]] robinson_de) and screened by
    the campaign: a call to a number on it counts in the report's DNC check."""
    cfg = parse_campaign(
        {
            "id": "c1",
            "name": "C1",
            "caller_id": "+12025550123",
            "calling_window": {"regime": "none"},
            "dnc": {"lists": ["robinson_de"]},
        }
    )
    numbers = ("+4930901820", "+4930901821")
    t = dt.datetime(2026, 11, 16, 10, 0, tzinfo=dt.UTC).timestamp()  # 11:00 in Berlin
    store = await Store.open(tmp_path / "s.sqlite3")
    await store.campaigns.upsert("c1", "C1", cfg.model_dump_json(), state="active")
    await store.contacts.insert(
        "c1", [NewContact(number=n, region="DE", timezones=("Europe/Berlin",)) for n in numbers],
        now=0,
    )  # fmt: skip
    ids = {c.number: c.id for c in await store.contacts.due("c1", t, 100)}
    await store.dnc.add([numbers[0]], "robinson_de", "2026-11-10", now=t - 3600)
    await store.dnc.add([numbers[1]], "tps", "2026-11-10", now=t - 3600)  # not screened
    for i, number in enumerate(numbers):
        await _attempt(store, ids, number, t + 10 * i, ended_at=t + 10 * i + 2,
                       outcome="busy", sip_code=486)  # fmt: skip
    rep = await compliance_report(store, cfg, "24h", t - 3600, t + 3600)
    await store.close()
    [p] = rep.periods
    assert (p.attempts, p.dnc_hits) == (2, 1)
    [breach] = [b for b in rep.breaches if "dnc_hits" in b]
    assert breach.endswith(": dnc_hits = 1 (must be 0)")
