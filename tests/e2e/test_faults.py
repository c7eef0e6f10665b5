"""Faults on the real path: an agent vanishes, the broker goes away, the engine is
killed. The promise must hold through each: never silence, no dial on unproven agent
state, nothing lost or dialled twice."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from pathlib import Path

import pytest

from dialguard.demo.centre import LocalCentre
from dialguard.store import Store
from tests.support.centre import centre_options
from tests.support.daemon import retry, start_daemon, until, write_config
from tests.support.mosquitto import Mosquitto

pytestmark = [pytest.mark.broker, pytest.mark.slow]
ANY_HOUR = {"calling_window": {"regime": "none"}}


async def test_agent_vanishes_while_reserved(broker_url: str, tmp_path: Path) -> None:
    """The only agent's desktop dies while its call rings: the callee who answers hears
    the information message within 2 s, the call is counted as abandoned, and the
    opt-out key pressed during the message puts the number on the internal DNC list."""
    centre = LocalCentre(
        centre_options(
            broker_url,
            tmp_path,
            agents=1,
            # simulator convention +1555000 C RRR: C=7 live and presses the opt-out key
            # while hearing the message, answering after RRR=080 tenths of a second
            numbers=["+15550007080"],
            campaign_overrides=ANY_HOUR,
        )
    )
    try:
        await centre.start()
        await centre.control("start")
        assert centre.sim is not None
        sim = centre.sim
        await until(lambda: bool(sim.active_calls), 15, "the INVITE")
        centre.agents[0].crash()  # TCP dropped, no DISCONNECT: the broker sends the will
        await until(lambda: not sim.active_calls and sim.records, 40, "the call to end")
    finally:
        await centre.stop()
    [rec] = centre.result().records
    assert rec.answer_s is not None
    assert rec.abandoned and rec.abandoned_kind == "message", rec
    assert not rec.silent
    assert rec.answer_to_audio_s is not None and rec.answer_to_audio_s <= 2.0, rec
    assert rec.opted_out
    async with await Store.open(centre.store_path) as store:
        [attempt] = await store.attempts("demo", 0, time.time() + 60)
        hits = await store.is_suppressed("+15550007080")
        contact = (await store.due_contacts("demo", time.time() + 10**6, 10)) or None
    assert attempt.abandoned and attempt.abandon_reason == "agent_lost"
    assert attempt.message_played_at is not None
    assert attempt.outcome == "abandoned"
    assert attempt.opted_out
    assert [h.source for h in hits] == ["internal"]
    assert contact is None  # closed as dnc: never offered again


async def test_broker_lost_mid_campaign_stops_new_dials_until_resync(
    private_broker: Mosquitto, tmp_path: Path
) -> None:
    centre = LocalCentre(centre_options(private_broker.url, tmp_path / "c", agents=3, contacts=150))
    try:
        await centre.start()
        await centre.control("start")
        assert centre.sim is not None and centre.engine is not None
        sim, engine = centre.sim, centre.engine
        await until(lambda: len(sim.records) >= 3, 20, "the first dials")
        private_broker.stop()
        await until(lambda: not engine.link.dialling_allowed, 10, "the engine to fail closed")
        await asyncio.sleep(0.5)  # a launch already past its check may still send
        dials_when_down = len(sim.records)
        await asyncio.sleep(6)
        assert len(sim.records) == dials_when_down, "dialled while agent state was unproven"
        private_broker.start()
        await until(lambda: engine.link.dialling_allowed, 40, "resync after the broker returns")
        await until(lambda: len(sim.records) > dials_when_down, 30, "dialling to resume")
        await centre.control("pause")
        await centre.drain(25, None)
    finally:
        await centre.stop()
    s = centre.result().summary
    assert s["abandoned"] == 0, s  # the blip cost no answered call its agent
    assert s["cancelled_before_15s"] == 0


async def test_engine_killed_and_restarted(broker_url: str, tmp_path: Path) -> None:
    """SIGKILL mid-campaign: on restart open attempts are closed as interrupted, every
    INVITE has its attempt row, and no number is dialled twice."""
    numbers = [f"+155500005{n:02d}" for n in range(40)]  # ring until cancelled
    centre = LocalCentre(
        centre_options(
            broker_url,
            tmp_path,
            agents=3,
            numbers=numbers,
            start_engine=False,
        )
    )
    log = tmp_path / "daemon.log"
    proc: subprocess.Popen[bytes] | None = None
    try:
        await centre.start()
        assert centre.sim is not None
        sim = centre.sim
        config = write_config(centre, tmp_path)
        proc = start_daemon(config, log)
        await retry(lambda: centre.control("start"), 30)
        await until(lambda: len(sim.active_calls) >= 3, 20, "three calls ringing")
        in_flight = set(sim.active_calls)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        dialled_before = len(sim.records)
        proc = start_daemon(config, log)
        # the campaign was left active in the store: the new engine resumes by itself
        await until(lambda: len(sim.records) >= dialled_before + 3, 40, "dialling to resume")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(40) == 0, log.read_text()[-3000:]
        proc = None
    finally:
        if proc is not None:
            proc.kill()
            proc.wait(10)
        await centre.stop()
    records = centre.result().records
    dialled = [r.number for r in records]
    assert len(dialled) == len(set(dialled)), "a number was dialled twice"
    async with await Store.open(centre.store_path) as store:
        attempts = await store.attempts("demo", 0, time.time() + 60)
    assert all(a.outcome is not None for a in attempts), "an attempt left open"
    interrupted = {a.call_id for a in attempts if a.outcome == "interrupted"}
    assert in_flight <= interrupted | {None}, (in_flight, interrupted)
    assert len(interrupted - {None}) >= 3
    # no lost attempt: every INVITE the trunk saw has its row
    assert {r.number for r in records} <= {a.number for a in attempts}
    assert "recovered interrupted attempts" in log.read_text()
