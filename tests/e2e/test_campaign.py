"""A campaign run end to end, judged from the SIP simulator's own records."""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
from pathlib import Path
from urllib.parse import urlsplit

import aiomqtt
import pytest

from dialguard.demo.centre import LocalCentre
from dialguard.mqtt.contract import Topics
from dialguard.sip.simulator.profile import Profile, Shares
from dialguard.store import Store
from tests.support.centre import centre_options
from tests.support.daemon import until

pytestmark = [pytest.mark.broker, pytest.mark.slow]


async def _junk(broker_url: str, prefix: str) -> None:
    """Malformed payloads on every topic the engine reads; it must shrug them off."""
    u = urlsplit(broker_url)
    t = Topics(prefix)
    async with aiomqtt.Client(u.hostname or "127.0.0.1", u.port or 1883) as c:
        await c.publish(t.agent_state("agent-001"), b"not json", qos=1)
        await c.publish(t.agent_state("agent-002"), b'{"state": "dancing", "seq": 1}', qos=1)
        await c.publish(t.agent_state("agent-003"), b'{"state": "ready", "seq": "x"}', qos=1)
        await c.publish(t.campaign_control("demo"), b'{"action": "explode"}', qos=1)
        await c.publish(t.campaign_pacing("demo"), b"\xff\xfe", qos=1)


async def test_guaranteed_mode_end_to_end(broker_url: str, tmp_path: Path) -> None:
    # Enough live answers to judge every one, and enough unanswered calls to see the
    # ring floor: 50 % answer live, 10 % busy, 40 % ring until cancelled. The simulator
    # seeds each call from its number, and which numbers are callable depends on the
    # hour, so the counts vary; with ~14 attempts, < 2 live or 0 cancels is ~0.1 %.
    mix = Profile(name="mix", shares=Shares(live=0.5, busy=0.1))
    centre = LocalCentre(
        centre_options(broker_url, tmp_path, agents=6, contacts=120, ring_timeout_s=15, profile=mix)
    )
    try:
        await centre.start()
        await centre.control("start")
        await asyncio.sleep(8)
        await _junk(broker_url, centre.prefix)
        await asyncio.sleep(30)
        await centre.control("pause")
        await centre.drain(25, None)
        assert centre.engine is not None
        rejected = centre.engine.link.stats.rejected_payloads
    finally:
        await centre.stop()
    r = centre.result()
    s = r.summary
    assert s["attempts"] >= 8, s
    assert s["live_answers"] >= 2, s
    # the promise: every live answer reached an agent, within 2 s, never silence
    assert s["abandoned"] == 0 and s["abandoned_silent"] == 0, s
    assert s["connected"] == s["live_answers"] + s["voicemail_answers"], s
    assert s["max_answer_to_agent_s"] is not None and s["max_answer_to_agent_s"] <= 2.0
    # asked for 15 s: the adapter rings at least 15 s from the first 180 before CANCEL
    assert s["cancelled"] >= 1, s
    assert s["cancelled_before_15s"] == 0
    assert s["min_ring_before_cancel_s"] >= 15.0
    assert s["outside_window"] == 0 and s["dnc_dialled"] == 0, s
    per_number = collections.Counter(rec.number for rec in r.records)
    assert max(per_number.values()) <= 3  # the per-day cap
    assert rejected >= 4  # the malformed payloads were seen and dropped, nothing crashed

    async with await Store.open(r.store_path) as store:
        attempts = await store.attempts.of_campaign(
            "demo", 0, dt.datetime.now(dt.UTC).timestamp() + 60
        )
        skips = await store.skips.between("demo", 0, dt.datetime.now(dt.UTC).timestamp() + 60)
    assert len(attempts) == s["attempts"]
    assert all(a.outcome is not None for a in attempts)
    # the attempt row was written before the INVITE left
    assert all(a.invite_at is not None and a.created_at <= a.invite_at for a in attempts)
    assert {a.call_id for a in attempts} == {rec.call_id for rec in r.records}
    rules = {sk.rule for sk in skips}
    assert "dnc_internal" in rules
    dialled = {a.number for a in attempts}
    assert not dialled & centre.dnc_numbers


async def test_predictive_mode_respects_its_cap(broker_url: str, tmp_path: Path) -> None:
    hot = Profile(name="hot", shares=Shares(live=0.6, busy=0.1))
    centre = LocalCentre(
        centre_options(
            broker_url,
            tmp_path,
            mode="predictive",
            agents=5,
            contacts=200,
            profile=hot,
            minutes=0.75,
        )
    )
    result = await centre.run()
    s = result.summary
    assert s["live_answers"] >= 3, s
    assert s["abandoned_silent"] == 0, s  # over-dial or not, never silence
    assert s["abandon_rate"] <= 0.03, s
    assert s["max_answer_to_agent_s"] is not None and s["max_answer_to_agent_s"] <= 2.0
    assert s["cancelled_before_15s"] == 0


async def test_the_engine_ends_wrap_up_at_the_campaign_cap(broker_url: str, tmp_path: Path) -> None:
    """Desktops that would wrap up for 60 s are counted ready at the 2 s cap (and told
    so), so the campaign keeps dialling; nobody is connected while still in wrap-up."""
    centre = LocalCentre(
        centre_options(
            broker_url,
            tmp_path,
            agents=2,
            numbers=[f"+155500000{n:02d}" for n in range(10, 16)],  # live, answer at once
            wrap_s=60.0,
            campaign_overrides={
                "calling_window": {"regime": "none"},
                "pacing": {"mode": "progressive", "wrap_up_cap_s": 2},
            },
        )
    )
    try:
        await centre.start()
        await centre.control("start")
        assert centre.sim is not None
        sim = centre.sim
        # two agents, each call short: more than two calls means wrap-ups were capped
        await until(lambda: len(sim.records) >= 4, 60, "dials after capped wrap-ups")
    finally:
        await centre.stop()
    assert sum(a.wraps_capped for a in centre.agents) >= 2
    s = sim.summary().as_dict()
    assert s["abandoned"] == 0 and s["silent"] == 0, s
