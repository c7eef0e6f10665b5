"""SIP message parsing and building in the simulator (dialguard.sip.simulator.message)."""

from __future__ import annotations

import pytest

from dialguard.sip.simulator.message import (
    SipParseError,
    header_tag,
    parse,
    response,
    uri_hostport,
    uri_user,
)

INVITE = (
    b"INVITE sip:+441632960123@127.0.0.1:5070;transport=UDP SIP/2.0\r\n"
    b"v: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bK1;rport, SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK0\r\n"
    b'f: "Dialler, Inc" <sip:+441632960000@127.0.0.1>;tag=abc\r\n'
    b"t: <sip:+441632960123@127.0.0.1>\r\n"
    b"i: call-1@host\r\n"
    b"CSeq: 7 INVITE\r\n"
    b"m: <sip:d@127.0.0.1:5080;transport=UDP>\r\n"
    b"Subject: a folded\r\n  header\r\n"
    b"l: 4\r\n\r\nv=0\r\nEXTRA"
)


def test_parse_compact_headers_multi_via_and_body_length() -> None:
    m = parse(INVITE)
    assert m.method == "INVITE" and m.is_request
    assert m.call_id == "call-1@host" and m.cseq == (7, "INVITE")
    assert m.get_all("Via") == [
        "SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bK1;rport",
        "SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK0",
    ]
    assert m.branch == "z9hG4bK1"
    assert m.from_tag == "abc" and m.to_tag is None
    assert m.get("subject") == "a folded header"
    assert m.body == b"v=0\r"  # Content-Length wins over trailing bytes
    assert uri_user(m.uri or "") == "+441632960123"
    assert uri_hostport(m.require("Contact")) == ("127.0.0.1", 5080)


def test_response_copies_vias_and_adds_to_tag_once() -> None:
    req = parse(INVITE)
    r = response(req, 180, to_tag="xyz")
    text = r.encode().decode()
    assert text.startswith("SIP/2.0 180 Ringing\r\n")
    assert text.count("Via: ") == 2 and "To: <sip:+441632960123@127.0.0.1>;tag=xyz" in text
    again = parse(r.encode())
    assert again.status == 180 and again.to_tag == "xyz"
    # a To that already has a tag keeps it
    assert response(again, 200, to_tag="other").to_tag == "xyz"
    assert text.endswith("Content-Length: 0\r\n\r\n")


def test_tag_inside_uri_is_not_the_header_tag() -> None:
    assert header_tag("<sip:a@b;tag=inside>") is None
    assert header_tag("<sip:a@b;tag=inside>;tag=outside") == "outside"
    assert header_tag("sip:a@b;tag=t1") == "t1"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\r\n", "empty datagram"),
        (b"HELLO\r\n\r\n", "not a SIP request"),
        (b"SIP/2.0 abc OK\r\n\r\n", "bad status line"),
        (b"OPTIONS sip:x SIP/2.0\r\nbroken\r\n\r\n", "without ':'"),
        (b"OPTIONS sip:x SIP/2.0\r\nVia: v\r\n\r\n", "missing Call-ID"),
        (INVITE.replace(b"l: 4", b"l: 400"), "shorter"),
        (INVITE.replace(b"CSeq: 7 INVITE", b"CSeq: x"), None),
        (b"\xff\xfe INVITE\r\n\r\n", "not UTF-8"),
    ],
)
def test_bad_datagrams_raise_parse_error(data: bytes, message: str | None) -> None:
    with pytest.raises(SipParseError, match=message):
        m = parse(data)
        _ = m.cseq  # a bad CSeq is found when it is read
