"""Tests for dialguard.sip.sdp: offers/answers we build, peers' SDP we parse or refuse."""

from __future__ import annotations

import pytest

from dialguard.sip.sdp import AudioDescription, SdpError, build_answer, build_sdp, parse_sdp

SIPP_STYLE = (
    "v=0\r\n"
    "o=user1 53655765 2353687637 IN IP4 127.0.0.2\r\n"
    "s=-\r\n"
    "c=IN IP4 127.0.0.2\r\n"
    "t=0 0\r\n"
    "m=audio 6000 RTP/AVP 8 0 96\r\n"
    "a=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:96 telephone-event/8000\r\n"
    "a=fmtp:96 0-15\r\n"
)


def test_offer_round_trips_through_parser() -> None:
    text = build_sdp("127.0.0.1", 20002, session_id=42)
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    assert "o=dialguard 42 1 IN IP4 127.0.0.1" in text
    assert "m=audio 20002 RTP/AVP 0 8 101" in text
    d = parse_sdp(text)
    assert (d.address, d.port) == ("127.0.0.1", 20002)
    assert d.payload_types == (0, 8) and d.dtmf_payload_type == 101 and d.codec == 0


def test_parse_peer_preference_and_dynamic_dtmf_pt() -> None:
    d = parse_sdp(SIPP_STYLE.encode())
    assert d.address == "127.0.0.2" and d.port == 6000
    assert d.payload_types == (8, 0) and d.codec == 8  # peer prefers A-law
    assert d.dtmf_payload_type == 96


def test_answer_uses_offerers_codec_and_dtmf_number() -> None:
    answer = parse_sdp(build_answer(parse_sdp(SIPP_STYLE), "127.0.0.1", 30000))
    assert answer.payload_types == (8,) and answer.dtmf_payload_type == 96
    assert answer.port == 30000


def test_media_level_connection_overrides_session_and_second_stream_ignored() -> None:
    text = SIPP_STYLE.replace("t=0 0\r\n", "t=0 0\r\nm=video 7000 RTP/AVP 31\r\n") + (
        "c=IN IP4 10.0.0.9\r\nm=audio 9000 RTP/AVP 0\r\nc=IN IP4 10.0.0.10\r\n"
    )
    d = parse_sdp(text)
    assert (d.address, d.port) == ("10.0.0.9", 6000)


def test_no_common_codec_is_named() -> None:
    d = parse_sdp(SIPP_STYLE.replace("RTP/AVP 8 0 96", "RTP/AVP 18 96"))
    assert isinstance(d, AudioDescription)
    with pytest.raises(SdpError, match=r"no common audio codec.*\[18\]"):
        _ = d.codec


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty SDP"),
        ("o=x\r\n", "must start with 'v=0'"),
        ("v=0\r\nc=IN IP4 1.2.3.4\r\n", "no 'm=audio'"),
        ("v=0\r\nm=audio 5000 RTP/AVP 0\r\n", "no connection address"),
        ("v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 0 RTP/AVP 0\r\n", "rejected"),
        ("v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio x RTP/AVP 0\r\n", "line 3: bad media port"),
        ("v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 5 RTP/SAVP 0\r\n", "RTP/AVP"),
        ("v=0\r\nc=IN IP4 host.example\r\nm=audio 5 RTP/AVP 0\r\n", "line 2: connection"),
        ("v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 5 RTP/AVP 0 zz\r\n", "bad payload type 'zz'"),
        ("v=0\r\nbogus\r\n", "line 2 is not 'x=value'"),
    ],
)
def test_bad_sdp_errors_name_the_fault(text: str, message: str) -> None:
    with pytest.raises(SdpError, match=message):
        parse_sdp(text)


def test_build_refuses_bad_inputs() -> None:
    with pytest.raises(SdpError, match="IP address"):
        build_sdp("localhost", 5000)
    with pytest.raises(SdpError, match="port out of range"):
        build_sdp("127.0.0.1", 70000)
    with pytest.raises(SdpError, match="PCMU"):
        build_sdp("127.0.0.1", 5000, payload_types=(18,))
    assert "IN IP6 ::1" in build_sdp("::1", 5000)
