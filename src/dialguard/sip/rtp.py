"""RTP media for dialguard: G.711 codecs, a paced asyncio RTP endpoint, RFC 4733 DTMF.

dialguard needs little of media: play a short information message to a callee who
answered when no agent is free (the law wants it within 2 s of answer, never silence),
hear the opt-out key (RFC 4733 telephone-event), and — in the simulator — press that
key. That is small enough to do in asyncio without threads or a media library:

* G.711 µ-law (PT 0) and A-law (PT 8) are written here from the ITU-T G.711 segment
  rules (``audioop`` is deprecated and gone in Python 3.13).
* :class:`RtpEndpoint` binds a UDP port on the address given in our SDP, sends 20 ms
  frames (160 bytes) timed against the loop clock from the start of playback, so the
  stream never drifts however late a single wake-up is, and receives audio and DTMF.
* Times are ``loop.time()`` values, as in :mod:`dialguard.sip.api`, so "answer to first
  audio packet" is measured on one clock.
"""

from __future__ import annotations

import asyncio
import functools
import random
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dialguard.logs import get_logger
from dialguard.sip.api import Prompt

log = get_logger(__name__)

PT_PCMU = 0
PT_PCMA = 8
DEFAULT_DTMF_PT = 101
SAMPLE_RATE = 8000
FRAME_MS = 20
FRAME_SAMPLES = SAMPLE_RATE * FRAME_MS // 1000  # 160 samples = 160 bytes of G.711
FRAME_S = FRAME_MS / 1000.0
ULAW_SILENCE = 0xFF
ALAW_SILENCE = 0xD5
DEFAULT_PORT_RANGE = (20000, 30000)

_RTP_HEADER = struct.Struct("!BBHII")
_DTMF_PAYLOAD = struct.Struct("!BBH")
DTMF_EVENTS = "0123456789*#ABCD"
"""RFC 4733 event codes 0–15, in order."""

# --- G.711 ---------------------------------------------------------------------------

_ULAW_BIAS = 0x84
_ULAW_CLIP = 32635


def _ulaw_encode_sample(sample: int) -> int:
    """One linear 16-bit sample to its µ-law code (G.711, sign-magnitude, 8 segments)."""
    sign = 0x80 if sample < 0 else 0
    magnitude = min(-sample if sign else sample, _ULAW_CLIP) + _ULAW_BIAS
    exponent = (magnitude >> 7).bit_length() - 1
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


def _ulaw_decode_code(code: int) -> int:
    u = ~code & 0xFF
    exponent = (u >> 4) & 0x07
    magnitude = (((u & 0x0F) << 3) + _ULAW_BIAS) << exponent
    magnitude -= _ULAW_BIAS
    return -magnitude if u & 0x80 else magnitude


_ALAW_SEGMENT_ENDS = (0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF)


def _alaw_encode_sample(sample: int) -> int:
    """One linear 16-bit sample to its A-law code (13-bit magnitude, even bits inverted)."""
    value = sample >> 3
    if value >= 0:
        mask = 0xD5
    else:
        mask = 0x55
        value = -value - 1
    segment = next((i for i, end in enumerate(_ALAW_SEGMENT_ENDS) if value <= end), 8)
    if segment >= 8:
        return 0x7F ^ mask
    code = segment << 4
    code |= (value >> 1) & 0x0F if segment < 2 else (value >> segment) & 0x0F
    return code ^ mask


def _alaw_decode_code(code: int) -> int:
    a = code ^ 0x55
    magnitude = (a & 0x0F) << 4
    segment = (a & 0x70) >> 4
    if segment == 0:
        magnitude += 8
    elif segment == 1:
        magnitude += 0x108
    else:
        magnitude = (magnitude + 0x108) << (segment - 1)
    return magnitude if a & 0x80 else -magnitude


@functools.cache
def _encode_table(law: str) -> bytes:
    """Code for every 16-bit sample, indexed by ``sample & 0xFFFF``: one lookup per
    sample keeps prompt conversion fast without numpy or audioop."""
    fn = _ulaw_encode_sample if law == "ulaw" else _alaw_encode_sample
    return bytes(fn(s - 65536 if s >= 32768 else s) for s in range(65536))


@functools.cache
def _decode_table(law: str) -> tuple[int, ...]:
    fn = _ulaw_decode_code if law == "ulaw" else _alaw_decode_code
    return tuple(fn(c) for c in range(256))


@functools.cache
def _pcm16_table(law: str) -> tuple[bytes, ...]:
    return tuple(struct.pack("<h", v) for v in _decode_table(law))


def _samples(pcm16le: bytes) -> tuple[int, ...]:
    if len(pcm16le) % 2:
        raise ValueError(f"PCM16 data has an odd number of bytes ({len(pcm16le)})")
    return struct.unpack(f"<{len(pcm16le) // 2}h", pcm16le)


def ulaw_encode(pcm16le: bytes) -> bytes:
    """Little-endian signed 16-bit PCM → G.711 µ-law, one byte per sample."""
    table = _encode_table("ulaw")
    return bytes(table[s & 0xFFFF] for s in _samples(pcm16le))


def alaw_encode(pcm16le: bytes) -> bytes:
    """Little-endian signed 16-bit PCM → G.711 A-law, one byte per sample."""
    table = _encode_table("alaw")
    return bytes(table[s & 0xFFFF] for s in _samples(pcm16le))


def ulaw_decode(data: bytes) -> bytes:
    """G.711 µ-law → little-endian signed 16-bit PCM."""
    table = _pcm16_table("ulaw")
    return b"".join(table[c] for c in data)


def alaw_decode(data: bytes) -> bytes:
    """G.711 A-law → little-endian signed 16-bit PCM."""
    table = _pcm16_table("alaw")
    return b"".join(table[c] for c in data)


@functools.cache
def _transcode_table(src: str, dst: str) -> bytes:
    """256 entries, built from the sample rules directly (not the 64 K table), so the
    first A-law playback of a call is not delayed by table building."""
    encode = _ulaw_encode_sample if dst == "ulaw" else _alaw_encode_sample
    return bytes(encode(v) for v in _decode_table(src))


def ulaw_to_alaw(data: bytes) -> bytes:
    """µ-law → A-law by one 256-entry table (prompts are stored µ-law; a peer may want A)."""
    return data.translate(_transcode_table("ulaw", "alaw"))


def alaw_to_ulaw(data: bytes) -> bytes:
    """A-law → µ-law by one 256-entry table."""
    return data.translate(_transcode_table("alaw", "ulaw"))


# --- RTP packets ---------------------------------------------------------------------


class RtpError(ValueError):
    """A datagram that is not a well-formed RTP version 2 packet."""


@dataclass(frozen=True, slots=True)
class RtpPacket:
    """One RTP packet (RFC 3550); CSRCs and header extensions are parsed past, not kept."""

    payload_type: int
    seq: int
    timestamp: int
    ssrc: int
    marker: bool
    payload: bytes

    def encode(self) -> bytes:
        b1 = (0x80 if self.marker else 0) | (self.payload_type & 0x7F)
        return _RTP_HEADER.pack(0x80, b1, self.seq, self.timestamp, self.ssrc) + self.payload

    @classmethod
    def decode(cls, data: bytes) -> RtpPacket:
        if len(data) < _RTP_HEADER.size:
            raise RtpError(f"RTP packet too short ({len(data)} bytes, header needs 12)")
        b0, b1, seq, ts, ssrc = _RTP_HEADER.unpack_from(data)
        if b0 >> 6 != 2:
            raise RtpError(f"RTP version {b0 >> 6}, expected 2")
        offset = _RTP_HEADER.size + 4 * (b0 & 0x0F)
        if b0 & 0x10:  # header extension: 16-bit profile, 16-bit length in words
            if len(data) < offset + 4:
                raise RtpError("RTP header extension truncated")
            (ext_words,) = struct.unpack_from("!H", data, offset + 2)
            offset += 4 + 4 * ext_words
        end = len(data)
        if b0 & 0x20:  # padding: last byte says how many bytes to drop
            end -= data[-1]
        if offset > end:
            raise RtpError("RTP header longer than the packet")
        return cls(b1 & 0x7F, seq, ts, ssrc, bool(b1 & 0x80), bytes(data[offset:end]))


@dataclass(frozen=True, slots=True)
class DtmfDigit:
    """A telephone-event digit received once (its repeated packets are folded into one)."""

    digit: str
    t: float  # loop.time() of the first packet of the event seen
    timestamp: int  # RTP timestamp of the event: its identity for deduplication


def dtmf_payload(digit: str, *, end: bool, duration: int, volume: int = 10) -> bytes:
    """RFC 4733 payload: event, E bit, volume (dBm0 below 0, 0–63), duration in ticks."""
    event = _dtmf_event(digit)
    if not 0 <= volume <= 63:
        raise ValueError(f"DTMF volume must be 0–63 (-dBm0), got {volume}")
    return _DTMF_PAYLOAD.pack(event, (0x80 if end else 0) | volume, min(duration, 0xFFFF))


def _dtmf_event(digit: str) -> int:
    d = digit.upper()
    if len(d) != 1 or d not in DTMF_EVENTS:
        raise ValueError(f"not a DTMF digit: {digit!r} (expected one of {DTMF_EVENTS})")
    return DTMF_EVENTS.index(d)


# --- the endpoint --------------------------------------------------------------------


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, endpoint: RtpEndpoint) -> None:
        self._endpoint = endpoint

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self._endpoint._received(data, addr)

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable after the peer hung up: expected, not worth more than debug
        log.debug("rtp_socket_error", error=str(exc))


class RtpEndpoint:
    """One call's media: a UDP port on ``host``, a send stream with one SSRC, and receive.

    Use: ``ep = await RtpEndpoint.open(host)``; put ``ep.port`` in the SDP; once the
    peer's SDP is known, ``ep.set_remote(addr, port, payload_type, dtmf_payload_type)``;
    then ``await ep.play(prompt)`` / ``await ep.send_dtmf("9")``; read digits from
    ``await ep.dtmf.get()`` or an ``on_dtmf`` callback; ``await ep.close()`` at the end.
    """

    def __init__(
        self,
        *,
        on_audio: Callable[[RtpPacket], None] | None = None,
        on_dtmf: Callable[[DtmfDigit], None] | None = None,
        ssrc: int | None = None,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.DatagramTransport | None = None
        self.host = ""
        self.port = 0
        self.on_audio = on_audio
        self.on_dtmf = on_dtmf
        self.ssrc = ssrc if ssrc is not None else random.getrandbits(32)
        self._seq = random.getrandbits(16)
        self._ts_base = random.getrandbits(32)
        self._t0 = self._loop.time()
        self._remote: tuple[str, int] | None = None
        self.payload_type = PT_PCMU
        self.dtmf_payload_type: int | None = DEFAULT_DTMF_PT
        self._play_generation = 0
        self._closed = False
        self._seen_dtmf: dict[tuple[int, int], None] = {}  # (ssrc, timestamp), oldest first
        self.dtmf: asyncio.Queue[DtmfDigit] = asyncio.Queue(maxsize=64)
        """Digits received, in order; full after 64 unread digits (then they are dropped)."""
        self.first_sent_at: float | None = None
        self.first_received_at: float | None = None
        self.first_audio_received_at: float | None = None
        self.packets_sent = 0
        self.packets_received = 0
        self.malformed_received = 0

    # lifecycle

    @classmethod
    async def open(
        cls,
        host: str = "127.0.0.1",
        port_range: tuple[int, int] = DEFAULT_PORT_RANGE,
        **kwargs: Any,
    ) -> RtpEndpoint:
        """Bind the first free even port of ``port_range`` (inclusive start, exclusive
        end), starting at a random place so concurrent calls rarely collide."""
        lo, hi = port_range
        if not 0 < lo < hi <= 65536:
            raise ValueError(f"RTP port range must be within 1–65535, got {lo}–{hi}")
        ep = cls(**kwargs)
        candidates = list(range(lo + (lo % 2), hi, 2)) or [lo]
        start = random.randrange(len(candidates))
        last_error: OSError | None = None
        for port in candidates[start:] + candidates[:start]:
            try:
                transport, _ = await ep._loop.create_datagram_endpoint(
                    lambda: _Protocol(ep), local_addr=(host, port)
                )
            except OSError as e:
                last_error = e
                continue
            ep._transport = transport
            ep.host, ep.port = host, port
            return ep
        raise OSError(f"no free RTP port on {host} in {lo}–{hi - 1}: {last_error}")

    async def close(self) -> None:
        """Stop playback and release the port; safe to call twice."""
        self.close_now()

    def close_now(self) -> None:
        """:meth:`close` for callers that cannot await (callbacks, timer handlers)."""
        self._closed = True
        self._play_generation += 1
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    @property
    def closed(self) -> bool:
        return self._closed

    def set_remote(
        self,
        host: str,
        port: int,
        payload_type: int = PT_PCMU,
        dtmf_payload_type: int | None = DEFAULT_DTMF_PT,
    ) -> None:
        """Where to send, and the codec agreed in SDP (PT 0 µ-law or PT 8 A-law)."""
        if payload_type not in (PT_PCMU, PT_PCMA):
            raise ValueError(f"unsupported RTP payload type {payload_type} (only 0 PCMU, 8 PCMA)")
        if not 0 < port < 65536:
            raise ValueError(f"remote RTP port out of range: {port}")
        self._remote = (host, port)
        self.payload_type = payload_type
        self.dtmf_payload_type = dtmf_payload_type

    @property
    def remote(self) -> tuple[str, int] | None:
        return self._remote

    # sending

    def _media_timestamp(self) -> int:
        """RTP timestamp of "now": the 8 kHz sampling clock, started at a random value."""
        return (self._ts_base + round((self._loop.time() - self._t0) * SAMPLE_RATE)) & 0xFFFFFFFF

    def _send(self, pt: int, timestamp: int, marker: bool, payload: bytes) -> None:
        if self._transport is None or self._remote is None:
            return
        packet = RtpPacket(pt, self._seq, timestamp & 0xFFFFFFFF, self.ssrc, marker, payload)
        self._seq = (self._seq + 1) & 0xFFFF
        self._transport.sendto(packet.encode(), self._remote)
        self.packets_sent += 1
        if self.first_sent_at is None:
            self.first_sent_at = self._loop.time()

    def stop_playback(self) -> None:
        """Make the current :meth:`play` return within one frame."""
        self._play_generation += 1

    async def play(self, prompt: Prompt, *, repeat: int = 1) -> None:
        """Send ``prompt`` ``repeat`` times as 20 ms frames; return when done, stopped
        (:meth:`stop_playback`, a newer :meth:`play`) or closed.

        Frame *i* is due at ``start + i × 20 ms`` on the loop clock, so a late wake-up
        delays one frame, not all that follow. If the loop stalls for more than three
        frames the schedule restarts from now rather than bursting to catch up.
        """
        if repeat < 1:
            raise ValueError(f"repeat must be ≥ 1, got {repeat}")
        if self._remote is None:
            raise RuntimeError("RTP endpoint has no remote address: call set_remote() first")
        if self._closed:
            return
        self._play_generation += 1
        generation = self._play_generation
        audio = prompt.ulaw if self.payload_type == PT_PCMU else ulaw_to_alaw(prompt.ulaw)
        silence = ULAW_SILENCE if self.payload_type == PT_PCMU else ALAW_SILENCE
        if len(audio) % FRAME_SAMPLES:
            audio += bytes([silence]) * (FRAME_SAMPLES - len(audio) % FRAME_SAMPLES)
        frames = [audio[i : i + FRAME_SAMPLES] for i in range(0, len(audio), FRAME_SAMPLES)]
        frames *= repeat
        timestamp = self._media_timestamp()
        start = self._loop.time()
        index = 0  # frames due since ``start``
        for n, frame in enumerate(frames):
            due = start + index * FRAME_S
            delay = due - self._loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -3 * FRAME_S:
                start, index = self._loop.time(), 0
            if generation != self._play_generation or self._closed:
                return
            self._send(self.payload_type, timestamp + n * FRAME_SAMPLES, n == 0, frame)
            index += 1
        log.debug("rtp_played", prompt=prompt.name, frames=len(frames), port=self.port)

    async def send_dtmf(self, digit: str, *, duration_ms: int = 100, volume: int = 10) -> None:
        """Send one RFC 4733 digit: an update every 20 ms (marker on the first), then
        the end packet three times, all with the event's start timestamp."""
        if self._remote is None:
            raise RuntimeError("RTP endpoint has no remote address: call set_remote() first")
        if self.dtmf_payload_type is None:
            raise RuntimeError("the peer did not offer telephone-event: cannot send DTMF")
        if not 40 <= duration_ms <= 5000:
            raise ValueError(f"DTMF duration must be 40–5000 ms, got {duration_ms}")
        pt = self.dtmf_payload_type
        dtmf_payload(digit, end=False, duration=0, volume=volume)  # validate before sending
        timestamp = self._media_timestamp()
        total = duration_ms * SAMPLE_RATE // 1000
        start = self._loop.time()
        elapsed, n = 0, 0
        while elapsed < total and not self._closed:
            elapsed = min(total, elapsed + FRAME_SAMPLES)
            payload = dtmf_payload(digit, end=False, duration=elapsed, volume=volume)
            self._send(pt, timestamp, n == 0, payload)
            n += 1
            delay = start + n * FRAME_S - self._loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
        for _ in range(3):
            self._send(pt, timestamp, False, dtmf_payload(digit, end=True, duration=total))

    # receiving

    def _received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        now = self._loop.time()
        try:
            packet = RtpPacket.decode(data)
        except RtpError:
            self.malformed_received += 1
            return
        self.packets_received += 1
        if self.first_received_at is None:
            self.first_received_at = now
        if self.dtmf_payload_type is not None and packet.payload_type == self.dtmf_payload_type:
            self._received_dtmf(packet, now)
            return
        if self.first_audio_received_at is None:
            self.first_audio_received_at = now
        if self.on_audio is not None:
            self.on_audio(packet)

    def _received_dtmf(self, packet: RtpPacket, now: float) -> None:
        """One digit per event: all packets of an event (updates and the repeated end
        packets) share its RTP timestamp, so the first one seen reports the digit."""
        if len(packet.payload) < _DTMF_PAYLOAD.size:
            self.malformed_received += 1
            return
        event = packet.payload[0]
        if event >= len(DTMF_EVENTS):
            return  # other telephone events (flash, tones): not digits
        key = (packet.ssrc, packet.timestamp)
        if key in self._seen_dtmf:
            return
        self._seen_dtmf[key] = None
        if len(self._seen_dtmf) > 32:
            del self._seen_dtmf[next(iter(self._seen_dtmf))]
        digit = DtmfDigit(DTMF_EVENTS[event], now, packet.timestamp)
        try:
            self.dtmf.put_nowait(digit)
        except asyncio.QueueFull:
            log.warning("rtp_dtmf_dropped", reason="queue full", port=self.port)
        if self.on_dtmf is not None:
            self.on_dtmf(digit)
