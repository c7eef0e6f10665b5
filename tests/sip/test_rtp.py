"""Tests for dialguard.sip.rtp: G.711 codecs, RTP packets, paced playback, RFC 4733 DTMF."""

from __future__ import annotations

import asyncio
import math
import random
import struct
from collections.abc import Callable
from typing import Any

import pytest

from dialguard.sip.api import Prompt
from dialguard.sip.rtp import (
    FRAME_SAMPLES,
    PT_PCMA,
    PT_PCMU,
    DtmfDigit,
    RtpEndpoint,
    RtpError,
    RtpPacket,
    alaw_decode,
    alaw_encode,
    alaw_to_ulaw,
    dtmf_payload,
    ulaw_decode,
    ulaw_encode,
    ulaw_to_alaw,
)


def _pcm(samples: list[int]) -> bytes:
    return struct.pack(f"<{len(samples)}h", *samples)


def _unpcm(data: bytes) -> list[int]:
    return list(struct.unpack(f"<{len(data) // 2}h", data))


# --- codecs ---

Codec = Callable[[bytes], bytes]
CODECS = [(ulaw_encode, ulaw_decode), (alaw_encode, alaw_decode)]


def test_ulaw_known_codes() -> None:
    # G.711: silence is 0xFF, full-scale positive 0x80, full-scale negative 0x00
    assert ulaw_encode(_pcm([0, 32767, -32768])) == bytes([0xFF, 0x80, 0x00])
    assert _unpcm(ulaw_decode(bytes([0xFF, 0x80, 0x00]))) == [0, 32124, -32124]


def test_alaw_known_codes() -> None:
    # G.711 A-law: 0 → 0xD5 (even bits inverted), full scale → 0xAA / 0x2A
    assert alaw_encode(_pcm([0, 32767, -32768])) == bytes([0xD5, 0xAA, 0x2A])
    assert _unpcm(alaw_decode(bytes([0xD5, 0xAA, 0x2A]))) == [8, 32256, -32256]


@pytest.mark.parametrize(
    ("encode", "decode"), [(ulaw_encode, ulaw_decode), (alaw_encode, alaw_decode)]
)
def test_every_code_round_trips_through_linear(encode: Codec, decode: Codec) -> None:
    codes = bytes(range(256))
    linear = decode(codes)
    # re-encoding a decoded value gives a code that decodes to the same value
    assert decode(encode(linear)) == linear


@pytest.mark.parametrize(
    ("encode", "decode"), [(ulaw_encode, ulaw_decode), (alaw_encode, alaw_decode)]
)
def test_quantisation_error_is_logarithmic(encode: Codec, decode: Codec) -> None:
    rng = random.Random(4)
    samples = [rng.randint(-32768, 32767) for _ in range(5000)]
    back = _unpcm(decode(encode(_pcm(samples))))
    for s, b in zip(samples, back, strict=True):
        # 8-bit companding: error ≤ ~1/16 of the magnitude (+ a small floor near zero)
        assert abs(s - b) <= abs(s) / 16 + 40, (s, b)
        assert (s >= 0) == (b >= 0) or abs(s) < 40


def test_decoders_are_monotonic_in_magnitude() -> None:
    for decode in (ulaw_decode, alaw_decode):
        values = sorted(set(_unpcm(decode(bytes(range(256))))))
        assert len(values) >= 255  # µ-law has ±0, A-law none


def test_transcoding_preserves_signal() -> None:
    tone = _pcm([round(10000 * math.sin(i / 5)) for i in range(800)])
    u = ulaw_encode(tone)
    a = ulaw_to_alaw(u)
    assert a != u
    back = _unpcm(alaw_decode(a))
    for x, y in zip(_unpcm(tone), back, strict=True):
        assert abs(x - y) <= abs(x) / 8 + 40
    # and back to µ-law: a tandem of two 8-bit codecs stays within a step of the original
    twice = _unpcm(ulaw_decode(alaw_to_ulaw(a)))
    for x, y in zip(_unpcm(tone), twice, strict=True):
        assert abs(x - y) <= abs(x) / 6 + 60


def test_odd_pcm_length_is_rejected() -> None:
    with pytest.raises(ValueError, match="odd number of bytes"):
        ulaw_encode(b"\x00\x01\x02")


# --- packets ---


def test_packet_round_trip_and_header_bits() -> None:
    p = RtpPacket(8, 65535, 0xFFFFFFFF, 0x12345678, True, b"abc")
    raw = p.encode()
    assert raw[0] == 0x80 and raw[1] == 0x88
    assert RtpPacket.decode(raw) == p


def test_packet_with_csrc_extension_padding() -> None:
    header = bytes([0x80 | 0x20 | 0x10 | 1, 0, 0, 1]) + struct.pack("!II", 160, 7)
    csrc = struct.pack("!I", 99)
    ext = struct.pack("!HH", 0xBEDE, 1) + b"\x00" * 4
    raw = header + csrc + ext + b"PAYLOAD" + b"\x00\x00\x03"
    p = RtpPacket.decode(raw)
    assert p.payload == b"PAYLOAD"
    assert (p.seq, p.timestamp, p.ssrc) == (1, 160, 7)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"\x80\x00", "too short"),
        (b"\x40" + b"\x00" * 11, "version 1"),
        (b"\x8f" + b"\x00" * 11, "longer"),
    ],
)
def test_bad_packets_raise_clear_errors(raw: bytes, message: str) -> None:
    with pytest.raises(RtpError, match=message):
        RtpPacket.decode(raw)


def test_dtmf_payload_layout_and_validation() -> None:
    assert dtmf_payload("#", end=True, duration=800, volume=10) == bytes([11, 0x8A, 0x03, 0x20])
    with pytest.raises(ValueError, match="not a DTMF digit"):
        dtmf_payload("x", end=False, duration=0)


# --- endpoint over loopback ---


async def _pair(**kwargs: Any) -> tuple[RtpEndpoint, RtpEndpoint]:
    a = await RtpEndpoint.open("127.0.0.1", (40000, 40100))
    b = await RtpEndpoint.open("127.0.0.1", (40100, 40200), **kwargs)
    a.set_remote("127.0.0.1", b.port)
    b.set_remote("127.0.0.1", a.port)
    return a, b


async def test_ports_are_even_and_distinct() -> None:
    eps = [await RtpEndpoint.open("127.0.0.1", (41000, 41010)) for _ in range(5)]
    try:
        ports = {e.port for e in eps}
        assert len(ports) == 5 and all(p % 2 == 0 for p in ports)
        with pytest.raises(OSError, match="no free RTP port"):
            await RtpEndpoint.open("127.0.0.1", (41000, 41010))
    finally:
        for e in eps:
            await e.close()


async def test_play_paces_frames_with_correct_seq_timestamp_marker() -> None:
    received: list[tuple[float, RtpPacket]] = []
    loop = asyncio.get_running_loop()
    a, b = await _pair(on_audio=lambda p: received.append((loop.time(), p)))
    try:
        frames = 25
        prompt = Prompt("t", bytes(range(256)) * (frames * FRAME_SAMPLES // 256) + b"\x01" * 64)
        # 25×160 = 4000 bytes: 15×256 = 3840 + 64 = 3904 → padded to 25 frames
        t0 = loop.time()
        await a.play(prompt)
        elapsed = loop.time() - t0
        await asyncio.sleep(0.05)
        assert len(received) == frames
        # frame i leaves at i×20 ms: 25 frames span 24×20 = 480 ms
        assert 0.46 <= elapsed <= 0.70, elapsed
        pkts = [p for _, p in received]
        assert [p.seq for p in pkts] == [(pkts[0].seq + i) & 0xFFFF for i in range(frames)]
        assert [p.timestamp for p in pkts] == [
            (pkts[0].timestamp + i * 160) & 0xFFFFFFFF for i in range(frames)
        ]
        assert pkts[0].marker and not any(p.marker for p in pkts[1:])
        assert {p.ssrc for p in pkts} == {a.ssrc} and {p.payload_type for p in pkts} == {PT_PCMU}
        assert all(len(p.payload) == 160 for p in pkts)
        assert pkts[-1].payload.endswith(b"\xff" * 96)  # padded with µ-law silence
        assert b"".join(p.payload for p in pkts).startswith(prompt.ulaw)
        assert a.first_sent_at is not None and t0 <= a.first_sent_at < t0 + 0.02
        assert b.first_audio_received_at is not None
        assert b.first_audio_received_at - a.first_sent_at < 0.02
    finally:
        await a.close()
        await b.close()


async def test_pacing_does_not_drift_under_late_wakeups() -> None:
    """A busy loop delays single frames; the schedule from the start keeps the total."""
    received: list[float] = []
    loop = asyncio.get_running_loop()
    a, b = await _pair(on_audio=lambda p: received.append(loop.time()))

    async def hog() -> None:
        for _ in range(35):
            await asyncio.sleep(0.005)
            t = loop.time()
            while loop.time() - t < 0.012:  # block the loop 12 ms at a time
                pass

    try:
        t0 = loop.time()
        hog_task = asyncio.create_task(hog())
        await a.play(Prompt("t", b"\xff" * 160 * 30))
        elapsed = loop.time() - t0
        await hog_task
        await asyncio.sleep(0.03)
        assert len(received) == 30
        # 29 × 20 ms = 0.58 s; sleep(0.02) per frame measured 0.72 s under this hog
        assert 0.57 <= elapsed <= 0.65, elapsed
    finally:
        await a.close()
        await b.close()


async def test_pcma_peer_gets_alaw_and_repeat_and_stop() -> None:
    got: list[RtpPacket] = []
    a, b = await _pair(on_audio=got.append)
    a.set_remote("127.0.0.1", b.port, payload_type=PT_PCMA)
    try:
        await a.play(Prompt("t", b"\xff" * 320), repeat=3)
        await asyncio.sleep(0.03)
        assert len(got) == 6 and {p.payload_type for p in got} == {PT_PCMA}
        assert got[0].payload == b"\xd5" * 160  # µ-law silence became A-law silence
        got.clear()
        task = asyncio.create_task(a.play(Prompt("long", b"\xff" * 8000 * 5)))
        await asyncio.sleep(0.1)
        a.stop_playback()
        await asyncio.wait_for(task, 0.1)
        assert 3 <= len(got) <= 8
    finally:
        await a.close()
        await b.close()


async def test_play_without_remote_or_bad_args() -> None:
    ep = await RtpEndpoint.open()
    try:
        with pytest.raises(RuntimeError, match="set_remote"):
            await ep.play(Prompt("t", b"\xff"))
        with pytest.raises(ValueError, match="unsupported RTP payload type 18"):
            ep.set_remote("127.0.0.1", 9, payload_type=18)
        ep.set_remote("127.0.0.1", 9)
        with pytest.raises(ValueError, match="repeat"):
            await ep.play(Prompt("t", b"\xff"), repeat=0)
    finally:
        await ep.close()
    await ep.play(Prompt("t", b"\xff" * 1600))  # closed: returns at once, sends nothing
    assert ep.packets_sent == 0


async def test_dtmf_send_receive_dedupes_repeated_packets() -> None:
    digits: list[DtmfDigit] = []
    a, b = await _pair(on_dtmf=digits.append)
    try:
        await a.send_dtmf("9", duration_ms=100)
        await a.send_dtmf("#", duration_ms=60)
        await asyncio.sleep(0.05)
        # 100 ms = 5 updates + 3 end packets; 60 ms = 3 + 3: 14 packets, 2 digits
        assert b.packets_received == 14
        assert [d.digit for d in digits] == ["9", "#"]
        assert [b.dtmf.get_nowait().digit for _ in range(2)] == ["9", "#"]
        assert b.dtmf.empty()
        assert b.first_audio_received_at is None  # DTMF is not audio
        assert digits[0].timestamp != digits[1].timestamp
    finally:
        await a.close()
        await b.close()


async def test_dtmf_end_packets_alone_still_report_once() -> None:
    """If the start of an event is lost, its end packets report the digit, once."""
    a, b = await _pair()
    try:
        transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
            asyncio.DatagramProtocol, remote_addr=("127.0.0.1", b.port)
        )
        for seq in range(3):
            transport.sendto(
                RtpPacket(
                    101, seq, 4000, 5, False, dtmf_payload("5", end=True, duration=800)
                ).encode()
            )
        transport.sendto(b"junk")
        await asyncio.sleep(0.05)
        transport.close()
        assert b.dtmf.qsize() == 1 and b.dtmf.get_nowait().digit == "5"
        assert b.malformed_received == 1
    finally:
        await a.close()
        await b.close()


async def test_send_dtmf_rejects_bad_digit_before_sending() -> None:
    a, b = await _pair()
    try:
        with pytest.raises(ValueError, match="not a DTMF digit"):
            await a.send_dtmf("Z")
        assert a.packets_sent == 0
        a.set_remote("127.0.0.1", b.port, dtmf_payload_type=None)
        with pytest.raises(RuntimeError, match="telephone-event"):
            await a.send_dtmf("1")
    finally:
        await a.close()
        await b.close()
