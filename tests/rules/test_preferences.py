"""Consent, preferred channel and weekday preferred hours, as rules and in the gate."""

from __future__ import annotations

import pytest

from dialguard.rules import ContactFacts, WeeklySpan, check_contact
from dialguard.rules.preferences import (
    check_preferred_channel,
    check_voice_consent,
    describe_spans,
    handoff_channel,
    parse_weekly_hours,
    preferred_spans,
)
from tests.rules.helpers import campaign


def test_consent_no_is_never_dialled_unknown_only_when_not_required() -> None:
    assert not check_voice_consent("no", required=False).allowed
    assert check_voice_consent("unknown", required=False).allowed
    assert check_voice_consent(None, required=False).allowed
    refused = check_voice_consent("unknown", required=True)
    assert (refused.allowed, refused.rule, refused.retry_at) == (False, "voice_consent", None)
    assert check_voice_consent("yes", required=True).allowed


@pytest.mark.parametrize(("pref", "channel"), [(None, None), ("voice", None), ("sms", "sms"),
                                               ("email", "email"), ("none", "none")])  # fmt: skip
def test_other_channels_are_handed_over(pref: str | None, channel: str | None) -> None:
    assert handoff_channel(pref) == channel
    assert check_preferred_channel(pref).allowed is (channel is None)


def test_weekday_hours_parse_and_describe_round_trip() -> None:
    spans = parse_weekly_hours("Mon-Wed,Fri 9:00-12:00; sun 18:00-24:00")
    assert spans == (
        WeeklySpan(frozenset({0, 1, 2, 4}), 9 * 3600, 12 * 3600),
        WeeklySpan(frozenset({6}), 18 * 3600, 86400),
    )
    assert parse_weekly_hours(describe_spans(spans)) == spans
    assert preferred_spans({"spans": describe_spans(spans)}) == spans
    assert preferred_spans({"start": "18:00", "end": "20:00"}) == (
        WeeklySpan(frozenset(range(7)), 18 * 3600, 20 * 3600),
    )
    assert preferred_spans(None) == ()


def test_gate_refuses_consent_and_channel_before_anything_else() -> None:
    now = 1_772_445_600.0  # Monday 2026-03-02 10:00 UTC
    strict = campaign(require_voice_consent=True)
    facts = ContactFacts("+12125550134", ("America/New_York",), voice_consent="unknown")
    assert check_contact(facts, [], [], {}, strict, "guaranteed", now).rule == "voice_consent"
    sms = ContactFacts("+12125550134", ("America/New_York",), preferred_channel="sms")
    v = check_contact(sms, [], [], {}, campaign(), "guaranteed", now)
    assert (v.rule, v.retry_at) == ("preferred_channel", None)


def test_facts_refuse_values_the_rules_cannot_read() -> None:
    with pytest.raises(ValueError, match="voice_consent must be yes, no or unknown"):
        ContactFacts("+12125550134", voice_consent="maybe")
    with pytest.raises(ValueError, match="preferred_channel must be voice, sms, email or none"):
        ContactFacts("+12125550134", preferred_channel="fax")
