"""Tests for dialguard.sip.prompt: WAV/raw loading into µ-law, and its error messages."""

from __future__ import annotations

import math
import struct
import wave
from collections.abc import Callable
from pathlib import Path

import pytest

from dialguard.sip.prompt import PromptError, default_prompt, load_prompt
from dialguard.sip.rtp import ulaw_decode, ulaw_encode, ulaw_to_alaw

TONE = struct.pack("<800h", *(round(9000 * math.sin(i / 3)) for i in range(800)))


def _wav(
    path: Path,
    *,
    tag: int,
    channels: int = 1,
    rate: int = 8000,
    bits: int = 16,
    data: bytes = TONE,
    extra_chunk: bool = False,
) -> Path:
    block = channels * bits // 8
    fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * block, block, bits)
    chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt
    if extra_chunk:  # an odd-sized LIST chunk exercises padding
        chunks += b"LIST" + struct.pack("<I", 3) + b"abc\x00"
    chunks += b"data" + struct.pack("<I", len(data)) + data
    path.write_bytes(b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks)
    return path


def test_pcm16_wav_written_by_stdlib_is_converted(tmp_path: Path) -> None:
    path = tmp_path / "msg.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(TONE)
    p = load_prompt(path)
    assert p.name == "msg.wav" and p.ulaw == ulaw_encode(TONE)
    assert p.duration_s == pytest.approx(0.1)


def test_ulaw_and_alaw_wav_and_padding(tmp_path: Path) -> None:
    u = ulaw_encode(TONE)
    assert load_prompt(_wav(tmp_path / "u.wav", tag=7, bits=8, data=u, extra_chunk=True)).ulaw == u
    a = ulaw_to_alaw(u)
    back = load_prompt(_wav(tmp_path / "a.wav", tag=6, bits=8, data=a)).ulaw
    assert len(back) == len(u)
    # A-law → µ-law is lossy by at most one step; compare as linear audio
    lin_u = struct.unpack("<800h", ulaw_decode(u))
    lin_b = struct.unpack("<800h", ulaw_decode(back))
    assert all(abs(x - y) <= abs(x) / 8 + 40 for x, y in zip(lin_u, lin_b, strict=True))


def test_extensible_pcm_wav(tmp_path: Path) -> None:
    fmt = (
        struct.pack("<HHIIHHHHI", 0xFFFE, 1, 8000, 16000, 2, 16, 22, 16, 4)
        + struct.pack("<H", 1)
        + b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
    )
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(TONE)) + TONE
    path = tmp_path / "x.wav"
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    assert load_prompt(path).ulaw == ulaw_encode(TONE)


def test_raw_files(tmp_path: Path) -> None:
    (tmp_path / "m.ulaw").write_bytes(b"\x10\x20" * 100)
    assert load_prompt(tmp_path / "m.ulaw").ulaw == b"\x10\x20" * 100
    (tmp_path / "m.alaw").write_bytes(b"\xd5" * 10)
    # A-law has no zero: its quietest code (+8) is µ-law 0xFE, one step above silence
    assert load_prompt(tmp_path / "m.alaw").ulaw == b"\xfe" * 10


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: _wav(d / "s.wav", tag=1, channels=2), "2 channels; .* mono"),
        (lambda d: _wav(d / "r.wav", tag=1, rate=16000), "sample rate 16000 Hz; must be 8000"),
        (lambda d: _wav(d / "f.wav", tag=3, bits=32), r"format tag 0x0003 \(IEEE float\)"),
        (lambda d: _wav(d / "b.wav", tag=1, bits=8), "8-bit PCM"),
        (lambda d: _wav(d / "e.wav", tag=7, bits=8, data=b""), "no audio"),
        (lambda d: (d / "t.wav").write_bytes(b"hello") and d / "t.wav", "no RIFF header"),
        (lambda d: (d / "n.mp3").write_bytes(b"ID3") and d / "n.mp3", "unknown format '.mp3'"),
        (lambda d: d / "missing.wav", "file not found"),
    ],
)
def test_errors_name_file_and_fault(
    tmp_path: Path, make: Callable[[Path], Path], message: str
) -> None:
    path = make(tmp_path)
    with pytest.raises(PromptError, match=message) as info:
        load_prompt(path)
    assert str(path) in str(info.value)


def test_wav_without_data_chunk(tmp_path: Path) -> None:
    fmt = struct.pack("<HHIIHH", 1, 1, 8000, 16000, 2, 16)
    body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt
    (tmp_path / "x.wav").write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    with pytest.raises(PromptError, match="no 'data' chunk"):
        load_prompt(tmp_path / "x.wav")


def test_too_long_prompt_is_refused(tmp_path: Path) -> None:
    (tmp_path / "long.ul").write_bytes(b"\xff" * 8000 * 121)
    with pytest.raises(PromptError, match="121 s long"):
        load_prompt(tmp_path / "long.ul")


def test_default_prompt_is_audible_tones() -> None:
    p = default_prompt()
    assert 0.8 < p.duration_s < 1.5
    lin = struct.unpack(f"<{len(p.ulaw)}h", ulaw_decode(p.ulaw))
    assert max(lin) > 6000  # not silence
    assert lin[1600] == 0 or abs(lin[1600]) < 100  # a gap between beeps (200 ms in)
    assert default_prompt() is p  # built once
