"""The contact-profile columns of a contacts CSV: consent, channel, hours, segment, offer.

What the business's CRM legitimately knows about each contact (docs/contacts.md), read
and checked here so a bad cell rejects its row with the column and the value named,
instead of reaching the gate as something it cannot read. The values' meanings (which
refuse a call, which hand it over) are the rules' (dialguard/rules/preferences.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from dialguard.rules.preferences import (
    CHANNELS,
    describe_spans,
    parse_weekly_hours,
)

__all__ = ["PROFILE_COLUMNS", "Profile", "parse_profile"]

PROFILE_COLUMNS: tuple[str, ...] = (
    "voice_consent",
    "consent_date",
    "consent_source",
    "segment",
    "propensity",
    "offer_key",
)
"""Profile columns besides the older ``consent``, ``preferred_channel``, ``preferred_hours``."""

_YES = {"yes", "y", "true", "1", "opt-in", "opted-in"}
_NO = {"no", "n", "false", "0", "opt-out", "opted-out"}
_UNKNOWN = {"unknown", ""}
MAX_KEY_CHARS = 64


@dataclass(frozen=True, slots=True)
class Profile:
    voice_consent: str = "unknown"
    consent_date: str | None = None
    consent_source: str | None = None
    preferred_channel: str | None = None
    segment: str | None = None
    propensity: float | None = None
    offer_key: str | None = None


def _consent(text: str) -> str:
    v = text.strip().lower()
    if v in _YES:
        return "yes"
    if v in _NO:
        return "no"
    if v in _UNKNOWN:
        return "unknown"
    raise ValueError(f"bad voice_consent {text!r} (expected yes, no or unknown)")


def _date(text: str) -> str:
    try:
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise ValueError(f"bad consent_date {text!r} (expected a date YYYY-MM-DD)") from None


def _channel(text: str) -> str:
    v = text.strip().lower()
    if v not in CHANNELS:
        raise ValueError(f"bad preferred_channel {text!r} (expected {', '.join(CHANNELS)})")
    return v


def _propensity(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise ValueError(f"bad propensity {text!r} (expected a number from 0 to 1)") from None
    if not 0 <= v <= 1:  # NaN fails this too
        raise ValueError(f"bad propensity {text!r} (must be between 0 and 1)")
    return v


def _key(column: str) -> Callable[[str], str]:
    def check(text: str) -> str:
        if len(text) > MAX_KEY_CHARS:
            raise ValueError(f"bad {column} (longer than {MAX_KEY_CHARS} characters)")
        return text

    return check


def weekly_hours(text: str) -> dict[str, str]:
    """A ``preferred_hours`` cell with weekdays, as stored: ``{"spans": canonical text}``."""
    return {"spans": describe_spans(parse_weekly_hours(text))}


def parse_profile(known: Callable[[str], str]) -> Profile:
    """The profile of one row, from ``known(column)`` (the stripped cell, '' if absent).

    ``voice_consent`` falls back to ``consent`` when that holds a yes/no word (older
    lists); free text in ``consent`` stays what it was, a note.
    """
    consent_text = known("voice_consent")
    if not consent_text and known("consent").lower() in _YES | _NO:
        consent_text = known("consent")

    def opt(column: str, parse: Callable[[str], object]) -> object:
        text = known(column)
        return parse(text) if text else None

    return Profile(
        voice_consent=_consent(consent_text),
        consent_date=opt("consent_date", _date),  # type: ignore[arg-type]
        consent_source=opt("consent_source", _key("consent_source")),  # type: ignore[arg-type]
        preferred_channel=opt("preferred_channel", _channel),  # type: ignore[arg-type]
        segment=opt("segment", _key("segment")),  # type: ignore[arg-type]
        propensity=opt("propensity", _propensity),  # type: ignore[arg-type]
        offer_key=opt("offer_key", _key("offer_key")),  # type: ignore[arg-type]
    )
