"""The sippy-side pieces that need no peer: transport normalisation."""

from __future__ import annotations

import pytest

from dialguard.sip._sippy_stack import _info_digit, normalise_transport


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            b"Contact: <sip:127.0.0.1:5070;transport=UDP>",
            b"Contact: <sip:127.0.0.1:5070;transport=udp>",
        ),
        (b"Record-Route: <sip:p;lr;transport=Tcp>", b"Record-Route: <sip:p;lr;transport=tcp>"),
        (b"Contact: <sip:a@b;transport=WSS;ob>", b"Contact: <sip:a@b;transport=wss;ob>"),
    ],
)
def test_transport_values_are_lower_cased(raw: bytes, expected: bytes) -> None:
    assert normalise_transport(raw) == expected


def test_everything_else_is_left_alone() -> None:
    msg = (
        b"BYE sip:127.0.0.1:5070;transport=UDP SIP/2.0\r\n"
        b"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-ABC\r\n"
        b"From: <sip:+441632960123@127.0.0.1>;tag=XyZ\r\n\r\n"
    )
    out = normalise_transport(msg)
    assert out.startswith(b"BYE sip:127.0.0.1:5070;transport=udp SIP/2.0")
    assert b"SIP/2.0/UDP" in out and b"z9hG4bK-ABC" in out and b"tag=XyZ" in out
    assert len(out) == len(msg)
    plain = b"SIP/2.0 200 OK\r\nContact: <sip:127.0.0.1>\r\n\r\n"
    assert normalise_transport(plain) is plain  # no copy when there is nothing to do


@pytest.mark.parametrize(
    ("body", "digit"),
    [
        ("Signal=5\r\nDuration=160\r\n", "5"),
        ("Signal= #\nDuration=100\n", "#"),
        ("signal=9", "9"),  # some trunks write it in lower case
        ("*", "*"),  # application/dtmf: the bare digit
        ("Duration=160", None),
        ("", None),
    ],
)
def test_info_dtmf_digit(body: str, digit: str | None) -> None:
    assert _info_digit(body) == digit
