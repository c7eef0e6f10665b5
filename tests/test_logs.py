"""Phone numbers and secrets never reach the logs in clear."""

from __future__ import annotations

import io
import json

import pytest

from dialguard.logs import configure_logging, get_logger, mask_number


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("+441632960123", "+*********123"),
        ("sip:+12025550123@trunk", "sip:+********123@trunk"),
        ("(020) 7946-0000", "(***) ****-*000"),
        ("call 07700 900123 now", "call ***** ***123 now"),
    ],
)
def test_numbers_keep_only_last_three_digits(text: str, masked: str) -> None:
    assert mask_number(text) == masked


@pytest.mark.parametrize("text", ["2026-11-22 10:00:00", "attempt 12345", "Call-ID a1b2c3"])
def test_dates_ids_and_short_numbers_are_left_alone(text: str) -> None:
    assert mask_number(text) == text


def test_log_events_are_masked_as_json() -> None:
    out = io.StringIO()
    configure_logging("info", "json", stream=out)
    get_logger("t").info(
        "dialled +441632960123",
        number="+441632960123",
        contact={"phone": "+12025550123", "name": "Ann"},
        password="hunter2",
        numbers=["+33142685300"],
    )
    line = out.getvalue().strip()
    event = json.loads(line)
    assert event["event"] == "dialled +*********123"
    assert event["number"] == "+*********123"
    assert event["contact"]["phone"] == "+********123"
    assert event["numbers"] == ["+********300"]
    assert event["password"] == "***"
    assert "hunter2" not in line and "960123" not in line
