"""Faults on the real path: an agent vanishes, the broker goes away, the engine is
killed. The promise must hold through each: never silence, no dial on unproven agent
state, nothing lost or dialled twice."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dialguard.config import BrokerConfig
from dialguard.demo.centre import LocalCentre
from dialguard.mqtt.client import make_client
from dialguard.mqtt.contract import Topics
from dialguard.pacing import events as pe
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
        [attempt] = await store.attempts.of_campaign("demo", 0, time.time() + 60)
        hits = await store.dnc.lookup("+15550007080")
        contact = (await store.contacts.due("demo", time.time() + 10**6, 10)) or None
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
        await asyncio.to_thread(proc.wait, 10)
        dialled_before = len(sim.records)
        proc = start_daemon(config, log)
        # the campaign was left active in the store: the new engine resumes by itself
        await until(lambda: len(sim.records) >= dialled_before + 3, 40, "dialling to resume")
        proc.send_signal(signal.SIGTERM)
        # waited for in a thread: the simulator runs on this loop and must keep
        # answering the daemon's CANCELs and BYEs while it stops
        assert await asyncio.to_thread(proc.wait, 40) == 0, log.read_text()[-3000:]
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
        attempts = await store.attempts.of_campaign("demo", 0, time.time() + 60)
    assert all(a.outcome is not None for a in attempts), "an attempt left open"
    interrupted = {a.call_id for a in attempts if a.outcome == "interrupted"}
    assert in_flight <= interrupted | {None}, (in_flight, interrupted)
    assert len(interrupted - {None}) >= 3
    # no lost attempt: every INVITE the trunk saw has its row
    assert {r.number for r in records} <= {a.number for a in attempts}
    assert "recovered interrupted attempts" in log.read_text()


# --- issue 9: the promise under broker stalls, a full disk, bad input and crashes ------

STALL_NUMBERS = ["+15550000080", "+15550000090", "+15550000100"]  # live, answer 8–10 s


async def test_broker_stalled_12_s_while_calls_ring_leaves_nobody_in_silence(
    private_broker: Mosquitto, tmp_path: Path
) -> None:
    """SIGSTOP the broker while three calls ring: they are answered during the stall,
    and each reaches its agent over SIP (the desktop is told when the broker is back)."""
    centre = LocalCentre(
        centre_options(
            private_broker.url,
            tmp_path / "c",
            agents=3,
            numbers=STALL_NUMBERS,
            campaign_overrides=ANY_HOUR,
        )
    )
    assert private_broker.proc is not None
    broker = private_broker.proc
    try:
        await centre.start()
        await centre.control("start")
        assert centre.sim is not None
        sim = centre.sim
        await until(lambda: len(sim.active_calls) >= 3, 20, "three calls ringing")
        broker.send_signal(signal.SIGSTOP)
        try:
            await asyncio.sleep(12)
        finally:
            broker.send_signal(signal.SIGCONT)
        await until(lambda: len(sim.records) >= 3 and not sim.active_calls, 60, "calls to end")
    finally:
        broker.send_signal(signal.SIGCONT)
        await centre.stop()
    s = sim.summary().as_dict()  # the callees' records, not our store
    assert s["live_answers"] == 3, s
    assert s["silent"] == 0 and s["abandoned"] == 0, s
    assert s["max_answer_to_agent_s"] is not None and s["max_answer_to_agent_s"] <= 2.0, s


async def test_bad_payloads_on_an_agent_topic_are_counted_and_dialling_goes_on(
    broker_url: str, tmp_path: Path
) -> None:
    """A 1 MB payload and 60,000 '[' (retained, so every resync replays it) on an
    agent's own state topic: rejected and counted, the link stays up, dials go on."""
    centre = LocalCentre(
        centre_options(
            broker_url,
            tmp_path,
            agents=2,
            contacts=40,
            start_engine=False,
            campaign_overrides=ANY_HOUR,
        )
    )
    topics = Topics(centre.prefix)
    cfg = BrokerConfig(url=broker_url, topic_prefix=centre.prefix)
    try:
        await centre.start()
        async with make_client(cfg, client_id=None) as client:
            # retained where no desktop overwrites it: every resync replays it
            await client.publish(topics.agent_state("agent-009"), b"[" * 60_000, retain=True)
        await centre.start_engine()  # raises if the retained payload blocked the resync
        assert centre.engine is not None and centre.sim is not None
        engine, sim = centre.engine, centre.sim
        async with make_client(cfg, client_id=None) as client:
            await client.publish(topics.agent_state("agent-001"), b"{" * 1_000_000, qos=1)
        await until(lambda: engine.link.stats.rejected_payloads >= 2, 10, "the rejections")
        await centre.control("start")
        await until(lambda: len(sim.records) >= 3, 30, "dials after the bad payloads")
        assert engine.link.dialling_allowed and engine.link.stats.dispatch_errors == 0
    finally:
        await centre.stop()


async def test_a_crashed_runner_stops_the_engine_within_5_s(
    broker_url: str, tmp_path: Path
) -> None:
    centre = LocalCentre(
        centre_options(broker_url, tmp_path, agents=2, contacts=40, campaign_overrides=ANY_HOUR)
    )
    try:
        await centre.start()
        await centre.control("start")
        assert centre.engine is not None
        engine = centre.engine
        [task] = [t for t in centre._tasks if t.get_name() == "engine"]

        def boom() -> None:
            raise RuntimeError("injected fault in the campaign loop")

        runner = engine.runners["demo"]
        runner._step = boom  # type: ignore[method-assign]
        runner.report(pe.AgentChanged("nobody", "offline"))  # wake the loop
        started = time.monotonic()
        with pytest.raises(ExceptionGroup):
            await asyncio.wait_for(asyncio.shield(task), 5)
        assert time.monotonic() - started <= 5
        assert engine.crashed is not None and "injected fault" in engine.crashed
        assert engine.health()["ok"] is False
    finally:
        await centre.stop()


async def test_sigterm_after_the_terminal_is_gone_exits_within_the_grace(
    broker_url: str, tmp_path: Path
) -> None:
    """The daemon logs to a terminal that hangs up (SIGHUP, then EIO on every write);
    SIGTERM still ends it, threads included, within the grace period."""
    numbers = [f"+1555000001{n}" for n in range(10)]  # live, answered after ~1 s
    centre = LocalCentre(
        centre_options(broker_url, tmp_path, agents=2, numbers=numbers, start_engine=False)
    )
    master, slave = os.openpty()
    proc: subprocess.Popen[bytes] | None = None
    try:
        await centre.start()
        assert centre.sim is not None
        sim = centre.sim
        config = write_config(centre, tmp_path)
        proc = _daemon_on_terminal(config, slave)
        os.close(slave)
        await retry(lambda: centre.control("start"), 30)
        await until(lambda: sim.active_calls, 20, "a call up")
        await asyncio.sleep(2)  # answered and with its agent
        os.close(master)  # the terminal is gone
        proc.send_signal(signal.SIGHUP)
        await asyncio.sleep(1)
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(proc.wait, 30)
        took = time.monotonic() - started
        proc = None
    finally:
        if proc is not None:
            proc.kill()
            proc.wait(10)
        await centre.stop()
    assert code == 0
    assert took <= 5 + 5, took  # shutdown_grace_s = 5, then the BYEs and thread joins


async def test_store_on_a_full_disk_loses_no_call_and_resumes_by_itself(
    broker_url: str, tmp_path: Path
) -> None:
    """The store sits on a small tmpfs that fills mid-campaign: calls up carry on (the
    pacer hears them first), nothing new is dialled though an agent is free, and
    dialling resumes within 10 s of space returning; no agent is left reserved."""
    fs = tmp_path / "fs"
    fs.mkdir()
    problem = _mount_tmpfs(fs, "6m")
    if problem:
        pytest.skip(f"cannot mount a tmpfs here: {problem}")
    filler = fs / "filler"
    centre = LocalCentre(
        centre_options(
            broker_url,
            tmp_path / "c",
            store_dir=fs,  # only the store on the disk that fills: the callee's is not ours
            agents=3,
            contacts=150,
            campaign_overrides=ANY_HOUR,
        )
    )
    try:
        await centre.start()
        await centre.control("start")
        assert centre.sim is not None and centre.engine is not None
        sim, engine = centre.sim, centre.engine
        await until(lambda: len(sim.records) >= 3, 20, "the first dials")
        with filler.open("wb") as f, contextlib.suppress(OSError):  # fill the disk
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        await until(lambda: not engine.writes.healthy, 30, "the store to refuse writes")
        pacer = engine.runners["demo"].pacer
        # An agent must be free while the disk is full, or "nothing new is dialled"
        # and "dialling resumes" would prove nothing (all three may be on ringing calls).
        await until(lambda: pacer.counters(0.0).agents_free > 0, 45, "a free agent")
        dialled_full = len(sim.records)
        await asyncio.sleep(3)
        assert len(sim.records) == dialled_full, "dialled with the store refusing writes"
        filler.unlink()
        freed = time.monotonic()
        await until(lambda: len(sim.records) > dialled_full + 0, 10, "dialling to resume")
        resumed_s = time.monotonic() - freed
        await centre.control("pause")
        await centre.drain(25, None)
        await until(lambda: not engine.runners["demo"].pacer.reservations(), 10, "no agent held")
    finally:
        await centre.stop()
        _unmount(fs)
    s = sim.summary().as_dict()
    assert s["silent"] == 0 and s["abandoned_silent"] == 0, s
    assert resumed_s <= 10


def _daemon_on_terminal(config: Path, tty: int) -> subprocess.Popen[bytes]:
    """`dialguard run` with a pseudo-terminal as its only output, in its own session."""
    return subprocess.Popen(
        [sys.executable, "-m", "dialguard", "run", "--config", str(config)],
        stdin=tty,
        stdout=tty,
        stderr=tty,
        start_new_session=True,
        env={**os.environ, "DIALGUARD_ENGINE__USE_UVLOOP": "false"},
    )


def _mount_tmpfs(where: Path, size: str) -> str:
    """Mount a tmpfs of ``size``; the problem if that is not allowed here, else ''."""
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True
    )
    return "" if r.returncode == 0 else r.stderr.decode(errors="replace").strip()


def _unmount(where: Path) -> None:
    subprocess.run(["umount", "-l", str(where)], check=False)


async def test_a_503_storm_on_the_trunk_costs_no_contact_an_attempt(
    broker_url: str, tmp_path: Path
) -> None:
    """The trunk sheds load (503, Retry-After 2) for 8 s: new dials pause instead of
    spending the contacts' attempts, and resume by themselves after the storm."""
    centre = LocalCentre(
        centre_options(broker_url, tmp_path, agents=3, contacts=60, campaign_overrides=ANY_HOUR)
    )
    try:
        await centre.start()
        await centre.control("start")
        assert centre.sim is not None and centre.engine is not None
        sim, engine = centre.sim, centre.engine
        await until(lambda: len(sim.records) >= 3, 20, "the first dials")
        sim.overload(True, retry_after=2)
        await until(lambda: engine.trunk_health.view().state != "closed", 30, "the pause")
        refused_at_pause = sim.overload_refusals
        await asyncio.sleep(8)
        # paused: at most a probe every few seconds, not a dial per free agent
        assert sim.overload_refusals - refused_at_pause <= 3, sim.overload_refusals
        sim.overload(False)
        calls_after_storm = len(sim.records)
        await until(lambda: len(sim.records) > calls_after_storm, 30, "dialling to resume")
        await until(lambda: engine.trunk_health.view().state == "closed", 10, "closed again")
        await centre.control("pause")
        await centre.drain(25, None)
    finally:
        await centre.stop()
    async with await Store.open(centre.store_path) as store:
        attempts = await store.attempts.of_campaign("demo", 0, time.time() + 60)
        refused = [a for a in attempts if a.trunk_fault]
        assert refused and all(a.sip_code == 503 for a in refused)
        for a in refused:
            contact = await store.contacts.get(a.contact_id or 0)
            assert contact is not None
            charged = [
                b
                for b in attempts
                if b.contact_id == a.contact_id and not b.trunk_fault and b.outcome is not None
            ]
            assert contact.attempts == len(charged), (contact, charged)
