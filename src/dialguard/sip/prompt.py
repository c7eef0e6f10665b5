"""Loading the campaign's information message, converted once to 8 kHz µ-law.

The message a callee hears when no agent is free must start within 2 s of answer, so
nothing is decoded or resampled during a call: :func:`load_prompt` reads the file when
the campaign loads and keeps µ-law bytes ready for RTP. It accepts what telephony
systems produce — 8 kHz mono WAV in PCM16, µ-law or A-law, or headerless ``.ulaw`` /
``.alaw`` — and refuses anything else with an error naming the file and the fault (we do
not resample: a wrong rate is a wrong file, better found at load than heard on a call).

:func:`default_prompt` is a short tone sequence for campaigns that set no file, so a
call is never silent even then. It is not a legal information message (it says nothing
of who called); campaigns in regulated regimes should configure a recorded one.
"""

from __future__ import annotations

import functools
import math
import struct
from pathlib import Path

from dialguard.sip.api import Prompt
from dialguard.sip.rtp import SAMPLE_RATE, alaw_to_ulaw, ulaw_encode

WAVE_FORMAT_PCM = 0x0001
WAVE_FORMAT_ALAW = 0x0006
WAVE_FORMAT_MULAW = 0x0007
WAVE_FORMAT_EXTENSIBLE = 0xFFFE
_FORMAT_NAMES = {1: "PCM", 3: "IEEE float", 6: "A-law", 7: "µ-law", 0x11: "IMA ADPCM"}
MAX_PROMPT_S = 120.0
"""A message longer than this is almost certainly the wrong file (or marketing)."""
RAW_ULAW_SUFFIXES = (".ulaw", ".ul", ".mulaw", ".mu", ".pcmu")
RAW_ALAW_SUFFIXES = (".alaw", ".al", ".pcma")


class PromptError(ValueError):
    """A prompt file dialguard cannot play; the message names the file and the fault."""

    def __init__(self, path: Path | str, problem: str) -> None:
        super().__init__(f"prompt {path}: {problem}")
        self.path = str(path)
        self.problem = problem


def load_prompt(path: str | Path) -> Prompt:
    """Read an 8 kHz mono WAV (PCM16, µ-law, A-law) or raw µ-law/A-law file as µ-law."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise PromptError(p, "file not found") from None
    except OSError as e:
        raise PromptError(p, f"cannot read: {e.strerror or e}") from None
    suffix = p.suffix.lower()
    if data[:4] == b"RIFF":
        ulaw = _wav_to_ulaw(p, data)
    elif suffix in RAW_ULAW_SUFFIXES:
        ulaw = data
    elif suffix in RAW_ALAW_SUFFIXES:
        ulaw = alaw_to_ulaw(data)
    elif suffix == ".wav":
        raise PromptError(p, "not a WAV file (no RIFF header)")
    else:
        raise PromptError(
            p,
            f"unknown format {suffix or '(no extension)'!r}: use an 8 kHz mono WAV "
            f"or raw {'/'.join(RAW_ULAW_SUFFIXES + RAW_ALAW_SUFFIXES)}",
        )
    if not ulaw:
        raise PromptError(p, "no audio (0 samples)")
    duration = len(ulaw) / SAMPLE_RATE
    if duration > MAX_PROMPT_S:
        raise PromptError(p, f"{duration:.0f} s long, the limit is {MAX_PROMPT_S:.0f} s")
    return Prompt(name=p.name, ulaw=ulaw)


def _wav_to_ulaw(p: Path, data: bytes) -> bytes:
    if len(data) < 12 or data[8:12] != b"WAVE":
        raise PromptError(p, "RIFF file is not WAVE")
    fmt: tuple[int, int, int, int] | None = None
    audio: bytes | None = None
    offset = 12
    while offset + 8 <= len(data):
        chunk_id = data[offset : offset + 4]
        (size,) = struct.unpack_from("<I", data, offset + 4)
        body = data[offset + 8 : offset + 8 + size]
        if chunk_id == b"fmt ":
            if len(body) < 16:
                raise PromptError(p, f"'fmt ' chunk too short ({len(body)} bytes)")
            tag, channels, rate, _byte_rate, _align, bits = struct.unpack_from("<HHIIHH", body)
            if tag == WAVE_FORMAT_EXTENSIBLE:
                if len(body) < 26:
                    raise PromptError(p, "WAVE_FORMAT_EXTENSIBLE 'fmt ' chunk truncated")
                (tag,) = struct.unpack_from("<H", body, 24)  # first two bytes of SubFormat
            fmt = (tag, channels, rate, bits)
        elif chunk_id == b"data":
            audio = body  # a truncated data chunk (size past EOF) is played as far as it goes
        offset += 8 + size + (size & 1)  # chunks are padded to even length
    if fmt is None:
        raise PromptError(p, "WAV has no 'fmt ' chunk")
    if audio is None:
        raise PromptError(p, "WAV has no 'data' chunk")
    tag, channels, rate, bits = fmt
    if channels != 1:
        raise PromptError(p, f"{channels} channels; telephony prompts must be mono")
    if rate != SAMPLE_RATE:
        raise PromptError(p, f"sample rate {rate} Hz; must be {SAMPLE_RATE} Hz (resample it)")
    if tag == WAVE_FORMAT_PCM:
        if bits != 16:
            raise PromptError(p, f"{bits}-bit PCM; only 16-bit PCM is supported")
        return ulaw_encode(audio[: len(audio) - len(audio) % 2])
    if tag == WAVE_FORMAT_MULAW:
        return audio
    if tag == WAVE_FORMAT_ALAW:
        return alaw_to_ulaw(audio)
    name = _FORMAT_NAMES.get(tag, "unknown")
    raise PromptError(p, f"WAV format tag {tag:#06x} ({name}); need PCM16, µ-law (7) or A-law (6)")


@functools.cache
def default_prompt() -> Prompt:
    """Three rising beeps (440, 660, 880 Hz; 200 ms each, 150 ms apart): a built-in sound
    so an answered call that cannot reach an agent is never silent."""
    samples: list[int] = []
    gap = [0] * int(0.15 * SAMPLE_RATE)
    for freq in (440.0, 660.0, 880.0):
        n = int(0.2 * SAMPLE_RATE)
        ramp = int(0.01 * SAMPLE_RATE)  # 10 ms fade in/out: no clicks
        for i in range(n):
            envelope = min(1.0, i / ramp, (n - 1 - i) / ramp)
            samples.append(round(8000 * envelope * math.sin(2 * math.pi * freq * i / SAMPLE_RATE)))
        samples += gap
    pcm = struct.pack(f"<{len(samples)}h", *samples)
    return Prompt(name="default-tones", ulaw=ulaw_encode(pcm))
