"""Digest authentication (RFC 2617 / RFC 3261 §22) for the simulated trunk.

Carriers challenge INVITE and REGISTER with ``401 Unauthorized``; a dialler that cannot
answer a challenge cannot place a call. With credentials set, the simulator challenges
every new INVITE and REGISTER the same way (MD5, ``qop=auth`` offered, answers without
qop accepted too), so the adapter's digest code is exercised against a second,
independent implementation besides SIPp. The check is stateless, as a trunk's edge
proxy's is: the nonce is an HMAC of its issue time, valid for five minutes.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass, field

NONCE_TTL_S = 300.0
_PARAM = re.compile(r'(\w+)\s*=\s*(?:"([^"]*)"|([^\s,]+))')


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def digest_response(
    username: str,
    realm: str,
    password: str,
    method: str,
    uri: str,
    nonce: str,
    *,
    qop: str | None = None,
    nc: str | None = None,
    cnonce: str | None = None,
) -> str:
    """The MD5 digest ``response`` a client must send (RFC 2617 §3.2.2.1)."""
    ha1 = _md5(f"{username}:{realm}:{password}")
    ha2 = _md5(f"{method}:{uri}")
    if qop:
        return _md5(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")
    return _md5(f"{ha1}:{nonce}:{ha2}")


def parse_digest(header: str) -> dict[str, str]:
    """``Digest username="a", realm="r", …`` → ``{"username": "a", "realm": "r", …}``;
    empty if the header is not a Digest one."""
    scheme, _, rest = header.strip().partition(" ")
    if scheme.lower() != "digest":
        return {}
    return {
        m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
        for m in _PARAM.finditer(rest)
    }


@dataclass
class DigestChallenger:
    """Issues challenges and checks answers for one username/password."""

    username: str
    password: str
    realm: str = "dialguard-sim"
    _key: bytes = field(default_factory=lambda: secrets.token_bytes(16), repr=False)

    def challenge(self, now: float | None = None) -> str:
        """The ``WWW-Authenticate`` value for a 401."""
        issued = f"{now if now is not None else time.time():.3f}"
        mac = hmac.new(self._key, issued.encode(), "sha256").hexdigest()[:16]
        return f'Digest realm="{self.realm}", nonce="{issued}-{mac}", algorithm=MD5, qop="auth"'

    def check(self, method: str, authorization: str, now: float | None = None) -> str | None:
        """None if ``authorization`` answers a fresh challenge of ours correctly, else
        the reason it does not (for the log and the 403's reason phrase)."""
        p = parse_digest(authorization)
        if not p:
            return "not a Digest Authorization header"
        for needed in ("username", "realm", "nonce", "uri", "response"):
            if needed not in p:
                return f"Authorization has no {needed}"
        if p["username"] != self.username or p["realm"] != self.realm:
            return "unknown username or realm"
        issued, _, mac = p["nonce"].partition("-")
        good = hmac.new(self._key, issued.encode(), "sha256").hexdigest()[:16]
        if not hmac.compare_digest(mac, good):
            return "nonce not issued by this trunk"
        try:
            age = (now if now is not None else time.time()) - float(issued)
        except ValueError:
            return "nonce not issued by this trunk"
        if not 0 <= age <= NONCE_TTL_S:
            return "nonce expired"
        qop = p.get("qop")
        if qop and (qop != "auth" or "nc" not in p or "cnonce" not in p):
            return "qop answer incomplete"
        expected = digest_response(
            self.username, self.realm, self.password, method, p["uri"], p["nonce"],
            qop=qop, nc=p.get("nc"), cnonce=p.get("cnonce"),
        )  # fmt: skip
        if not hmac.compare_digest(expected, p["response"].lower()):
            return "wrong digest response (password?)"
        return None
