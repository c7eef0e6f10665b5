"""dialguard's own sippy adapter against the simulator: the pair the engine's
integration tests and the demo use. Checks both sides agree on what happened."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from dialguard.sip.api import TrunkEvent, TrunkEventKind
from dialguard.sip.prompt import default_prompt
from dialguard.sip.simulator import Profile
from dialguard.sip.simulator.profile import fixed
from tests.sip.simulator.conftest import TrunkFactory, poll_until

adapter = pytest.importorskip("dialguard.sip.adapter")

PROFILE = Profile(
    talk_s=fixed(0.5),
    patience_s=fixed(1.0),
    message_hangup_s=fixed(0.3),
    opt_out_after_s=fixed(0.2),
    agent_answer_s=fixed(0.1),
)
CALLER = "+441632960000"


async def _events(call: Any) -> list[TrunkEvent]:
    return [ev async for ev in call.events()]


async def test_adapter_calls_meet_simulated_callees(make_trunk: TrunkFactory) -> None:
    sim = await make_trunk(PROFILE)
    trunk = adapter.SippyTrunk("127.0.0.1", sim.port, rtp_ports=(43200, 43299))
    await trunk.start()
    try:
        transfer = await trunk.originate("+15550000003", CALLER, 20)
        busy = await trunk.originate("+15550002003", CALLER, 20)
        optout = await trunk.originate("+15550007003", CALLER, 20)
        early = await trunk.originate("+15550009003", CALLER, 20)

        async def connect(call: Any) -> tuple[list[TrunkEvent], TrunkEvent]:
            seen: list[TrunkEvent] = []
            result = None
            async for ev in call.events():
                seen.append(ev)
                if ev.kind is TrunkEventKind.ANSWERED:
                    result = await call.transfer(f"sip:agent1@127.0.0.1:{sim.port}")
                    await call.hangup()
            assert result is not None
            return seen, result

        playing: list[asyncio.Task[None]] = []

        async def message(call: Any) -> list[TrunkEvent]:
            seen: list[TrunkEvent] = []
            async for ev in call.events():
                seen.append(ev)
                if ev.kind is TrunkEventKind.ANSWERED:
                    playing.append(asyncio.create_task(call.play(default_prompt())))
            return seen

        async with asyncio.timeout(15):
            (t_events, t_result), b_events, o_events, (e_events, _) = await asyncio.gather(
                connect(transfer), _events(busy), message(optout), connect(early)
            )
        assert await sim.wait_idle(3)
    finally:
        await trunk.stop()

    assert t_result.kind is TrunkEventKind.TRANSFERRED
    assert [e.kind for e in t_events][-1] is TrunkEventKind.ENDED
    assert [e.kind for e in b_events][-1] is TrunkEventKind.FAILED and b_events[-1].code == 486
    assert any(e.kind is TrunkEventKind.DTMF and e.digit == "9" for e in o_events)
    assert o_events[-1].kind is TrunkEventKind.ENDED and o_events[-1].by == "remote"

    by_number = {r.number: r for r in sim.records}
    t = by_number["+15550000003"]
    assert t.transfer_code == 200 and not t.abandoned
    assert t.answer_to_agent_s is not None and t.answer_to_agent_s < 2
    assert by_number["+15550002003"].final_code == 486
    o = by_number["+15550007003"]
    assert o.opted_out and o.abandoned_kind == "message"
    assert o.answer_to_audio_s is not None and o.answer_to_audio_s < 0.5
    s = sim.summary()
    early_kinds = [e.kind for e in e_events]
    assert TrunkEventKind.EARLY_MEDIA in early_kinds
    assert early_kinds.index(TrunkEventKind.EARLY_MEDIA) < early_kinds.index(
        TrunkEventKind.ANSWERED
    )
    assert by_number["+15550009003"].early_media
    assert (s.attempts, s.connected, s.abandoned_silent, s.in_progress) == (4, 2, 0, 0)


async def test_adapter_answers_the_simulators_digest_challenge(make_trunk: TrunkFactory) -> None:
    sim = await make_trunk(PROFILE, auth=("alice", "s3cret"))
    good = adapter.SippyTrunk(
        "127.0.0.1", sim.port, username="alice", password="s3cret", media=False
    )
    bad = adapter.SippyTrunk("127.0.0.1", sim.port, username="alice", password="guess", media=False)
    await good.start()
    await bad.start()
    try:
        async with asyncio.timeout(10):
            ok = await _events(await good.originate("+15550002002", CALLER, 20))
            refused = await _events(await bad.originate("+15550002002", CALLER, 20))
    finally:
        await good.stop()
        await bad.stop()
    assert ok[-1].kind is TrunkEventKind.FAILED and ok[-1].code == 486  # got past auth
    assert refused[-1].kind is TrunkEventKind.FAILED and refused[-1].code in (401, 403)
    assert sim.challenges == 2 and sim.auth_failures == 1
    assert [r.final_code for r in sim.records] == [486]  # the refused call never began


async def test_calls_get_through_a_path_that_loses_sip_datagrams(
    make_trunk: TrunkFactory,
) -> None:
    """``sip_loss`` drops 5 % of datagrams both ways; the adapter's and the simulator's
    retransmissions (RFC 3261 timers A/E, 2xx retransmission until ACK) carry every
    call through, and the callee's records still agree with ours."""
    lossy = PROFILE.model_copy(update={"sip_loss": 0.05})
    sim = await make_trunk(lossy, seed=3)
    trunk = adapter.SippyTrunk("127.0.0.1", sim.port, media=False)
    await trunk.start()
    numbers = [f"+1555000{c}{n:02d}1" for n in range(10) for c in "02"]  # live, busy
    try:
        async with asyncio.timeout(120):  # a lost final can cost Timer F (32 s)
            calls = [await trunk.originate(n, CALLER, 20) for n in numbers]
            finals = await asyncio.gather(*(_last(c) for c in calls))
    finally:
        await trunk.stop()
    assert sim.lost_datagrams > 0
    by_number = dict(zip(numbers, finals, strict=True))
    for n, ev in by_number.items():
        if n[8] == "0":
            assert ev.kind is TrunkEventKind.ENDED, (n, ev)
        else:
            assert ev.kind is TrunkEventKind.FAILED and ev.code == 486, (n, ev)
    await poll_until(lambda: len(sim.records) == len(numbers), 40)
    assert sorted(r.final_code or 0 for r in sim.records) == [200] * 10 + [486] * 10


async def _last(call: Any) -> TrunkEvent:
    """Hang up once answered; the call's final event."""
    last = None
    async for ev in call.events():
        last = ev
        if ev.kind is TrunkEventKind.ANSWERED:
            await call.hangup()
    assert last is not None
    return last
