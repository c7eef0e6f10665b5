"""Digest challenges of the simulated trunk (dialguard.sip.simulator.auth)."""

from __future__ import annotations

import hashlib

from dialguard.sip.simulator.auth import DigestChallenger, digest_response, parse_digest


def test_rfc2617_example_vector() -> None:
    # RFC 2617 §3.5: Mufasa / "Circle Of Life", GET /dir/index.html
    assert (
        digest_response(
            "Mufasa",
            "testrealm@host.com",
            "Circle Of Life",
            "GET",
            "/dir/index.html",
            "dcd98b7102dd2f0e8b11d0f600bfb0c093",
            qop="auth",
            nc="00000001",
            cnonce="0a4f113b",
        )
        == "6629fae49393a05397450978507c4ef1"
    )


def _answer(ch: DigestChallenger, password: str, *, qop: bool, nonce: str | None = None) -> str:
    p = parse_digest(ch.challenge(now=1000.0))
    n = nonce or p["nonce"]
    md5 = lambda s: hashlib.md5(s.encode()).hexdigest()  # noqa: E731 - an independent reference
    ha1, ha2 = md5(f"alice:{p['realm']}:{password}"), md5("INVITE:sip:+441632960001@sim")
    if qop:
        resp = md5(f"{ha1}:{n}:00000001:abc:auth:{ha2}")
        extra = ', qop=auth, nc=00000001, cnonce="abc"'
    else:
        resp, extra = md5(f"{ha1}:{n}:{ha2}"), ""
    return (
        f'Digest username="alice", realm="{p["realm"]}", nonce="{n}", '
        f'uri="sip:+441632960001@sim", response="{resp}", algorithm=MD5{extra}'
    )


def test_challenge_offers_md5_qop_auth() -> None:
    p = parse_digest(DigestChallenger("alice", "pw").challenge())
    assert p["algorithm"] == "MD5" and p["qop"] == "auth" and p["realm"] == "dialguard-sim"


def test_correct_answers_with_and_without_qop_pass() -> None:
    ch = DigestChallenger("alice", "s3cret")
    assert ch.check("INVITE", _answer(ch, "s3cret", qop=True), now=1001.0) is None
    assert ch.check("INVITE", _answer(ch, "s3cret", qop=False), now=1001.0) is None


def test_wrong_answers_say_why() -> None:
    ch = DigestChallenger("alice", "s3cret")
    assert ch.check("INVITE", _answer(ch, "guess", qop=True), now=1001.0) == (
        "wrong digest response (password?)"
    )
    assert ch.check("INVITE", _answer(ch, "s3cret", qop=True), now=1400.0) == "nonce expired"
    forged = _answer(ch, "s3cret", qop=True, nonce="1000.000-0000000000000000")
    assert ch.check("INVITE", forged, now=1001.0) == "nonce not issued by this trunk"
    other = DigestChallenger("alice", "s3cret")  # another trunk: its key differs
    assert other.check("INVITE", _answer(ch, "s3cret", qop=True), now=1001.0) == (
        "nonce not issued by this trunk"
    )
    assert ch.check("INVITE", "Basic YWxpY2U6cHc=") == "not a Digest Authorization header"
    assert ch.check("INVITE", 'Digest username="alice"') == "Authorization has no realm"
