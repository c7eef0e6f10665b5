"""SIP messages for the simulator: parse a datagram, build responses and requests.

The simulator is a test peer, so this covers what a trunk sees from a dialler (RFC 3261
requests and responses over UDP, compact header names, several Via values) and no more.
Bad input raises :class:`SipParseError`; the trunk logs it and drops the datagram, as a
real UDP peer must.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field

COMPACT = {
    "i": "Call-ID",
    "f": "From",
    "t": "To",
    "v": "Via",
    "m": "Contact",
    "l": "Content-Length",
    "c": "Content-Type",
    "r": "Refer-To",
    "o": "Event",
    "k": "Supported",
    "s": "Subject",
}
_CANONICAL = {
    k.lower(): k
    for k in (
        "Call-ID",
        "CSeq",
        "From",
        "To",
        "Via",
        "Contact",
        "Content-Length",
        "Content-Type",
        "Refer-To",
        "Referred-By",
        "Event",
        "Max-Forwards",
        "Record-Route",
        "Route",
        "Subscription-State",
        "User-Agent",
        "Allow",
        "Supported",
        "Expires",
        "WWW-Authenticate",
        "Authorization",
    )
}
_MULTI = {"Via", "Record-Route", "Route", "Contact"}  # comma lists split into values
_TAG = re.compile(r";\s*tag=([^;,\s>]+)", re.I)
_BRANCH = re.compile(r";\s*branch=([^;,\s]+)", re.I)
_URI_IN_BRACKETS = re.compile(r"<([^>]*)>")
_HOSTPORT = re.compile(r"^(?:sips?:)?(?:([^@;>]*)@)?(\[[^\]]+\]|[^:;>?]+)(?::(\d+))?", re.I)

REASONS = {
    100: "Trying",
    180: "Ringing",
    183: "Session Progress",
    200: "OK",
    202: "Accepted",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    480: "Temporarily Unavailable",
    481: "Call/Transaction Does Not Exist",
    486: "Busy Here",
    487: "Request Terminated",
    488: "Not Acceptable Here",
    500: "Server Internal Error",
    503: "Service Unavailable",
    603: "Decline",
}


class SipParseError(ValueError):
    """A datagram that is not a SIP message we can act on; the text says why."""


def canonical(name: str) -> str:
    n = name.strip()
    if len(n) == 1:
        return COMPACT.get(n.lower(), n)
    return _CANONICAL.get(n.lower(), n)


@dataclass
class SipMessage:
    """A request (``method`` set) or a response (``status`` set), headers in order."""

    method: str | None = None
    uri: str | None = None
    status: int | None = None
    reason: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    @property
    def is_request(self) -> bool:
        return self.method is not None

    def get(self, name: str) -> str | None:
        """First value of a header; names match case-insensitively, compact or not."""
        key = canonical(name).lower()
        return next((v for k, v in self.headers if k.lower() == key), None)

    def get_all(self, name: str) -> list[str]:
        key = canonical(name).lower()
        return [v for k, v in self.headers if k.lower() == key]

    def require(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise SipParseError(f"missing {name} header")
        return value

    @property
    def call_id(self) -> str:
        return self.require("Call-ID")

    @property
    def cseq(self) -> tuple[int, str]:
        value = self.require("CSeq").split()
        if len(value) != 2 or not value[0].isdigit():
            raise SipParseError(f"bad CSeq {' '.join(value)!r}")
        return int(value[0]), value[1].upper()

    @property
    def branch(self) -> str:
        via = self.get("Via") or ""
        m = _BRANCH.search(via)
        return m.group(1) if m else ""

    @property
    def from_tag(self) -> str | None:
        return header_tag(self.get("From") or "")

    @property
    def to_tag(self) -> str | None:
        return header_tag(self.get("To") or "")

    def encode(self) -> bytes:
        first = (
            f"{self.method} {self.uri} SIP/2.0"
            if self.is_request
            else f"SIP/2.0 {self.status} {self.reason}"
        )
        lines = [first] + [f"{k}: {v}" for k, v in self.headers if k != "Content-Length"]
        lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body


def header_tag(value: str) -> str | None:
    """The ``tag`` parameter of a From/To value (after the URI, not inside it)."""
    after = value.rsplit(">", 1)[-1] if "<" in value else value
    m = _TAG.search(after)
    return m.group(1) if m else None


def uri_of(value: str) -> str:
    """``"Bob" <sip:bob@h;transport=udp>;tag=1`` → ``sip:bob@h;transport=udp``."""
    m = _URI_IN_BRACKETS.search(value)
    return (m.group(1) if m else value.split(";", 1)[0]).strip()


def uri_user(uri: str) -> str:
    """The user part of a SIP URI (the dialled number), ``""`` if there is none."""
    m = _HOSTPORT.match(uri_of(uri))
    return (m.group(1) or "").split(";", 1)[0] if m else ""


def uri_hostport(uri: str, default_port: int = 5060) -> tuple[str, int]:
    m = _HOSTPORT.match(uri_of(uri))
    if not m:
        raise SipParseError(f"cannot find host in URI {uri!r}")
    host = m.group(2).strip("[]")
    return host, int(m.group(3) or default_port)


def parse(data: bytes) -> SipMessage:
    """Parse one UDP datagram as a SIP message (keep-alive CRLFs are refused)."""
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = data.partition(b"\n\n")
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        raise SipParseError("SIP header is not UTF-8") from None
    lines = text.replace("\r\n", "\n").split("\n")
    first = lines[0].strip()
    if not first:
        raise SipParseError("empty datagram")
    msg = SipMessage()
    parts = first.split(" ", 2)
    if first.startswith("SIP/2.0 "):
        if len(parts) < 2 or not parts[1].isdigit():
            raise SipParseError(f"bad status line {first[:60]!r}")
        msg.status, msg.reason = int(parts[1]), parts[2] if len(parts) > 2 else ""
    elif len(parts) == 3 and parts[2] == "SIP/2.0":
        msg.method, msg.uri = parts[0].upper(), parts[1]
    else:
        raise SipParseError(f"not a SIP request or response line: {first[:60]!r}")
    for line in lines[1:]:
        if not line.strip():
            continue
        if line[0] in " \t" and msg.headers:  # folded continuation line
            k, v = msg.headers[-1]
            msg.headers[-1] = (k, v + " " + line.strip())
            continue
        name, colon, value = line.partition(":")
        if not colon:
            raise SipParseError(f"header line without ':' {line[:60]!r}")
        key = canonical(name)
        if key in _MULTI:
            msg.headers += [(key, v) for v in _split_commas(value.strip())]
        else:
            msg.headers.append((key, value.strip()))
    length = msg.get("Content-Length")
    if length is not None:
        if not length.isdigit():
            raise SipParseError(f"bad Content-Length {length!r}")
        if int(length) > len(body):
            raise SipParseError(f"body shorter ({len(body)}) than Content-Length {length}")
        body = body[: int(length)]
    msg.body = body
    for required in ("Call-ID", "CSeq", "From", "To", "Via"):
        msg.require(required)
    return msg


def _split_commas(value: str) -> list[str]:
    """Split a header list on commas outside quotes and angle brackets."""
    out, depth, quoted, start = [], 0, False, 0
    for i, ch in enumerate(value):
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch == "<":
            depth += 1
        elif not quoted and ch == ">":
            depth -= 1
        elif ch == "," and not quoted and depth == 0:
            out.append(value[start:i].strip())
            start = i + 1
    out.append(value[start:].strip())
    return [v for v in out if v]


def new_tag() -> str:
    return secrets.token_hex(6)


def new_branch() -> str:
    return "z9hG4bK" + secrets.token_hex(8)


def response(
    request: SipMessage,
    status: int,
    *,
    to_tag: str | None = None,
    headers: list[tuple[str, str]] | None = None,
    body: bytes = b"",
    reason: str | None = None,
) -> SipMessage:
    """A response to ``request``: Vias, From, Call-ID, CSeq copied; To gets our tag."""
    to = request.require("To")
    if to_tag and header_tag(to) is None:
        to = f"{to};tag={to_tag}"
    hs: list[tuple[str, str]] = [("Via", v) for v in request.get_all("Via")]
    hs += [("From", request.require("From")), ("To", to), ("Call-ID", request.call_id)]
    hs.append(("CSeq", request.require("CSeq")))
    hs += headers or []
    return SipMessage(
        status=status, reason=reason or REASONS.get(status, "Unknown"), headers=hs, body=body
    )
