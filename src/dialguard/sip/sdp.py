"""SDP (RFC 4566 / RFC 3264) for one audio stream: G.711 plus telephone-event.

The adapter offers PCMU and PCMA with telephone-event/8000 in its INVITE; the simulator
answers. Both need only the peer's connection address, media port, the payload types
offered and which one carries DTMF — so this parses just that, strictly, and says which
line is wrong when a peer sends something unusable (no audio, no address, port 0, only
codecs we cannot speak). Anything else in the SDP is ignored, as RFC 4566 allows.
"""

from __future__ import annotations

import ipaddress
import random
from dataclasses import dataclass, field

from dialguard.sip.rtp import DEFAULT_DTMF_PT, PT_PCMA, PT_PCMU

CODEC_NAMES = {PT_PCMU: "PCMU", PT_PCMA: "PCMA"}
"""Static payload types we can send and receive (RFC 3551)."""


class SdpError(ValueError):
    """SDP that cannot set up a call's audio; the message names the line and the fault."""


@dataclass(frozen=True, slots=True)
class AudioDescription:
    """What we need of the peer's SDP to send it audio and understand its DTMF."""

    address: str
    port: int
    payload_types: tuple[int, ...]  # in the peer's order of preference
    dtmf_payload_type: int | None
    direction: str = "sendrecv"
    rtpmap: dict[int, str] = field(default_factory=dict)  # pt → "PCMU/8000" etc.

    @property
    def codec(self) -> int:
        """The first payload type in the peer's list that we speak (PCMU or PCMA)."""
        for pt in self.payload_types:
            if pt in CODEC_NAMES:
                return pt
        raise SdpError(
            f"no common audio codec: peer offers payload types {list(self.payload_types)}, "
            "dialguard speaks 0 (PCMU) and 8 (PCMA)"
        )


def build_sdp(
    address: str,
    port: int,
    *,
    payload_types: tuple[int, ...] = (PT_PCMU, PT_PCMA),
    dtmf_payload_type: int | None = DEFAULT_DTMF_PT,
    session_id: int | None = None,
    version: int = 1,
    direction: str = "sendrecv",
) -> str:
    """An SDP body for one audio stream at ``address:port`` (lines end CRLF)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        raise SdpError(f"SDP address must be an IP address, got {address!r}") from None
    if not 0 < port < 65536:
        raise SdpError(f"SDP media port out of range: {port}")
    unknown = [pt for pt in payload_types if pt not in CODEC_NAMES]
    if unknown or not payload_types:
        raise SdpError(f"can only offer PCMU (0) and PCMA (8), got {list(payload_types)}")
    family = "IP6" if ip.version == 6 else "IP4"
    sid = session_id if session_id is not None else random.getrandbits(31)
    fmts = list(payload_types) + ([dtmf_payload_type] if dtmf_payload_type is not None else [])
    lines = [
        "v=0",
        f"o=dialguard {sid} {version} IN {family} {address}",
        "s=dialguard",
        f"c=IN {family} {address}",
        "t=0 0",
        f"m=audio {port} RTP/AVP {' '.join(str(f) for f in fmts)}",
    ]
    lines += [f"a=rtpmap:{pt} {CODEC_NAMES[pt]}/8000" for pt in payload_types]
    if dtmf_payload_type is not None:
        lines += [
            f"a=rtpmap:{dtmf_payload_type} telephone-event/8000",
            f"a=fmtp:{dtmf_payload_type} 0-15",
        ]
    lines += ["a=ptime:20", f"a={direction}"]
    return "\r\n".join(lines) + "\r\n"


ANSWER_DIRECTION = {
    "sendrecv": "sendrecv",
    "sendonly": "recvonly",
    "recvonly": "sendonly",
    "inactive": "inactive",
}
"""RFC 3264 §6.1: the direction an answer gives for each direction offered (a hold,
``sendonly``, is answered ``recvonly``)."""


def build_answer(
    offer: AudioDescription,
    address: str,
    port: int,
    *,
    session_id: int | None = None,
    version: int = 1,
) -> str:
    """An answer to ``offer``: its first codec we speak, its telephone-event PT if any
    (RFC 3264: the answer uses the offerer's payload type numbers), and the direction
    that matches the offer's (:data:`ANSWER_DIRECTION`)."""
    return build_sdp(
        address,
        port,
        payload_types=(offer.codec,),
        dtmf_payload_type=offer.dtmf_payload_type,
        session_id=session_id,
        version=version,
        direction=ANSWER_DIRECTION.get(offer.direction, "sendrecv"),
    )


def parse_sdp(text: str | bytes) -> AudioDescription:
    """The first audio stream of an SDP body; :class:`SdpError` names what is wrong."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as e:
            raise SdpError(f"SDP is not UTF-8 text: {e}") from None
    lines = [ln.strip() for ln in text.replace("\r\n", "\n").split("\n") if ln.strip()]
    if not lines:
        raise SdpError("empty SDP body")
    if lines[0] != "v=0":
        raise SdpError(f"SDP must start with 'v=0', line 1 is {lines[0][:40]!r}")
    session_addr: str | None = None
    media_addr: str | None = None
    media: tuple[int, tuple[int, ...], str] | None = None  # port, fmts, proto
    in_audio = False
    seen_audio = False
    rtpmap: dict[int, str] = {}
    direction = "sendrecv"
    for n, line in enumerate(lines, start=1):
        if len(line) < 2 or line[1] != "=":
            raise SdpError(f"SDP line {n} is not 'x=value': {line[:40]!r}")
        kind, value = line[0], line[2:]
        if kind == "m":
            if seen_audio:
                in_audio = False  # only the first audio stream matters
                continue
            in_audio = value.startswith("audio ")
            if in_audio:
                seen_audio = True
                media = _parse_media(value, n)
        elif kind == "c":
            addr = _parse_connection(value, n)
            if media is None and not seen_audio:
                session_addr = addr
            elif in_audio:
                media_addr = addr
        elif kind == "a" and (in_audio or not seen_audio):
            attr, _, rest = value.partition(":")
            if attr == "rtpmap" and in_audio:
                pt_text, _, encoding = rest.partition(" ")
                if not pt_text.isdigit() or not encoding:
                    raise SdpError(f"SDP line {n}: bad rtpmap {value!r}")
                rtpmap[int(pt_text)] = encoding.strip()
            elif attr in ("sendrecv", "sendonly", "recvonly", "inactive"):
                direction = attr
    if media is None:
        raise SdpError("SDP has no 'm=audio' line")
    port, fmts, _proto = media
    address = media_addr or session_addr
    if address is None:
        raise SdpError("SDP has no connection address ('c=' line) for its audio")
    if port == 0:
        raise SdpError("SDP audio stream is rejected (port 0)")
    dtmf = next(
        (pt for pt in fmts if rtpmap.get(pt, "").lower().startswith("telephone-event/8000")),
        None,
    )
    payload_types = tuple(pt for pt in fmts if pt != dtmf)
    return AudioDescription(address, port, payload_types, dtmf, direction, rtpmap)


def _parse_media(value: str, n: int) -> tuple[int, tuple[int, ...], str]:
    parts = value.split()
    if len(parts) < 4:
        raise SdpError(f"SDP line {n}: 'm=' needs media, port, proto and formats: {value!r}")
    port_text = parts[1].split("/")[0]
    if not port_text.isdigit() or int(port_text) > 65535:
        raise SdpError(f"SDP line {n}: bad media port {parts[1]!r}")
    if "RTP/AVP" not in parts[2]:
        raise SdpError(f"SDP line {n}: unsupported media protocol {parts[2]!r} (need RTP/AVP)")
    fmts = []
    for f in parts[3:]:
        if not f.isdigit() or int(f) > 127:
            raise SdpError(f"SDP line {n}: bad payload type {f!r}")
        fmts.append(int(f))
    return int(port_text), tuple(fmts), parts[2]


def _parse_connection(value: str, n: int) -> str:
    parts = value.split()
    if len(parts) != 3 or parts[0] != "IN" or parts[1] not in ("IP4", "IP6"):
        raise SdpError(f"SDP line {n}: bad connection line 'c={value}'")
    address = parts[2].split("/")[0]  # drop a multicast TTL
    try:
        ipaddress.ip_address(address)
    except ValueError:
        raise SdpError(f"SDP line {n}: connection address {address!r} is not an IP") from None
    return address
