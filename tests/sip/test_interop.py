"""Interop faults seen against real peers (issue 10), each replayed by a SIPp peer.

Each test plays what a carrier, a forking proxy or an old UA did on the wire and checks
both what the adapter reported and what SIPp saw (its exit code is 0 only if every
message came as the scenario expects).
"""

from __future__ import annotations

import asyncio
import re
import socket
import time
from collections.abc import Callable
from typing import Any

import pytest

from dialguard.sip import MIN_RING_S, SippyTrunk, TrunkEventKind
from tests.sip.conftest import StartSipp
from tests.sip.test_adapter import CALLER, NUMBER, events_until, kinds, rest_of, sipp_result

pytestmark = pytest.mark.sipp

K = TrunkEventKind


async def test_forked_second_200_is_acked_and_byed(
    sipp: StartSipp, trunk_for: Callable[..., Any]
) -> None:
    """RFC 3261 §13.2.2.4: two callees answer; the second is ACKed (each copy of its
    200) and BYEd, recorded on the call; the first stays the call."""
    run = sipp("fork_2xx")
    trunk = await trunk_for(run)
    call = await trunk.originate(NUMBER, CALLER, ring_timeout=30)
    events = await events_until(call, K.FORK_ANSWERED)
    assert kinds(events) == [K.RINGING, K.ANSWERED, K.FORK_ANSWERED]
    assert call.state == "answered"
    (extra,) = call.extra_answers
    assert extra.code == 200 and "forkB" in (extra.reason or "")
    await asyncio.sleep(0.5)  # SIPp sends B's 200 once more and waits for its ACK
    await call.hangup()
    assert kinds(await rest_of(call)) == [K.ENDED]
    assert await sipp_result(run) == 0, run.explain()
    acks = run.received("ACK")
    assert [a.header("To").rsplit("tag=", 1)[1] for a in acks] == ["forkA", "forkB", "forkB"]
    bye_b, bye_a = run.received("BYE")
    assert "tag=forkB" in bye_b.header("To") and "tag=forkA" in bye_a.header("To")
    (invite,) = run.received("INVITE")
    assert bye_b.header("CSeq").split()[0] == str(int(invite.header("CSeq").split()[0]) + 1)
    assert bye_b.header("From") == invite.header("From")


async def test_200_without_to_tag_is_an_answered_call(
    sipp: StartSipp, trunk_for: Callable[..., Any]
) -> None:
    """RFC 3261 §12.1.2: a 200 with no To-tag is accepted (null tag), not hung up as a
    502 failure: a person answered."""
    run = sipp("answer_no_to_tag")
    trunk = await trunk_for(run)
    call = await trunk.originate(NUMBER, CALLER, ring_timeout=30)
    events = await events_until(call, K.ANSWERED)
    assert kinds(events) == [K.ANSWERED]
    assert "no To-tag" in (events[0].reason or "")
    assert call.state == "answered"
    await call.hangup()
    assert kinds(await rest_of(call)) == [K.ENDED]
    assert await sipp_result(run) == 0, run.explain()
    (ack,) = run.received("ACK")
    (bye,) = run.received("BYE")
    assert "tag=" not in ack.header("To") and "tag=" not in bye.header("To")


@pytest.mark.slow
async def test_183_without_sdp_is_progress_and_the_floor_starts_at_the_180(
    sipp: StartSipp, trunk_for: Callable[..., Any]
) -> None:
    """183 with no body at once, 180 two seconds later, ring_timeout 2 s: the CANCEL may
    not go out before 15 s after the 180 (it went 13 s after it, timed from the 183);
    the 180 is reported, not swallowed as a repeat of 'ringing'."""
    run = sipp("progress_then_ring", timeout_s=40)
    trunk = await trunk_for(run)
    call = await trunk.originate(NUMBER, CALLER, ring_timeout=2)
    events = await rest_of(call, within=30)
    assert kinds(events) == [K.PROGRESS, K.RINGING, K.FAILED]
    assert events[0].code == 183 and events[1].code == 180 and events[-1].code == 487
    assert call.ring_started_at == events[1].t
    assert await sipp_result(run) == 0, run.explain()
    (progress,) = run.sent_status(183)
    (ringing,) = run.sent_status(180)
    (cancel,) = run.received("CANCEL")
    assert ringing.t - progress.t >= 1.9
    assert MIN_RING_S <= cancel.t - ringing.t <= MIN_RING_S + 1.0, cancel.t - ringing.t


async def test_challenged_refer_and_bye_are_retried_and_ended_waits_for_the_answer(
    sipp: StartSipp, trunk_for: Callable[..., Any]
) -> None:
    """REFER and BYE challenged 401 are sent again with credentials
    (SIPp checks the digests); ENDED comes when the BYE is answered (1 s after it)."""
    run = sipp("in_dialog_auth", keys={"user": "dialer", "password": "s3cret"})
    trunk = await trunk_for(run, username="dialer", password="s3cret")
    call = await trunk.originate(NUMBER, CALLER, ring_timeout=30)
    await events_until(call, K.ANSWERED)
    result = await call.transfer("sip:agent7@127.0.0.1:5090")
    assert result.kind is K.TRANSFERRED and result.code == 200
    hung_up_at = time.monotonic()
    await call.hangup()
    (ended,) = [e for e in call.history if e.kind is K.ENDED]
    assert ended.code == 200 and ended.by == "local"
    assert time.monotonic() - hung_up_at >= 0.9  # hangup() returned once it was answered
    assert await sipp_result(run) == 0, run.explain()
    refer1, refer2 = run.received("REFER")
    # the authenticated BYE is retransmitted (timer E) while SIPp waits: one per branch
    first_of: dict[str, Any] = {}
    for m in run.received("BYE"):
        first_of.setdefault(m.branch, m)
    bye1, bye2 = first_of.values()
    assert not refer1.header("Authorization") and not bye1.header("Authorization")
    assert 'username="dialer"' in refer2.header("Authorization")
    assert 'username="dialer"' in bye2.header("Authorization")
    assert refer2.header("Refer-To") == refer1.header("Refer-To")
    assert int(bye2.header("CSeq").split()[0]) == int(bye1.header("CSeq").split()[0]) + 1
    (bye_ok,) = [m for m in run.sent_status(200) if m.cseq_method == "BYE"]
    # the event's time is the 200's arrival, not the BYE's departure
    assert bye_ok.t - bye2.t >= 0.95


async def test_out_of_dialog_requests_are_answered(sipp: StartSipp) -> None:
    """OPTIONS 200 (with Allow), stray INVITE 403, BYE of an unknown dialog 481."""
    trunk = SippyTrunk("127.0.0.1", 5060)
    await trunk.start()
    try:
        run = sipp("out_of_dialog", extra=[f"127.0.0.1:{trunk.local_port}"], timeout_s=10)
        assert await sipp_result(run) == 0, run.explain()
    finally:
        await trunk.stop()
    answers = {m.cseq_method: m for m in run.messages() if m.direction == "received"}
    assert answers["OPTIONS"].status == 200 and "OPTIONS" in answers["OPTIONS"].header("Allow")
    assert answers["INVITE"].status == 403 and answers["BYE"].status == 481
    assert answers["OPTIONS"].header("Server").startswith("dialguard/")


JUNK = [
    b"SIP/2.0 999999 Bad\r\nVia: x\r\nFrom: <sip:+441632960123@x>\r\n\r\n",
    b"SIP/2.0 200 OK\r\nTo: <sip:+441632960123@h>\r\nCall-ID\r\n\r\n" + b"x" * 20,
    b"INVITE sip:+441632960123@h SIP/2.0\r\nVia: garbage\r\nFrom: +441632960123\r\n\r\n",
    b"\xff\xfe\x00junk +441632960123 " * 3,
    b"NOTSIP +441632960123 " * 4,
]


async def test_junk_datagrams_are_logged_masked_not_dumped_raw(
    capfd: pytest.CaptureFixture[str],
) -> None:
    """sippy printed a traceback and the raw datagram (numbers unmasked) for each junk
    datagram; they go through dialguard's masked log now, and the socket still works."""
    trunk = SippyTrunk("127.0.0.1", 5060)
    await trunk.start()
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            via = f"SIP/2.0/UDP 127.0.0.1:{s.getsockname()[1]};branch=z9hG4bKj1".encode()
            for _ in range(40):
                for junk in JUNK:
                    s.sendto(junk, ("127.0.0.1", trunk.local_port))
            await asyncio.sleep(0.5)
            s.settimeout(2)  # still answering: an OPTIONS gets its 200
            s.sendto(
                b"OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: "
                + via
                + b"\r\nFrom: <sip:p@127.0.0.1>;tag=1\r\nTo: <sip:x@127.0.0.1>\r\nCall-ID: j1\r\n"
                b"CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
                ("127.0.0.1", trunk.local_port),
            )
            reply = await asyncio.to_thread(s.recv, 2048)
    finally:
        await trunk.stop()
    assert reply.startswith(b"SIP/2.0 200")
    out, err = capfd.readouterr()
    assert "441632960123" not in out + err
    assert "Traceback" not in out + err
    assert "sip_datagram_unparsable" in out + err


async def test_hold_reinvite_is_answered_recvonly_with_the_offered_codecs(
    sipp: StartSipp, trunk_for: Callable[..., Any]
) -> None:
    """RFC 3264 §6.1: a hold (sendonly) offering 8 and 96 is answered recvonly with
    8 and 96, not with a copy of our first offer (sendrecv, 0 8 101)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as media:
        media.bind(("127.0.0.1", 0))
        run = sipp("reinvite_hold", keys={"rtp_port": str(media.getsockname()[1])})
        trunk = await trunk_for(run)
        call = await trunk.originate(NUMBER, CALLER, ring_timeout=30)
        await events_until(call, K.ANSWERED)
        await asyncio.sleep(1.0)
        await call.hangup()
    assert await sipp_result(run) == 0, run.explain()
    (invite,) = run.received("INVITE")
    (answer,) = [m for m in run.messages() if m.direction == "received" and m.status == 200]
    assert "m=audio" in answer.body and " RTP/AVP 8 96\n" in answer.body.replace("\r", "")
    assert "a=recvonly" in answer.body and "a=sendrecv" not in answer.body
    assert "a=rtpmap:96 telephone-event/8000" in answer.body
    ours = re.search(r"^o=\S+ (\d+) (\d+)", invite.body, re.M)
    theirs = re.search(r"^o=\S+ (\d+) (\d+)", answer.body, re.M)
    assert ours and theirs and ours.group(1) == theirs.group(1)
    assert int(theirs.group(2)) == int(ours.group(2)) + 1  # RFC 3264 §8: next version


async def test_late_offer_reinvite_takes_the_answer_from_the_ack(
    sipp: StartSipp, trunk_for: Callable[..., Any]
) -> None:
    """A re-INVITE without SDP gets our offer in the 200; the ACK's answer moves our
    RTP (it went to 0.0.0.0 for the rest of the call)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as media:
        media.bind(("127.0.0.1", 0))
        new_port = media.getsockname()[1]
        run = sipp("reinvite_late_offer", keys={"rtp_port": str(new_port)})
        trunk = await trunk_for(run)
        call = await trunk.originate(NUMBER, CALLER, ring_timeout=30)
        await events_until(call, K.ANSWERED)
        await asyncio.sleep(1.0)
        assert call.rtp is not None and call.rtp.remote == ("127.0.0.1", new_port)
        assert call.state == "answered"
        await call.hangup()
    assert await sipp_result(run) == 0, run.explain()
    (invite,) = run.received("INVITE")
    (ok,) = [m for m in run.messages() if m.direction == "received" and m.status == 200]
    assert "m=audio" in ok.body and "a=sendrecv" in ok.body
    assert ok.header("Contact")
    offered = re.search(r"m=audio (\d+)", invite.body)
    assert offered and f"m=audio {offered.group(1)} " in ok.body  # our own media port


async def test_registration_sends_expires_refreshes_early_and_unregisters(
    sipp: StartSipp,
) -> None:
    """Expires on the wire, User-Agent dialguard/<version>, refresh at half the granted
    4 s (not at expiry), and REGISTER Expires: 0 on stop."""
    run = sipp("register_refresh", timeout_s=20)
    trunk = SippyTrunk("127.0.0.1", run.port, username="dialer", register=True)
    await trunk.start()
    try:
        assert trunk.registered
        await asyncio.sleep(2.6)  # the refresh is due at 2 s
    finally:
        await trunk.stop()
    assert await sipp_result(run) == 0, run.explain()
    first, refresh, gone = run.received("REGISTER")
    assert first.header("Expires") == "300" and refresh.header("Expires") == "300"
    assert first.header("User-Agent").startswith("dialguard/")
    assert 1.8 <= refresh.t - first.t <= 2.4, refresh.t - first.t
    assert gone.header("Expires") == "0"


async def test_503_retry_after_is_on_the_failure(
    sipp: StartSipp, trunk_for: Callable[..., Any]
) -> None:
    """The trunk's Retry-After reaches the attempt's outcome (for the pacer to honour)."""
    run = sipp("fail_503_retry_after")
    trunk = await trunk_for(run)
    call = await trunk.originate(NUMBER, CALLER, ring_timeout=30)
    (failed,) = await rest_of(call)
    assert failed.kind is K.FAILED and failed.code == 503 and failed.retry_after == 120
    assert await sipp_result(run) == 0, run.explain()


async def test_a_redirect_is_not_followed(sipp: StartSipp, trunk_for: Callable[..., Any]) -> None:
    """3xx: dialguard never dials the Contact it is redirected to — that number was never
    checked against the DNC lists, the calling window or the frequency caps. The call
    fails with the 3xx code (recorded on the attempt), and nothing else is sent."""
    run = sipp("redirect_302")
    trunk = await trunk_for(run)
    call = await trunk.originate(NUMBER, CALLER, ring_timeout=30)
    (failed,) = await rest_of(call)
    assert failed.kind is K.FAILED and failed.code == 302
    assert await sipp_result(run) == 0, run.explain()


async def test_an_answer_to_a_call_placed_before_a_restart_is_acked_byed_and_reported(
    sipp: StartSipp,
) -> None:
    """The daemon was killed while a call rang; the new one, on the same SIP port, gets
    the callee's 200 OK for a Call-ID it never sent. It ACKs (each copy) and BYEs at
    once (else the callee hears silence for the 32 s of 2xx retransmissions) and tells
    the engine, which records the attempt as abandoned (engine.py)."""
    from tests.sip.sipp import free_udp_port

    sipp_port, ours = free_udp_port(), free_udp_port()
    trunk = SippyTrunk("127.0.0.1", sipp_port, local_port=ours, media=False)
    told: list[str] = []
    trunk.on_orphan_answer(told.append)
    await trunk.start()
    try:
        run = sipp(
            "orphan_2xx",
            port=sipp_port,
            extra=[f"127.0.0.1:{ours}"],
            keys={"adapter_port": str(ours)},
        )
        assert await sipp_result(run) == 0, run.explain()
    finally:
        await trunk.stop()
    (bye,) = run.received("BYE")
    assert told == [bye.header("Call-ID")]
    assert trunk.orphan_answers == 1  # the retransmission is not a second answer
    acks = run.received("ACK")
    assert len(acks) == 2 and all("tag=callee" in a.header("To") for a in acks)
    assert "tag=old-engine" in bye.header("From") and "tag=callee" in bye.header("To")
