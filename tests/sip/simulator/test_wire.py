"""The simulator's RFC 3261 behaviour on the wire, checked with a raw UDP socket: the
cases SIPp scenarios cannot provoke (lost ACKs, retransmitted INVITEs, garbage)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import pytest

from dialguard.sip.sdp import build_sdp, parse_sdp
from dialguard.sip.simulator import Profile
from dialguard.sip.simulator import call as call_module
from dialguard.sip.simulator.message import SipMessage, parse
from dialguard.sip.simulator.profile import fixed
from tests.sip.simulator.conftest import TrunkFactory

QUICK = Profile(patience_s=fixed(5), talk_s=fixed(0.2))


class RawUac:
    """A bare UDP socket speaking just enough SIP to poke the simulator."""

    def __init__(self, port: int) -> None:
        self.dest = ("127.0.0.1", port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]

    def request(
        self,
        method: str,
        number: str,
        *,
        call_id: str = "raw-1",
        cseq: int = 1,
        branch: str = "z9hG4bKraw1",
        to_tag: str | None = None,
        body: str = "",
        contact_port: int | None = None,
        extra: str = "",
    ) -> str:
        to = f"<sip:{number}@127.0.0.1>" + (f";tag={to_tag}" if to_tag else "")
        text = (
            f"{method} sip:{number}@127.0.0.1:{self.dest[1]} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{self.port};branch={branch}\r\n"
            f"From: <sip:raw@127.0.0.1>;tag=rawtag\r\nTo: {to}\r\n"
            f"Call-ID: {call_id}\r\nCSeq: {cseq} {method}\r\n"
            f"Contact: <sip:raw@127.0.0.1:{contact_port or self.port}>\r\nMax-Forwards: 70\r\n"
            + extra
            + ("Content-Type: application/sdp\r\n" if body else "")
            + f"Content-Length: {len(body.encode())}\r\n\r\n{body}"
        )
        self.send(text.encode())
        return text

    def send(self, data: bytes) -> None:
        self.sock.sendto(data, self.dest)

    async def recv(self, within: float = 2.0) -> SipMessage:
        loop = asyncio.get_running_loop()
        data = await asyncio.wait_for(loop.sock_recv(self.sock, 65535), within)
        return parse(data)

    async def recv_status(self, status: int, within: float = 2.0) -> SipMessage:
        async with asyncio.timeout(within):
            while True:
                m = await self.recv(within)
                if m.status == status:
                    return m


@pytest.fixture
def uac_factory() -> Iterator[type[RawUac]]:
    made: list[RawUac] = []

    class Tracked(RawUac):
        def __init__(self, port: int) -> None:
            super().__init__(port)
            made.append(self)

    yield Tracked
    for u in made:
        u.sock.close()


async def test_retransmitted_invite_gets_same_answer_one_record(
    make_trunk: TrunkFactory, uac_factory: type[RawUac]
) -> None:
    trunk = await make_trunk(QUICK)
    uac = uac_factory(trunk.port)
    uac.request("INVITE", "+15550002003")
    assert (await uac.recv()).status == 100
    uac.request("INVITE", "+15550002003")  # same branch: a retransmission
    again = await uac.recv()
    assert again.status == 100 and again.to_tag is None
    busy = await uac.recv_status(486)
    assert busy.to_tag
    uac.request("ACK", "+15550002003", to_tag=busy.to_tag)
    assert await trunk.wait_idle(1)
    assert len(trunk.records) == 1


async def test_final_retransmitted_until_ack(
    make_trunk: TrunkFactory, uac_factory: type[RawUac]
) -> None:
    trunk = await make_trunk(QUICK)
    uac = uac_factory(trunk.port)
    uac.request("INVITE", "+15550004001")
    await uac.recv_status(404)
    # no ACK: the 404 comes again after T1 (0.5 s), then after 1 s more
    loop = asyncio.get_running_loop()
    t = loop.time()
    second = await uac.recv_status(404, within=1.0)
    assert 0.4 <= loop.time() - t <= 0.7
    uac.request("ACK", "+15550004001", to_tag=second.to_tag)
    with pytest.raises(TimeoutError):
        await uac.recv(within=1.2)  # ACK stopped the retransmissions
    [r] = trunk.records
    assert r.final == "not_found"


async def test_answered_call_without_ack_is_hung_up(
    make_trunk: TrunkFactory, uac_factory: type[RawUac], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(call_module, "TIMER_B", 1.2)  # 32 s in real life
    trunk = await make_trunk(QUICK)
    uac = uac_factory(trunk.port)
    uac.request("INVITE", "+15550000001", body=build_sdp("127.0.0.1", 9000))
    ok = await uac.recv_status(200)
    assert (await uac.recv_status(200, within=1.0)).to_tag == ok.to_tag  # retransmitted
    bye: SipMessage | None = None
    async with asyncio.timeout(2):
        while True:
            m = await uac.recv()
            if m.method == "BYE":
                bye = m
                break
    assert bye is not None and bye.call_id == "raw-1"
    [r] = trunk.records
    assert r.final == "no_ack" and "no ACK" in r.notes[0]


async def test_late_offer_gets_offer_in_200_and_answer_in_ack(
    make_trunk: TrunkFactory, uac_factory: type[RawUac]
) -> None:
    trunk = await make_trunk(QUICK)
    uac = uac_factory(trunk.port)
    uac.request("INVITE", "+15550000001")  # no SDP
    ok = await uac.recv_status(200)
    offer = parse_sdp(ok.body)
    assert offer.payload_types == (0, 8) and offer.dtmf_payload_type == 101
    uac.request(
        "ACK",
        "+15550000001",
        branch="z9hG4bKack",
        to_tag=ok.to_tag,
        body=build_sdp("127.0.0.1", 9002, payload_types=(8,)),
    )
    await asyncio.sleep(0.05)
    [call] = trunk.active_calls.values()
    assert call.rtp is not None and call.rtp.remote == ("127.0.0.1", 9002)
    assert call.rtp.payload_type == 8 and call.state == "confirmed"


async def test_unusable_sdp_is_refused_with_488(
    make_trunk: TrunkFactory, uac_factory: type[RawUac]
) -> None:
    trunk = await make_trunk(QUICK)
    uac = uac_factory(trunk.port)
    sdp = "v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 9000 RTP/AVP 18\r\n"
    uac.request("INVITE", "+15550000001", body=sdp)
    r = await uac.recv_status(488)
    assert "no common audio codec" in (r.get("Warning") or "")
    assert trunk.records == []


async def test_out_of_dialog_and_odd_requests(
    make_trunk: TrunkFactory, uac_factory: type[RawUac]
) -> None:
    trunk = await make_trunk(QUICK)
    uac = uac_factory(trunk.port)
    uac.request("BYE", "x", call_id="nope", to_tag="t")
    assert (await uac.recv()).status == 481
    uac.request("CANCEL", "x", call_id="nope")
    assert (await uac.recv()).status == 481
    uac.request("OPTIONS", "x", call_id="opt")
    assert (await uac.recv()).status == 200
    uac.request("REGISTER", "x", call_id="reg")
    reg = await uac.recv()
    assert reg.status == 200 and reg.get("Expires") == "3600"
    uac.request("SUBSCRIBE", "x", call_id="sub")
    assert (await uac.recv()).status == 501
    uac.send(b"\x00\x01garbage")
    uac.send(b"\r\n\r\n")  # keep-alive: ignored silently
    uac.request("OPTIONS", "x", call_id="opt2")
    assert (await uac.recv()).status == 200  # still serving
    assert trunk.malformed == 1 and trunk.records == []


async def test_cancel_after_answer_has_no_effect(
    make_trunk: TrunkFactory, uac_factory: type[RawUac]
) -> None:
    trunk = await make_trunk(QUICK)
    uac = uac_factory(trunk.port)
    uac.request("INVITE", "+15550000001", body=build_sdp("127.0.0.1", 9000))
    ok = await uac.recv_status(200)
    uac.request("CANCEL", "+15550000001")  # crossed our 200: answered 200, call stays up
    assert (await uac.recv_status(200)).cseq == (1, "CANCEL")
    uac.request("ACK", "+15550000001", branch="z9hG4bKack", to_tag=ok.to_tag)
    uac.request("BYE", "+15550000001", branch="z9hG4bKbye", cseq=2, to_tag=ok.to_tag)
    assert (await uac.recv_status(200)).cseq == (2, "BYE")
    assert await trunk.wait_idle(1)
    [r] = trunk.records
    assert (r.final, r.ended_by, r.cancel_s) == ("answered", "caller", None)


async def test_kept_records_are_bounded_but_summary_counts_all(
    make_trunk: TrunkFactory, uac_factory: type[RawUac]
) -> None:
    trunk = await make_trunk(QUICK, keep_records=2)
    uac = uac_factory(trunk.port)
    for n in range(3):
        uac.request("INVITE", "+15550002001", call_id=f"k{n}", branch=f"z9hG4bKk{n}")
        busy = await uac.recv_status(486)
        uac.request(
            "ACK", "+15550002001", call_id=f"k{n}", branch=f"z9hG4bKk{n}", to_tag=busy.to_tag
        )
    assert await trunk.wait_idle(1)
    assert [r.call_id for r in trunk.records] == ["k1", "k2"]
    s = trunk.summary()
    assert (s.attempts, s.busy, s.in_progress) == (3, 3, 0)


async def test_in_dialog_requests_follow_record_route(
    make_trunk: TrunkFactory, uac_factory: type[RawUac]
) -> None:
    """A proxy that Record-Routes stays in the path: our BYE goes to it, with Route."""
    trunk = await make_trunk(QUICK.model_copy(update={"patience_s": fixed(0.2)}))
    uac = uac_factory(trunk.port)  # plays the proxy; the Contact (port 9) is unreachable
    rr = f"Record-Route: <sip:127.0.0.1:{uac.port};lr>\r\n"
    uac.request("INVITE", "+15550000001", contact_port=9, extra=rr)
    ok = await uac.recv_status(200)
    uac.request("ACK", "+15550000001", branch="z9hG4bKack", to_tag=ok.to_tag)
    async with asyncio.timeout(2):
        while (bye := await uac.recv()).method != "BYE":
            pass
    assert bye.uri == "sip:raw@127.0.0.1:9"
    assert bye.get_all("Route") == [f"<sip:127.0.0.1:{uac.port};lr>"]
    assert bye.to_tag == "rawtag" and bye.from_tag == ok.to_tag


async def test_early_media_rings_with_183_and_same_sdp_in_200(
    make_trunk: TrunkFactory, uac_factory: type[RawUac]
) -> None:
    trunk = await make_trunk(QUICK)
    uac = uac_factory(trunk.port)
    # +1555000 9 003: rings with 183 + SDP, answers after 0.3 s
    uac.request("INVITE", "+15550009003", body=build_sdp("127.0.0.1", 9000, payload_types=(8, 0)))
    progress = await uac.recv_status(183)
    early = parse_sdp(progress.body)
    assert early.payload_types == (8,)  # the offer's first codec
    ok = await uac.recv_status(200)
    assert ok.body == progress.body and ok.to_tag == progress.to_tag
    uac.request("ACK", "+15550009003", branch="z9hG4bKack", to_tag=ok.to_tag)
    [r] = trunk.records
    assert r.early_media and r.ring_start_s is not None and r.answer_s is not None
    assert 0.28 <= r.answer_s - r.ring_start_s <= 0.5


async def test_agent_answer_does_not_wait_for_notify_response(
    make_trunk: TrunkFactory, uac_factory: type[RawUac]
) -> None:
    """A dialler slow to answer NOTIFY must not delay the agent (the 2 s clock runs);
    the final NOTIFY waits until the first one is answered (one in flight at a time)."""
    trunk = await make_trunk(
        QUICK.model_copy(update={"agent_answer_s": fixed(0.1), "talk_s": fixed(5)})
    )
    uac = uac_factory(trunk.port)
    uac.request("INVITE", "+15550000001", body=build_sdp("127.0.0.1", 9000))
    ok = await uac.recv_status(200)
    uac.request("ACK", "+15550000001", branch="z9hG4bKack", to_tag=ok.to_tag)
    uac.request(
        "REFER",
        "+15550000001",
        branch="z9hG4bKref",
        cseq=2,
        to_tag=ok.to_tag,
        extra="Refer-To: <sip:agent4@127.0.0.1>\r\n",
    )
    assert (await uac.recv_status(202)).cseq == (2, "REFER")
    first = await uac.recv()
    assert first.method == "NOTIFY" and first.body.startswith(b"SIP/2.0 100")
    await asyncio.sleep(0.4)  # we sit on the NOTIFY (the simulator retransmits it)
    [r] = trunk.records
    assert r.answer_to_agent_s is not None and r.answer_to_refer_s is not None
    assert r.answer_to_agent_s - r.answer_to_refer_s < 0.2
    async with asyncio.timeout(2):  # only retransmissions of the first NOTIFY so far
        while (m := await uac.recv()).method == "NOTIFY" and m.body.startswith(b"SIP/2.0 100"):
            reply = (
                "SIP/2.0 200 OK\r\n"
                + "".join(
                    f"{k}: {v}\r\n"
                    for k, v in m.headers
                    if k in ("Via", "From", "To", "Call-ID", "CSeq")
                )
                + "Content-Length: 0\r\n\r\n"
            )
            uac.send(reply.encode())
    assert m.method == "NOTIFY" and m.body.startswith(b"SIP/2.0 200")
    assert "terminated" in (m.get("Subscription-State") or "")
