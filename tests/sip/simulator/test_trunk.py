"""SimTrunk driven by SIPp as the dialler (UAC) on loopback: what crossed the wire is
checked by SIPp's scenario (exit 0 only if every message matched), what the callee went
through by the simulator's records and summary."""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path

import pytest

from dialguard.sip.prompt import default_prompt
from dialguard.sip.rtp import RtpEndpoint
from dialguard.sip.simulator import Forced, Profile, SimTrunk
from dialguard.sip.simulator.profile import fixed
from tests.sip.simulator.conftest import RunSipp, TrunkFactory, poll_until

pytestmark = pytest.mark.sipp

QUICK = Profile(
    name="quick",
    patience_s=fixed(0.6),
    talk_s=fixed(0.4),
    agent_answer_s=fixed(0.1),
    message_hangup_s=fixed(0.3),
    opt_out_after_s=fixed(0.2),
)


async def test_answer_then_dialler_bye(make_trunk: TrunkFactory, run_sipp: RunSipp) -> None:
    trunk = await make_trunk(QUICK)
    # +1555000 0 008: live, answers after 0.8 s of ringing; SIPp hangs up 0.3 s later
    (await run_sipp(trunk.port, "uac_answer_bye.xml", "+15550000008", "-d", "300")).check()
    assert await trunk.wait_idle(2)
    [r] = trunk.records
    assert (r.number, r.outcome, r.forced) == ("+15550000008", "live", True)
    assert r.ring_start_s is not None and r.ring_start_s < 0.1
    assert r.answer_s is not None and 0.75 <= r.answer_s - r.ring_start_s <= 1.0
    assert (r.final, r.final_code, r.ended_by) == ("answered", 200, "caller")
    assert r.end_s is not None and 0.25 <= r.end_s - r.answer_s <= 0.6
    # nobody came and nothing was played: a silent, abandoned call
    assert r.silent and r.abandoned and r.abandoned_kind == "silent"
    s = trunk.summary()
    assert (s.attempts, s.live_answers, s.connected, s.abandoned, s.abandoned_silent) == (
        1,
        1,
        0,
        1,
        1,
    )


@pytest.mark.parametrize(
    ("number", "code", "final"),
    [
        ("+15550002003", "486", "busy"),
        ("+15550004003", "404", "not_found"),
        ("+15550003003", "480", "unavailable"),
        ("+15550006003", "503", "unavailable"),
        ("+15550008003", "603", "declined"),
    ],
)
async def test_refusals_reach_the_wire_and_the_record(
    make_trunk: TrunkFactory, run_sipp: RunSipp, number: str, code: str, final: str
) -> None:
    trunk = await make_trunk(QUICK)
    run = await run_sipp(trunk.port, "uac_reject.xml.in", number, subst={"code": code})
    run.check()  # SIPp saw exactly this final status and its ACK was accepted
    assert await trunk.wait_idle(1)
    [r] = trunk.records
    assert (r.final_code, r.final, r.answer_s) == (int(code), final, None)
    assert r.end_s is not None and 0.28 <= r.end_s <= 0.6  # RRR=003: 0.3 s
    s = trunk.summary()
    assert s.attempts == 1 and s.live_answers == 0 and s.abandoned == 0
    counts = {"486": s.busy, "404": s.not_found, "480": s.unavailable, "503": s.unavailable}
    assert counts.get(code, s.declined) == 1


async def test_cancel_records_ring_time_and_flags_short_ring(
    make_trunk: TrunkFactory, run_sipp: RunSipp
) -> None:
    trunk = await make_trunk(QUICK)
    # ring until cancelled; SIPp cancels after 1.2 s of ringing: a dialler breaking the
    # 15-second minimum, which is what the record must show
    (await run_sipp(trunk.port, "uac_cancel.xml", "+15550005", "-d", "1200")).check()
    assert await trunk.wait_idle(1)
    [r] = trunk.records
    assert (r.outcome, r.final, r.final_code) == ("no_answer", "cancelled", 487)
    assert r.ring_before_cancel_s is not None and 1.15 <= r.ring_before_cancel_s <= 1.5
    s = trunk.summary()
    assert s.cancelled == 1 and s.cancelled_before_15s == 1
    assert s.min_ring_before_cancel_s == r.ring_before_cancel_s


async def test_refer_to_available_agent_connects_then_talk_ends(
    make_trunk: TrunkFactory, run_sipp: RunSipp
) -> None:
    connected: list[tuple[str, str]] = []
    released: list[str] = []
    trunk = await make_trunk(
        QUICK.model_copy(update={"agents": "available"}),
        available_agents=["agent1"],
        on_agent_connected=lambda a, c: connected.append((a, c)),
        on_agent_released=lambda a, c: released.append(a),
    )
    run = await run_sipp(
        trunk.port,
        "uac_refer.xml.in",
        "+15550000002",
        subst={"agent": "agent1", "notify": "200"},
    )
    run.check()  # 202, NOTIFY 100 then NOTIFY 200 terminated: checked by SIPp
    assert await trunk.wait_idle(2)
    [r] = trunk.records
    assert r.transfer_target is not None and r.transfer_target.startswith("sip:agent1@")
    assert r.transfer_code == 200
    # SIPp sends REFER 0.3 s after ACK, the agent answers 0.1 s later
    assert r.answer_to_refer_s is not None and 0.28 <= r.answer_to_refer_s <= 0.5
    assert r.answer_to_agent_s is not None and 0.38 <= r.answer_to_agent_s <= 0.65
    assert not r.abandoned and not r.silent
    assert r.talk_s == 0.4 and r.final == "answered" and r.ended_by == "callee"
    assert [a for a, _ in connected] == ["agent1"] and released == ["agent1"]
    s = trunk.summary()
    assert s.connected == 1 and s.abandoned == 0
    assert s.max_answer_to_agent_s == r.answer_to_agent_s


async def test_refer_to_unavailable_agent_fails_and_call_is_abandoned(
    make_trunk: TrunkFactory, run_sipp: RunSipp
) -> None:
    trunk = await make_trunk(QUICK.model_copy(update={"agents": "available"}))
    trunk.set_agent_available("agent7")
    trunk.set_agent_available("agent7", False)
    run = await run_sipp(
        trunk.port, "uac_refer.xml.in", "+15550000002", subst={"agent": "agent7", "notify": "480"}
    )
    run.check()
    assert await trunk.wait_idle(1)
    [r] = trunk.records
    assert r.transfer_code == 480 and r.answer_to_agent_s is None
    assert r.abandoned and r.abandoned_kind == "silent"
    assert trunk.summary().transfers_failed == 1


async def test_silent_call_callee_hangs_up_after_patience(
    make_trunk: TrunkFactory, run_sipp: RunSipp
) -> None:
    trunk = await make_trunk(QUICK)
    run = await run_sipp(
        trunk.port, "uac_answer_wait_bye.xml", "+15550000001", "-key", "rtp_port", "9"
    )
    run.check()  # SIPp received the callee's BYE and answered it
    [r] = trunk.records
    assert r.ended_by == "callee" and r.abandoned_kind == "silent"
    assert r.end_s is not None and r.answer_s is not None
    assert 0.55 <= r.end_s - r.answer_s <= 0.9  # patience 0.6 s
    assert "hung up: nobody there" in r.notes


async def test_message_heard_and_opt_out_key_pressed(
    make_trunk: TrunkFactory, run_sipp: RunSipp
) -> None:
    """The dialler's side (here: the test) plays the default prompt; the callee, a
    +1555000 7 number, hears it, presses 9 and hangs up when the message stops."""
    trunk = await make_trunk(QUICK)
    ours = await RtpEndpoint.open("127.0.0.1", (43000, 43100))
    try:
        sipp_task = asyncio.create_task(
            run_sipp(
                trunk.port,
                "uac_answer_wait_bye.xml",
                "+15550007002",
                "-key",
                "rtp_port",
                str(ours.port),
            )
        )
        await poll_until(
            lambda: any(c.rtp is not None and c.t_answer for c in trunk.active_calls.values())
        )
        [call] = trunk.active_calls.values()
        assert call.rtp is not None
        ours.set_remote("127.0.0.1", call.rtp.port)
        await asyncio.sleep(0.1)  # 0.1 s of silence after answer, then the message
        await ours.play(default_prompt())
        (await sipp_task).check()
        digit = await asyncio.wait_for(ours.dtmf.get(), 1)
    finally:
        await ours.close()
    assert digit.digit == "9"
    [r] = trunk.records
    assert r.opted_out and r.dtmf_sent_s is not None
    assert r.answer_to_audio_s is not None and 0.08 <= r.answer_to_audio_s <= 0.4
    assert r.abandoned and r.abandoned_kind == "message" and not r.silent
    assert r.ended_by == "callee"
    s = trunk.summary()
    assert s.opted_out == 1 and s.abandoned_message == 1 and s.abandoned_silent == 0
    assert s.max_answer_to_audio_s == r.answer_to_audio_s


async def test_number_table_forces_outcome_and_records_file(
    make_trunk: TrunkFactory, run_sipp: RunSipp, tmp_path: Path
) -> None:
    profile = QUICK.model_copy(
        update={
            "shares": QUICK.shares.model_copy(update={"busy": 1.0}),  # everyone else: busy
            "numbers": {
                "+442079460001": Forced(outcome="not_found", ring_s=0.2),
                "+4420794600*": Forced(outcome="live", ring_s=0.2),
            },
        }
    )
    records = tmp_path / "calls.jsonl"
    trunk = await make_trunk(profile, records_path=records)
    (
        await run_sipp(trunk.port, "uac_reject.xml.in", "+442079460001", subst={"code": "404"})
    ).check()
    (await run_sipp(trunk.port, "uac_answer_bye.xml", "+442079460099", "-d", "100")).check()
    (await run_sipp(trunk.port, "uac_reject.xml.in", "+33123456789", subst={"code": "486"})).check()
    assert await trunk.wait_idle(1)
    assert [r.outcome for r in trunk.records] == ["not_found", "live", "busy"]
    assert [r.forced for r in trunk.records] == [True, True, False]
    lines = [json.loads(line) for line in records.read_text().splitlines()]
    assert [d["call_id"] for d in lines] == [r.call_id for r in trunk.records]
    assert lines[1]["final"] == "answered" and lines[0]["final_code"] == 404


async def test_stop_ends_open_calls_on_the_wire(
    make_trunk: TrunkFactory, run_sipp: RunSipp
) -> None:
    trunk = await make_trunk(QUICK.model_copy(update={"patience_s": fixed(30)}))
    task = asyncio.create_task(
        run_sipp(trunk.port, "uac_answer_wait_bye.xml", "+15550000001", "-key", "rtp_port", "9")
    )
    await poll_until(lambda: bool(trunk.records) and trunk.records[0].answer_s is not None)
    await asyncio.sleep(0.05)
    await trunk.stop()
    (await task).check()  # SIPp got our BYE
    [r] = trunk.records
    assert (r.final, r.ended_by) == ("stopped", "trunk")


async def test_same_seed_same_outcomes(make_trunk: TrunkFactory, run_sipp: RunSipp) -> None:
    """Outcomes are drawn per number and attempt from the seed: replayable."""
    profile = Profile(
        shares=Profile().shares.model_copy(update={"busy": 0.5, "not_found": 0.5}),
        busy_after_s=fixed(0),
        not_found_after_s=fixed(0),
        post_dial_delay_s=fixed(0.05),
    )
    outcomes = []
    for _ in range(2):
        trunk: SimTrunk = await make_trunk(profile, seed=11)
        for n in ("+441632960001", "+441632960002"):
            code = "486" if profile.sample_outcome(_rng(11, n)) == "busy" else "404"
            (await run_sipp(trunk.port, "uac_reject.xml.in", n, subst={"code": code})).check()
        outcomes.append([r.outcome for r in trunk.records])
    assert outcomes[0] == outcomes[1]


def _rng(seed: int, number: str, n: int = 0) -> random.Random:
    """The generator the trunk uses for a number's n-th call (see profile.py)."""
    return random.Random(f"{seed}:{number}:{n}")


@pytest.mark.slow
async def test_many_concurrent_calls(make_trunk: TrunkFactory, run_sipp: RunSipp) -> None:
    """100 calls at 50/s, up to 100 at once: every one answered, BYEd and recorded."""
    trunk = await make_trunk(QUICK)
    run = await run_sipp(
        trunk.port,
        "uac_answer_bye.xml",
        "+15550000010",
        "-d",
        "500",
        "-r",
        "50",
        "-l",
        "100",
        calls=100,
    )
    run.check()
    assert await trunk.wait_idle(2)
    s = trunk.summary()
    assert s.attempts == 100 and s.live_answers == 100 and s.in_progress == 0
    assert trunk.malformed == 0
