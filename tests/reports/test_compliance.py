"""The compliance report counts what a regulator checks, from the store's own rows."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from dialguard.config import parse_campaign
from dialguard.reports.compliance import compliance_report
from dialguard.store import NewContact, Store
from tests.support.attempts import play_attempt

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
