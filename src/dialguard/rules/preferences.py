"""What the contact told the business: voice consent, the channel they want, their hours.

These are the contact's own choices, imported from the business's CRM with the list
(docs/contacts.md), and they only ever *remove* calls: an explicit "no" to voice is never
dialled; a campaign that requires consent dials only a "yes"; a contact who prefers SMS,
e-mail or no contact at all is not dialled but handed over (``preferred_channel``
refusal, which the engine turns into one ``dialguard/handoff/{channel}`` event); and
preferred hours narrow the legal calling window, never widen it (rules/hours.py).

Pure functions of plain values, like the rest of :mod:`dialguard.rules`, so the import
(validation), the gate (refusals) and the simulator (the same rules on simulated
contacts) share one definition.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal, get_args

from dialguard.rules.types import DAY_NAMES, Verdict, WeeklySpan, format_hhmm, parse_hhmm

__all__ = [
    "CHANNELS",
    "CONSENT_BY_DEFAULT",
    "VOICE_CONSENTS",
    "Channel",
    "VoiceConsent",
    "check_preferred_channel",
    "check_voice_consent",
    "describe_spans",
    "handoff_channel",
    "parse_weekly_hours",
    "preferred_spans",
]

VoiceConsent = Literal["yes", "no", "unknown"]
Channel = Literal["voice", "sms", "email", "none"]
VOICE_CONSENTS: tuple[VoiceConsent, ...] = get_args(VoiceConsent)
CHANNELS: tuple[Channel, ...] = get_args(Channel)

CONSENT_BY_DEFAULT: Mapping[str, bool] = {
    # TCPA (47 U.S.C. § 227(b), 47 CFR 64.1200(a)(2)): prior express (written, for
    # telemarketing) consent before an autodialled call to a mobile, and a dialler cannot
    # tell mobiles apart reliably: a US campaign should require consent.
    "tcpa": True,
    # France (Code de la consommation L223-1, Bloctel) and Australia (Do Not Call
    # Register Act 2006) are opt-out regimes: a call is lawful unless the number is
    # listed, so consent is not needed (a campaign may still require it).
    "france": False,
    "australia": False,
    "custom": False,
    "none": False,
}
"""Whether each regime's law needs a recorded voice "yes" before the call. Not applied
silently (lists imported before issue 15 carry no consent, and turning it on would stop
every such US campaign): ``config check`` should say so; the file's
``require_voice_consent`` decides."""


def check_voice_consent(consent: str | None, required: bool) -> Verdict:
    """Refuse an explicit "no" always, and anything but "yes" when consent is required.

    Neither can be waited out (``retry_at`` None): consent changes only by a new import.
    """
    value = consent or "unknown"
    if value == "no":
        return Verdict.refuse("voice_consent", "the contact refused voice calls (consent no)")
    if required and value != "yes":
        return Verdict.refuse(
            "voice_consent",
            f"the campaign requires voice consent and the contact's is {value!r}",
        )
    return Verdict.allow("voice_consent", f"voice consent {value}")


def handoff_channel(preferred: str | None) -> Channel | None:
    """The channel to hand the contact to instead of calling, or None to call them."""
    if preferred in (None, "", "voice"):
        return None
    if preferred in CHANNELS:
        return preferred
    raise ValueError(f"preferred_channel {preferred!r} must be one of {', '.join(CHANNELS)}")


def check_preferred_channel(preferred: str | None) -> Verdict:
    """Refuse a contact who asked for another channel (or none): they are handed over."""
    channel = handoff_channel(preferred)
    if channel is None:
        return Verdict.allow("preferred_channel", "voice (or no preference)")
    return Verdict.refuse(
        "preferred_channel", f"the contact prefers {channel}: handed over, not dialled"
    )


# ---------------------------------------------------------------- preferred hours

_SPAN = re.compile(
    r"^\s*(?:(?P<days>[a-z]{3}(?:\s*-\s*[a-z]{3})?(?:\s*,\s*[a-z]{3}(?:\s*-\s*[a-z]{3})?)*)\s+)?"
    r"(?P<start>\d{1,2}:\d{2})\s*[-–]\s*(?P<end>\d{1,2}:\d{2})\s*$"
)
_DAY = {name: i for i, name in enumerate(DAY_NAMES)}


def _days(text: str, whole: str) -> frozenset[int]:
    out: set[int] = set()
    for part in text.split(","):
        ends = [p.strip() for p in part.split("-")]
        unknown = [d for d in ends if d not in _DAY]
        if unknown:
            raise ValueError(
                f"bad preferred_hours {whole!r} ({unknown[0]!r} is not a day: "
                f"use {', '.join(DAY_NAMES)})"
            )
        first, last = _DAY[ends[0]], _DAY[ends[-1]]
        if last < first:
            raise ValueError(
                f"bad preferred_hours {whole!r} (day range {part.strip()} is backwards)"
            )
        out.update(range(first, last + 1))
    return frozenset(out)


def _hhmm(text: str, whole: str) -> int:
    h, m = text.split(":")
    canonical = f"{int(h):02d}:{m}"
    try:
        return parse_hhmm(canonical)
    except ValueError:
        raise ValueError(f"bad preferred_hours {whole!r} ({text} is not a time of day)") from None


def parse_weekly_hours(text: str) -> tuple[WeeklySpan, ...]:
    """``"mon-fri 18:00-20:00; sat 10:00-12:00"`` → spans; a span without days is every day.

    ValueError naming the column and the exact problem, for the import's reject line.
    """
    spans: list[WeeklySpan] = []
    for part in text.lower().split(";"):
        if not part.strip():
            continue
        m = _SPAN.match(part)
        if not m:
            raise ValueError(
                f"bad preferred_hours {text!r} (expected [days] HH:MM-HH:MM, "
                "e.g. 18:00-20:00 or mon-fri 18:00-20:00; sat 10:00-12:00)"
            )
        days = _days(m["days"], text) if m["days"] else frozenset(range(7))
        start, end = _hhmm(m["start"], text), _hhmm(m["end"], text)
        if start >= end:
            raise ValueError(f"bad preferred_hours {text!r} (start must be before end)")
        spans.append(WeeklySpan(days, start, end))
    if not spans:
        raise ValueError(f"bad preferred_hours {text!r} (no time range)")
    return tuple(spans)


def describe_spans(spans: tuple[WeeklySpan, ...]) -> str:
    """The canonical text of ``spans`` (what the store keeps): parses back to the same."""
    return "; ".join(
        f"{','.join(DAY_NAMES[d] for d in sorted(s.days))} "
        f"{format_hhmm(s.start)}-{format_hhmm(s.end)}"
        for s in spans
    )


def preferred_spans(stored: Mapping[str, str] | None) -> tuple[WeeklySpan, ...]:
    """The stored ``preferred_hours`` as spans: ``{"spans": "mon-fri 18:00-20:00"}``, or the
    older every-day ``{"start": "18:00", "end": "20:00"}``; none for no preference."""
    if not stored:
        return ()
    if "spans" in stored:
        return parse_weekly_hours(stored["spans"])
    if "start" in stored and "end" in stored:
        return (WeeklySpan.of(range(7), stored["start"], stored["end"]),)
    return ()
