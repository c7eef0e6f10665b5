"""Fuzzing every parser of untrusted input with Hypothesis (issue 11): the contacts CSV
importer, MQTT payloads, engine config files, SDP bodies and the simulator's SIP
parser. Each may refuse input only with its documented error type; anything else
(an IndexError, a RecursionError, a TypeError) is a crash found.

Bounded: ``max_examples`` is small so the whole file runs in a few seconds on two
cores; Hypothesis' database replays any failure found before."""

from __future__ import annotations

import contextlib
import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dialguard.config import ConfigError, load_engine_config, parse_campaign, parse_roster
from dialguard.importing import ColumnError, ImportReport
from dialguard.importing.contacts import _batches
from dialguard.importing.records import CsvRecords
from dialguard.mqtt import contract
from dialguard.sip.sdp import SdpError, parse_sdp
from dialguard.sip.simulator.message import SipParseError, parse

FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

# JSON-ish values, so payloads get past json.loads and reach the models.
_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=20)
)
_json = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
_field_names = st.sampled_from(
    ["state", "seq", "ts", "session", "group", "agent", "call_id", "campaign", "code",
     "request_id", "actor", "action", "changes", "event", "contact", "engine_id"]
)  # fmt: skip


# --- contacts CSV ------------------------------------------------------------------


@FUZZ
@given(
    st.lists(st.binary(max_size=40), min_size=1, max_size=12),
    st.sampled_from([b"name,number\n", b"Phone;Name\n", b"x|y\n", b""]),
)
def test_csv_importer(rows: list[bytes], header: bytes) -> None:
    lines = [header, *rows] if header else rows
    report = ImportReport()
    try:
        stored = sum(len(b.contacts) for b in _batches(CsvRecords(lines), "GB", report, 3))
    except ColumnError:
        return
    assert report.read == stored + report.rejected


# --- MQTT payloads -----------------------------------------------------------------


@FUZZ
@given(
    st.sampled_from(contract.SCHEMA_MODELS),
    st.one_of(
        st.binary(max_size=200),
        st.dictionaries(_field_names, _json, max_size=8).map(
            lambda d: json.dumps(d, allow_nan=True).encode()
        ),
        _json.map(lambda v: json.dumps(v, allow_nan=True).encode()),
    ),
)
def test_mqtt_payloads(model: Any, payload: bytes) -> None:
    try:
        msg = contract.parse_payload(model, "t/x", payload)
    except contract.PayloadError:
        return
    # what was accepted encodes and parses back to itself
    assert contract.parse_payload(model, "t/x", contract.encode(msg)) == msg


@FUZZ
@given(st.text(max_size=60))
def test_topic_parsing(topic: str) -> None:
    match = contract.Topics("dialguard").parse(topic)
    assert match is None or topic.startswith("dialguard/")


# --- configuration -----------------------------------------------------------------

_toml_values = st.one_of(
    st.integers(-(2**40), 2**40),
    st.text(max_size=30),
    st.booleans(),
    st.lists(st.integers(-5, 70000), max_size=3),
)
_sections = {
    "broker": ["url", "username", "password", "client_id", "topic_prefix", "keepalive_s"],
    "trunk": ["host", "port", "agent_uri_template", "rtp_port_range", "registration"],
    "engine": ["campaigns_dir", "agents_file", "agent_stale_after_s", "default_region"],
    "logging": ["level"],
    "bogus": ["x"],
}

_FIELDS = [f for fields in _sections.values() for f in fields]


def _toml(data: dict[str, dict[str, Any]]) -> str:
    out = []
    for section, fields in data.items():
        out.append(f"[{section}]")
        out.extend(f"{k} = {json.dumps(v, ensure_ascii=False)}" for k, v in fields.items())
    return "\n".join(out) + "\n"


@FUZZ
@given(
    st.dictionaries(
        st.sampled_from(sorted(_sections)),
        st.dictionaries(
            st.sampled_from([f for fields in _sections.values() for f in fields]),
            _toml_values,
            max_size=4,
        ),
        max_size=4,
    )
)
def test_engine_config(tmp_path: Path, data: dict[str, dict[str, Any]]) -> None:
    path = tmp_path / "dialguard.toml"
    text = _toml(data)
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return  # our TOML writer's limits, not the loader's
    path.write_text(text)
    try:
        load_engine_config(path, environ={})
    except ConfigError as e:
        assert e.problems and all(isinstance(p, str) and p for p in e.problems)


@FUZZ
@given(st.dictionaries(st.text(max_size=12), _json, max_size=6))
def test_campaign_and_roster_data(data: dict[str, Any]) -> None:
    for parse_it in (parse_campaign, parse_roster):
        try:
            parse_it(data, "x.toml")
        except ConfigError as e:
            assert e.problems
    try:
        parse_roster({"agent": [data]}, "agents.toml")
    except ConfigError as e:
        assert e.problems


# --- SIP ---------------------------------------------------------------------------

_sdp_lines = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        ["v=0", "o=- 1 1 IN IP4 1.2.3.4", "s=-", "c=IN IP4 1.2.3.4", "c=IN IP6 ::1", "t=0 0",
         "m=audio 4000 RTP/AVP 0 8 101", "m=audio x RTP/AVP", "m=video 0 RTP/AVP 31",
         "a=rtpmap:0 PCMU/8000", "a=rtpmap:101 telephone-event/8000", "a=sendrecv",
         "a=inactive", "c=", "m="]
    ),
)  # fmt: skip


@FUZZ
@given(st.lists(_sdp_lines, max_size=12), st.sampled_from(["\r\n", "\n"]))
def test_sdp(lines: list[str], eol: str) -> None:
    with contextlib.suppress(SdpError):
        parse_sdp(eol.join(lines))


@FUZZ
@given(st.binary(max_size=300))
def test_sdp_bytes(body: bytes) -> None:
    with contextlib.suppress(SdpError):
        parse_sdp(body)


_sip_start = st.sampled_from(
    [b"INVITE sip:a@b SIP/2.0", b"SIP/2.0 200 OK", b"SIP/2.0 x", b"BYE", b"", b"ACK sip:x SIP/2.0"]
)
_sip_headers = st.lists(
    st.one_of(
        st.binary(max_size=40),
        st.sampled_from(
            [b"Via: SIP/2.0/UDP 1.2.3.4:5060;branch=z9hG4bK1", b"Content-Length: 5",
             b"Content-Length: -1", b"Content-Length: x", b"CSeq: 1 INVITE", b"CSeq: x",
             b"From: <sip:a@b>;tag=1", b"To: sip:c@d", b"Call-ID: 1", b"l: 3", b": v"]
        ),
    ),
    max_size=10,
)  # fmt: skip


@FUZZ
@given(_sip_start, _sip_headers, st.binary(max_size=40))
def test_sip_simulator_parser(start: bytes, headers: list[bytes], body: bytes) -> None:
    data = b"\r\n".join([start, *headers]) + b"\r\n\r\n" + body
    with contextlib.suppress(SipParseError):
        parse(data)


@pytest.mark.parametrize("data", [b"", b"\r\n\r\n", b"\xff\xfe", b"SIP/2.0 999999999999 X\r\n\r\n"])
def test_sip_simulator_parser_corner_cases(data: bytes) -> None:
    with contextlib.suppress(SipParseError):
        parse(data)
