"""The sippy-side pieces that need no peer: transport normalisation, DTMF bodies, and
that shutting the stack down still sends what was queued."""

from __future__ import annotations

import socket

import pytest

from dialguard.sip._sippy_bridge import sippy_thread
from dialguard.sip._sippy_stack import SignallingStack, _info_digit, normalise_transport


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


async def test_shutdown_sends_what_was_queued_before_closing_the_socket() -> None:
    """An ACK queued the moment a 486 arrives must leave even if the trunk stops at
    once: sippy shuts the socket for writing before its sender drains the queue (in
    CI the far end then retransmitted its 486 for 32 s). 300 datagrams queued right
    before shutdown make the race certain to show without the flush."""
    far_end = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    far_end.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    far_end.bind(("127.0.0.1", 0))
    far_end.settimeout(2.0)
    count = 300

    def queue_then_shutdown() -> None:
        stack = SignallingStack("127.0.0.1", 0, invite_timeout=5.0)
        server = next(iter(stack.tm.l4r.cache_l2s.values()))
        for i in range(count):
            server.send_to(f"datagram {i}".encode(), far_end.getsockname())
        stack.shutdown()

    try:
        await sippy_thread().run(queue_then_shutdown)
        received = set()
        while len(received) < count:
            try:
                received.add(far_end.recv(100))
            except TimeoutError:
                break
    finally:
        far_end.close()
    assert len(received) == count, f"{count - len(received)} of {count} queued datagrams lost"
