"""Input types reject bad rows with a message naming the field; Verdict stays consistent."""

from __future__ import annotations

import math

import pytest

from dialguard.rules.types import (
    ContactFacts,
    PastAttempt,
    Suppression,
    Verdict,
    WeeklySpan,
    format_hhmm,
    parse_hhmm,
)


def test_hhmm_round_trip_and_day_end() -> None:
    assert parse_hhmm("09:30") == 34200
    assert parse_hhmm("24:00") == 86400
    assert format_hhmm(parse_hhmm("13:05")) == "13:05"
    for bad in ("9:30", "24:01", "12:60", "noon"):
        with pytest.raises(ValueError, match="HH:MM"):
            parse_hhmm(bad)


def test_weekly_span_validation() -> None:
    s = WeeklySpan.of(["Mon", "friday", 6], "09:00", "17:30")
    assert s.days == frozenset({0, 4, 6})
    assert s.describe() == "mon,fri,sun 09:00–17:30"
    for bad in ("funday", "satan", "m"):
        with pytest.raises(ValueError, match=f"weekday '{bad}'"):
            WeeklySpan.of([bad], "09:00", "10:00")
    with pytest.raises(ValueError, match="start < end"):
        WeeklySpan.of(["mon"], "10:00", "10:00")
    with pytest.raises(ValueError, match="weekday numbers"):
        WeeklySpan(frozenset({7}), 0, 10)


def test_verdict_allowed_has_no_retry_time() -> None:
    assert Verdict.refuse("cap_day", "x", 5.0).retry_at == 5.0
    with pytest.raises(ValueError, match="retry_at"):
        Verdict(True, "x", "y", 1.0)


def test_past_attempt_validation() -> None:
    assert PastAttempt(100.0, "busy", ended_at=130.0).lockout_from == 130.0
    assert PastAttempt(100.0, "busy").lockout_from == 100.0
    with pytest.raises(ValueError, match=r"PastAttempt\.at"):
        PastAttempt(math.nan, "busy")
    with pytest.raises(ValueError, match="before its dial time"):
        PastAttempt(100.0, "busy", ended_at=50.0)
    with pytest.raises(ValueError, match=r"PastAttempt\.mode"):
        PastAttempt(100.0, "busy", mode="turbo")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="outcome"):
        PastAttempt(100.0, "")


def test_suppression_validation() -> None:
    with pytest.raises(ValueError, match=r"Suppression\.source"):
        Suppression("Robinson-DE")  # a list name is a lower-case token
    with pytest.raises(ValueError, match="list_date"):
        Suppression("tps", math.inf)


def test_contact_facts_validation() -> None:
    c = ContactFacts("+12125550100", ["America/New_York"])  # type: ignore[arg-type]
    assert c.timezones == ("America/New_York",)
    with pytest.raises(ValueError, match="number"):
        ContactFacts("  ")
    with pytest.raises(ValueError, match="not a str"):
        ContactFacts("+1", "America/New_York")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="given together"):
        ContactFacts("+1", attempts=1, last_outcome="busy")
    with pytest.raises(ValueError, match="attempts must be ≥ 0"):
        ContactFacts("+1", attempts=-1)
    with pytest.raises(ValueError, match="attempts is 0"):
        ContactFacts("+1", last_outcome="busy", last_outcome_at=1.0)
    with pytest.raises(ValueError, match=r"outcome_counts\['busy'\]"):
        ContactFacts("+1", attempts=1, outcome_counts={"busy": -1})
    with pytest.raises(ValueError, match="add up to 3"):
        ContactFacts("+1", attempts=2, outcome_counts={"busy": 2, "failed": 1})
    with pytest.raises(ValueError, match="preferred_hours"):
        ContactFacts("+1", preferred_hours=("mon 9-5",))  # type: ignore[arg-type]
