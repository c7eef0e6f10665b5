"""The MQTT contract: topics round-trip, bad payloads are refused with a reason."""

from __future__ import annotations

import json

import pytest

from dialguard.config import PacingConfig
from dialguard.mqtt.contract import (
    AgentCallMessage,
    AgentStateMessage,
    ContactCard,
    ControlReply,
    ControlRequest,
    PacingChangeRequest,
    PayloadError,
    Topics,
    encode,
    parse_payload,
)

T = Topics()
TS = 1_800_000_000.0


def test_topic_names_and_parse_round_trip() -> None:
    cases = {
        T.agent_state("a-1"): ("agent_state", "a-1"),
        T.agent_call("a-1"): ("agent_call", "a-1"),
        T.agent_disposition("a.2"): ("agent_disposition", "a.2"),
        T.campaign_control("spring"): ("campaign_control", "spring"),
        T.campaign_pacing("spring"): ("campaign_pacing", "spring"),
        T.campaign_events("spring"): ("campaign_events", "spring"),
        T.engine_status: ("engine_status", ""),
    }
    for topic, (kind, key) in cases.items():
        m = T.parse(topic)
        assert m is not None, topic
        assert (m.kind, m.key) == (kind, key)
    assert T.agent_state("a-1") == "dialguard/agents/a-1/state"


@pytest.mark.parametrize(
    "topic",
    ["other/agents/a/state", "dialguard/agents/a/b/state", "dialguard/agents/a/mood", ""],
)
def test_foreign_topics_are_not_ours(topic: str) -> None:
    assert T.parse(topic) is None


@pytest.mark.parametrize("bad", ["a/b", "+", "#", "", "a b"])
def test_ids_that_would_break_topics_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="not a valid topic level"):
        T.agent_state(bad)


def test_custom_prefix() -> None:
    t = Topics("site2/dialguard")
    assert t.agent_call("x") == "site2/dialguard/agents/x/call"
    assert t.parse("site2/dialguard/agents/x/state") is not None
    assert t.parse("dialguard/agents/x/state") is None
    with pytest.raises(ValueError, match="prefix"):
        Topics("bad/#")


def test_agent_state_parses() -> None:
    raw = json.dumps({"state": "ready", "seq": 3, "ts": TS, "session": "s1", "group": "sales"})
    msg = parse_payload(AgentStateMessage, "t", raw.encode())
    assert (msg.state, msg.seq, msg.group, msg.session) == ("ready", 3, "sales", "s1")


@pytest.mark.parametrize(
    ("payload", "needle"),
    [
        (b"not json", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"", "empty payload"),
        (b"[1, 2]", "expected a JSON object, got list"),
        (b'{"state": "asleep", "seq": 1, "ts": 1800000000}', "state = 'asleep'"),
        (b'{"state": "ready", "seq": "5", "ts": 1800000000}', "seq = '5'"),
        (b'{"state": "ready", "seq": 5.0, "ts": 1800000000}', "seq = 5.0"),
        (b'{"state": "ready", "seq": true, "ts": 1800000000}', "seq = True"),
        (b'{"state": "ready", "seq": -1, "ts": 1800000000}', "seq = -1"),
        (b'{"state": "ready", "seq": 1, "ts": 1800000000000}', "ts = 1800000000000"),
        (b'{"state": "ready", "seq": 1}', "ts: Field required"),
        (b'{"state": "ready", "seq": 1, "ts": 1800000000, "colour": 1}', "colour"),
    ],
)
def test_bad_agent_state_names_topic_and_problem(payload: bytes, needle: str) -> None:
    topic = "dialguard/agents/a1/state"
    with pytest.raises(PayloadError) as exc:
        parse_payload(AgentStateMessage, topic, payload)
    assert str(exc.value).startswith(topic + ": ")
    assert needle in str(exc.value)


def test_oversized_payload_is_refused_before_parsing() -> None:
    with pytest.raises(PayloadError, match="bytes is over"):
        parse_payload(AgentStateMessage, "t", b"{" + b" " * 70_000 + b"}")


def test_encode_round_trips_and_drops_nones() -> None:
    ev = AgentCallMessage(
        event="offer",
        call_id="c1",
        campaign="spring",
        ts=TS,
        contact=ContactCard(number="+441632960123", name="Ann", custom={"ref": "42"}),
    )
    wire = encode(ev)
    assert b"outcome" not in wire
    assert parse_payload(AgentCallMessage, "t", wire) == ev


def test_pacing_change_validated_with_legal_floors() -> None:
    cur = PacingConfig()
    ok = PacingChangeRequest(request_id="r1", actor="sup", changes={"mode": "predictive"})
    assert ok.apply_to(cur).mode == "predictive"
    assert ok.apply_to(cur).ring_timeout_s == cur.ring_timeout_s

    too_high = PacingChangeRequest(request_id="r2", actor="sup", changes={"abandon_cap": 0.05})
    with pytest.raises(ValueError, match=r"abandon_cap = 0.05: .*3 %"):
        too_high.apply_to(cur)
    short_ring = PacingChangeRequest(request_id="r3", actor="s", changes={"ring_timeout_s": 10})
    with pytest.raises(ValueError, match="ring_timeout_s = 10"):
        short_ring.apply_to(cur)
    unknown = PacingChangeRequest(request_id="r4", actor="s", changes={"speed": "max"})
    with pytest.raises(ValueError, match="speed"):
        unknown.apply_to(cur)


def test_empty_pacing_change_is_refused() -> None:
    with pytest.raises(PayloadError, match="changes"):
        parse_payload(PacingChangeRequest, "t", b'{"request_id": "r", "actor": "a", "changes": {}}')


def test_control_request_and_reply() -> None:
    req = parse_payload(
        ControlRequest, "t", b'{"request_id": "r1", "actor": "sup", "action": "pause"}'
    )
    assert req.action == "pause"
    with pytest.raises(PayloadError, match="action = 'explode'"):
        parse_payload(
            ControlRequest, "t", b'{"request_id": "r1", "actor": "sup", "action": "explode"}'
        )
    reply = ControlReply(request_id="r1", kind="control", accepted=True, ts=TS)
    assert parse_payload(ControlReply, "t", encode(reply)) == reply


def test_docs_schemas_are_generated_from_the_models() -> None:
    """docs/mqtt.md embeds the schemas; regenerate with python -m dialguard.mqtt.contract."""
    from pathlib import Path

    from dialguard.mqtt.contract import schema_markdown

    doc = (Path(__file__).resolve().parents[2] / "docs" / "mqtt.md").read_text()
    begin = doc.index("-->", doc.index("<!-- schemas:begin")) + len("-->\n")
    end = doc.index("<!-- schemas:end -->")
    assert doc[begin:end] == schema_markdown()
    for name in (
        "AgentStateMessage",
        "AgentCallMessage",
        "Disposition",
        "ControlReply",
        "EngineStatus",
    ):
        assert f"### {name}" in doc


def test_a_campaign_status_names_one_of_the_pacing_modes() -> None:
    """``mode`` is the pacer's vocabulary (pacing.params.PacingMode), not any string."""
    import pydantic

    from dialguard.mqtt.contract import CampaignStatus

    assert CampaignStatus(id="c1", state="running", mode="predictive").mode == "predictive"
    with pytest.raises(pydantic.ValidationError, match="mode"):
        CampaignStatus.model_validate({"id": "c1", "state": "running", "mode": "turbo"})
