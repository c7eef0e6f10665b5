"""The adapter against real peers (issue 10): Kamailio as a record-routing proxy in front
of baresip callees, all on 127.0.0.1.

SIPp (tests/sip/test_interop.py) replays faults we already know; here independent
implementations decide for themselves, so a call is checked end to end as a carrier
would run it: the route set is honoured (Kamailio logs every in-dialog request it
loose-routes), media flows both ways, a forked second answer is cleaned up, a digest
challenge is met, a stateless rejection is reported with its code and Retry-After.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from dialguard.sip import MIN_RING_S, Prompt, SippyTrunk, TrunkEventKind
from tests.sip.real_peers import (
    AUTH_PASSWORD,
    AUTH_USER,
    BARESIP,
    KAMAILIO,
    RETRY_AFTER_S,
    Baresip,
    Kamailio,
    Peer,
)
from tests.sip.test_adapter import CALLER, events_until, kinds, rest_of

pytestmark = pytest.mark.slow

K = TrunkEventKind
ANSWERED_NUMBER = "+441632960111"  # Kamailio relays it to callee A
FORKED_NUMBER = "+441632960112"  # ...2: forked to callees A and B
RINGING_NUMBER = "+441632960110"  # ...0: to the callee that rings and never answers
BUSY_NUMBER = "+441632960486"
UNKNOWN_NUMBER = "+441632960404"
UNAVAILABLE_NUMBER = "+441632960503"
CHALLENGED_NUMBER = "+441632960407"
CHALLENGED_CALLER = "+441632960407"  # Kamailio challenges its BYE and REFER


@dataclass
class Peers:
    kamailio: Kamailio
    callee_a: Baresip
    callee_b: Baresip
    ringing: Baresip

    def loose_routed(self, method: str) -> int:
        """How many ``method`` requests Kamailio saw inside a dialog, via its Route."""
        return len(self.kamailio.lines(f"interop: in-dialog {method} loose-routed"))


@pytest.fixture
def peers(tmp_path: Path) -> Iterator[Peers]:
    """Three baresips (two auto-answering, one only ringing) behind one Kamailio, each
    on a free loopback port; every process is killed at teardown, even if one failed
    to start."""
    for binary, package in ((KAMAILIO, "kamailio"), (BARESIP, "baresip")):
        if shutil.which(binary) is None:
            pytest.skip(f"{binary} not installed (Debian package {package})")
    started: list[Peer] = []
    try:
        a = Baresip(tmp_path / "callee_a", (31000, 31099))
        started.append(a.start())
        b = Baresip(tmp_path / "callee_b", (31100, 31199))
        started.append(b.start())
        ringing = Baresip(tmp_path / "ringing", (31200, 31299), answer="manual")
        started.append(ringing.start())
        kamailio = Kamailio(tmp_path / "kamailio", a.port, b.port, ringing.port)
        started.append(kamailio.start())
        yield Peers(kamailio, a, b, ringing)
    finally:
        for peer in reversed(started):
            peer.stop()


@pytest.fixture
async def trunk(peers: Peers) -> AsyncIterator[SippyTrunk]:
    trunk = SippyTrunk(
        "127.0.0.1",
        peers.kamailio.port,
        username=AUTH_USER,
        password=AUTH_PASSWORD,
        rtp_ports=(31500, 31599),
    )
    await trunk.start()
    yield trunk
    await trunk.stop()


async def test_answered_call_through_record_routing_proxy_with_rtp_both_ways(
    peers: Peers, trunk: SippyTrunk
) -> None:
    """baresip answers via Kamailio; its sine reaches our RTP port, our prompt reaches
    baresip (it reports RTP received), and our BYE follows the Record-Route (Kamailio
    loose-routes it) and is answered: ENDED comes with the 200."""
    call = await trunk.originate(ANSWERED_NUMBER, CALLER, ring_timeout=30)
    events = await events_until(call, K.ANSWERED)
    assert kinds(events)[-1] is K.ANSWERED and call.state == "answered"
    assert call.rtp is not None and call.rtp.remote is not None
    await call.play(Prompt("tone", bytes([0x7F]) * 8000))  # 1 s, 50 frames at 20 ms
    await asyncio.sleep(0.3)
    received = call.rtp.packets_received
    assert call.rtp.packets_sent >= 50
    assert received >= 40, received  # baresip sends 50 a second from the answer on
    assert call.rtp.first_audio_received_at is not None
    await call.hangup()
    assert kinds(await rest_of(call)) == [K.ENDED]
    (ended,) = [e for e in call.history if e.kind is K.ENDED]
    assert ended.by == "local" and ended.code == 200
    assert peers.loose_routed("ACK") == 1
    assert peers.loose_routed("BYE") == 1
    assert peers.callee_a.rtp_sources() == [call.rtp.port]  # baresip got our RTP
    assert peers.callee_a.answered() == 1


async def test_cancel_through_proxy_after_the_ring_floor(peers: Peers, trunk: SippyTrunk) -> None:
    """A callee that only rings: our CANCEL goes out once it has rung MIN_RING_S, goes
    hop by hop through Kamailio, and the 487 ends the call as failed (not answered)."""
    call = await trunk.originate(RINGING_NUMBER, CALLER, ring_timeout=1)
    await events_until(call, K.RINGING)
    events = await rest_of(call, within=MIN_RING_S + 10)
    assert kinds(events)[-1] is K.FAILED and events[-1].code == 487
    assert call.ring_started_at is not None and call.cancel_requested_at is not None
    assert MIN_RING_S <= call.cancel_requested_at - call.ring_started_at <= MIN_RING_S + 1.5
    assert peers.ringing.answered() == 0
    await asyncio.sleep(0.3)  # baresip logs the closed session after its 487 is ACKed
    assert peers.ringing.closed(), peers.ringing.log()


async def test_callee_hangs_up_through_proxy(peers: Peers, trunk: SippyTrunk) -> None:
    """Our BYE is one way; the callee's is the other: a baresip stopped mid-call sends
    BYE via the Record-Route, we answer it and report ENDED by remote."""
    call = await trunk.originate(ANSWERED_NUMBER, CALLER, ring_timeout=30)
    await events_until(call, K.ANSWERED)
    await asyncio.to_thread(peers.callee_a.stop)  # SIGTERM: baresip hangs up its calls
    events = await rest_of(call, within=10)
    assert kinds(events) == [K.ENDED] and events[0].by == "remote"
    assert peers.loose_routed("BYE") == 1


@pytest.mark.parametrize(
    ("number", "code", "retry_after"),
    [
        (BUSY_NUMBER, 486, None),
        (UNKNOWN_NUMBER, 404, None),
        (UNAVAILABLE_NUMBER, 503, RETRY_AFTER_S),
    ],
)
async def test_stateless_rejection_by_the_proxy(
    peers: Peers, trunk: SippyTrunk, number: str, code: int, retry_after: int | None
) -> None:
    """Kamailio's sl_send_reply: the code reaches the call's FAILED event, and a 503's
    Retry-After is reported for the pacer."""
    call = await trunk.originate(number, CALLER, ring_timeout=30)
    events = await rest_of(call, within=10)
    assert kinds(events)[-1] is K.FAILED
    assert events[-1].code == code and events[-1].retry_after == retry_after
    assert peers.callee_a.answered() == 0


async def test_invite_challenged_407_is_answered_with_credentials(
    peers: Peers, trunk: SippyTrunk
) -> None:
    """Kamailio challenges the INVITE (407, qop=auth); the adapter resends it with
    Proxy-Authorization and the call is answered and hung up cleanly."""
    call = await trunk.originate(CHALLENGED_NUMBER, CALLER, ring_timeout=30)
    events = await events_until(call, K.ANSWERED)
    assert kinds(events)[-1] is K.ANSWERED
    assert len(peers.kamailio.lines("interop: challenging INVITE")) == 1
    (authed,) = peers.kamailio.lines("interop: authenticated INVITE")
    assert f'username="{AUTH_USER}"' in authed and "qop=auth" in authed and "nc=00000001" in authed
    await call.hangup()
    assert kinds(await rest_of(call)) == [K.ENDED]
    assert peers.callee_a.answered() == 1
    assert peers.loose_routed("BYE") == 1


async def test_fork_to_two_callees_second_answer_is_acked_and_byed(
    peers: Peers, trunk: SippyTrunk
) -> None:
    """RFC 3261 §13.2.2.4 with a real forking proxy: both baresips answer; one is the
    call, the other gets ACK and BYE (via the Record-Route) and is recorded on the call;
    nobody is left on an open line."""
    call = await trunk.originate(FORKED_NUMBER, CALLER, ring_timeout=30)
    events = await events_until(call, K.FORK_ANSWERED)
    assert K.ANSWERED in kinds(events) and kinds(events)[-1] is K.FORK_ANSWERED
    (extra,) = call.extra_answers
    assert extra.code == 200
    assert peers.callee_a.answered() + peers.callee_b.answered() == 2
    await asyncio.sleep(0.5)
    assert call.state == "answered"
    await call.hangup()
    assert kinds(await rest_of(call)) == [K.ENDED]
    await asyncio.sleep(0.3)
    assert peers.loose_routed("ACK") == 2
    assert peers.loose_routed("BYE") == 2
    assert len(peers.callee_a.closed()) + len(peers.callee_b.closed()) == 2


async def test_bye_challenged_407_is_retried_and_ended_waits_for_its_200(
    peers: Peers, trunk: SippyTrunk
) -> None:
    """Kamailio challenges our in-dialog BYE (caller ID ...407): the BYE is sent again
    with credentials, and ENDED is reported with the 200 to that retry, not at the
    first send (else a carrier that challenges BYE leaves the leg up, and billed,
    while we record it ended)."""
    call = await trunk.originate(ANSWERED_NUMBER, CHALLENGED_CALLER, ring_timeout=30)
    await events_until(call, K.ANSWERED)
    await call.hangup()
    assert kinds(await rest_of(call)) == [K.ENDED]
    (ended,) = [e for e in call.history if e.kind is K.ENDED]
    assert ended.code == 200 and ended.by == "local"
    assert len(peers.kamailio.lines("interop: challenging BYE")) == 1
    (authed,) = peers.kamailio.lines("interop: authenticated BYE")
    assert f'username="{AUTH_USER}"' in authed and "qop=auth" in authed
    assert peers.loose_routed("BYE") == 1  # only the authenticated one went on
    await asyncio.sleep(0.3)
    assert peers.callee_a.closed(), peers.callee_a.log()


async def test_dtmf_from_baresip_reaches_us(peers: Peers, trunk: SippyTrunk) -> None:
    """Digits pressed on baresip come to us as RFC 4733 events over the proxied call,
    one DTMF event per press, in order."""
    call = await trunk.originate(ANSWERED_NUMBER, CALLER, ring_timeout=30)
    await events_until(call, K.ANSWERED)
    await asyncio.to_thread(peers.callee_a.press, "159")
    digits: list[str | None] = []
    async with asyncio.timeout(5):
        async for event in call.events():
            if event.kind is K.DTMF:
                digits.append(event.digit)
            if len(digits) == 3:
                break
    assert digits == ["1", "5", "9"]
    await call.hangup()


@pytest.mark.parametrize("caller", [CALLER, CHALLENGED_CALLER], ids=["plain", "refer_407"])
async def test_refer_accepted_by_baresip_completes_from_its_notify(
    peers: Peers, trunk: SippyTrunk, caller: str
) -> None:
    """Blind transfer through the proxy: baresip A accepts our REFER (via the Record-
    Route), calls baresip B itself, and its NOTIFY sipfrag says 200: TRANSFERRED. With
    caller ID ...407 Kamailio first challenges the REFER: it is sent again with
    credentials and the transfer still completes."""
    call = await trunk.originate(ANSWERED_NUMBER, caller, ring_timeout=30)
    await events_until(call, K.ANSWERED)
    result = await call.transfer(f"sip:callee@127.0.0.1:{peers.callee_b.port}")
    assert result.kind is K.TRANSFERRED and result.code == 200, result
    assert peers.loose_routed("REFER") == 1
    assert peers.callee_b.answered() == 1  # B got the call from A, not from us
    challenged = len(peers.kamailio.lines("interop: challenging REFER"))
    assert challenged == (1 if caller == CHALLENGED_CALLER else 0)
    await call.hangup()


async def test_registrar_keepalive_options_are_answered(peers: Peers) -> None:
    """Kamailio as registrar: our REGISTER (digest-challenged 401) binds with the
    configured Expires; its keepalive OPTIONS to our contact are answered (else the
    registrar marks us dead); stop() sends the un-REGISTER."""
    trunk = SippyTrunk(
        "127.0.0.1",
        peers.kamailio.port,
        username=AUTH_USER,
        password=AUTH_PASSWORD,
        register=True,
        register_expires=120,
        media=False,
    )
    await trunk.start()
    try:
        assert trunk.registered
        await asyncio.sleep(3.5)  # usrloc pings every second
    finally:
        await trunk.stop()
    await asyncio.sleep(0.3)
    assert peers.kamailio.lines("interop: challenging REGISTER")  # it did use digest
    registers = peers.kamailio.lines("interop: REGISTER")
    assert "expires=120" in registers[0], registers
    assert "expires=0" in registers[-1], registers  # the un-REGISTER
    answered = peers.kamailio.lines("interop: keepalive OPTIONS answered")
    assert len(answered) >= 2, peers.kamailio.log()
