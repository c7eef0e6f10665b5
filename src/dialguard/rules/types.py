"""Value types of the compliance gate: what the engine knows about a contact, and verdicts.

The rules are pure functions of these small frozen dataclasses, so the engine can build
them from store rows and the tests can build them by hand. Every constructor checks its
input and raises :class:`ValueError` naming the field that is wrong: a bad row must stop
at the gate with a clear message, never slip through as "allowed".
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final, Literal

from dialguard.law import LIST_NAME_PATTERN
from dialguard.rules.abandoned import is_abandoned

DialMode = Literal["guaranteed", "predictive"]
"""How *this* call would be paced: ``guaranteed`` means an agent is reserved for it
(preview / progressive, or predictive fallen back); ``predictive`` means over-dialled."""

DIAL_MODES: tuple[DialMode, ...] = ("guaranteed", "predictive")

DIAL_MODE_OF: Final[Mapping[str, DialMode]] = MappingProxyType(
    {
        "preview": "guaranteed",  # the agent asked for this very contact
        "progressive": "guaranteed",  # one call per free agent, reserved for it
        "predictive": "predictive",  # over-dialled: no agent promised
    }
)
"""The one mapping from a campaign's pacing mode (``dialguard.pacing.PacingMode``, as the
attempt rows record it) to how the rules see the call. A predictive campaign's call with
an agent reserved for it is placed, and recorded, as ``progressive``."""

NationalList = str
"""A national list's name: built-in (:data:`dialguard.law.BUILT_IN_LISTS`) or declared in
the engine config (``[[dnc_list]]``)."""
SuppressionSource = str
"""``internal`` or a :data:`NationalList`."""

DAY_S = 86400
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY_WORDS = {n: i for names in (DAY_NAMES, _FULL_DAY_NAMES) for i, n in enumerate(names)}
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$|^24:00$")


def _finite(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number of epoch seconds, got {value!r}")


def parse_hhmm(text: str) -> int:
    """``"09:30"`` → 34200 seconds after local midnight; ``"24:00"`` is the day's end."""
    m = _HHMM.match(text)
    if not m:
        raise ValueError(f"time {text!r} must be HH:MM on a 24 h clock (00:00–24:00)")
    if text == "24:00":
        return DAY_S
    return int(m.group(1)) * 3600 + int(m.group(2)) * 60


def format_hhmm(seconds: int) -> str:
    """Inverse of :func:`parse_hhmm`, for reasons people read."""
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


@dataclass(frozen=True, slots=True)
class WeeklySpan:
    """One span of local wall-clock time, ``[start, end)``, on the given weekdays.

    ``days`` are ``date.weekday()`` numbers (0 = Monday); ``start``/``end`` are seconds
    after local midnight, ``end`` up to 86400 (24:00). Calling windows and a contact's
    preferred hours are both sets of these.
    """

    days: frozenset[int]
    start: int
    end: int

    def __post_init__(self) -> None:
        if not self.days or not all(isinstance(d, int) and 0 <= d <= 6 for d in self.days):
            raise ValueError(f"WeeklySpan.days must be weekday numbers 0–6, got {self.days!r}")
        if not (0 <= self.start < self.end <= DAY_S):
            raise ValueError(
                f"WeeklySpan needs 0 ≤ start < end ≤ 86400 s, got start={self.start} end={self.end}"
            )

    @classmethod
    def of(cls, days: Iterable[str | int], start: str, end: str) -> WeeklySpan:
        """Build from config-style values: ``WeeklySpan.of(["mon", "tue"], "09:00", "12:00")``."""
        nums: set[int] = set()
        for d in days:
            if isinstance(d, int) and not isinstance(d, bool):
                nums.add(d)
            elif isinstance(d, str) and d.lower() in _DAY_WORDS:
                nums.add(_DAY_WORDS[d.lower()])
            else:
                raise ValueError(f"weekday {d!r} must be one of {', '.join(DAY_NAMES)} or 0–6")
        return cls(frozenset(nums), parse_hhmm(start), parse_hhmm(end))

    def describe(self) -> str:
        days = ",".join(DAY_NAMES[d] for d in sorted(self.days))
        return f"{days} {format_hhmm(self.start)}–{format_hhmm(self.end)}"


@dataclass(frozen=True, slots=True)
class Verdict:
    """The gate's answer for one rule: allowed or not, which rule, why, and when to retry.

    ``rule`` is a stable machine name (reports group by it); ``reason`` is a sentence with
    the figures; ``retry_at`` is the epoch second from which the refusing rule would allow
    the call (``None``: not computable or never — e.g. a DNC entry), so the engine can set
    the contact's next attempt time instead of asking again every second.
    """

    allowed: bool
    rule: str
    reason: str
    retry_at: float | None = None

    def __post_init__(self) -> None:
        if self.allowed and self.retry_at is not None:
            raise ValueError("an allowed Verdict has no retry_at")

    @classmethod
    def allow(cls, rule: str, reason: str = "passes") -> Verdict:
        return cls(True, rule, reason)

    @classmethod
    def refuse(cls, rule: str, reason: str, retry_at: float | None = None) -> Verdict:
        return cls(False, rule, reason, retry_at)


ALLOWED = Verdict.allow("allowed", "every rule allows the call")


@dataclass(frozen=True, slots=True)
class PastAttempt:
    """One earlier call to the contact's number, from any campaign.

    ``at`` is when it was dialled and ``ended_at`` when it ended (if known); ``abandoned``
    is true when a live answer did not reach an agent in time (Ofcom/TCPA sense);
    ``mode`` is how that call was paced. ``campaign`` is where it came from, for reasons.
    ``answered_at``/``connected_at`` let a connect later than the deadline count as
    abandoned (:attr:`counts_abandoned`), as it does in the compliance report.
    """

    at: float
    outcome: str
    abandoned: bool = False
    mode: DialMode = "guaranteed"
    campaign: str = ""
    ended_at: float | None = None
    answered_at: float | None = None
    connected_at: float | None = None

    def __post_init__(self) -> None:
        _finite("PastAttempt.at", self.at)
        if self.ended_at is not None:
            _finite("PastAttempt.ended_at", self.ended_at)
            if self.ended_at < self.at:
                raise ValueError(
                    f"PastAttempt.ended_at {self.ended_at} is before its dial time {self.at}"
                )
        for name in ("answered_at", "connected_at"):
            value = getattr(self, name)
            if value is not None:
                _finite(f"PastAttempt.{name}", value)
        if not isinstance(self.outcome, str) or not self.outcome:
            raise ValueError(f"PastAttempt.outcome must be a non-empty string: {self.outcome!r}")
        if self.mode not in DIAL_MODES:
            raise ValueError(f"PastAttempt.mode must be one of {DIAL_MODES}, got {self.mode!r}")

    @property
    def counts_abandoned(self) -> bool:
        """Abandoned in the one sense the report and the governor use too
        (:func:`dialguard.rules.abandoned.is_abandoned`)."""
        return is_abandoned(
            flagged=self.abandoned,
            outcome=self.outcome,
            answered_at=self.answered_at,
            connected_at=self.connected_at,
        )

    @property
    def lockout_from(self) -> float:
        """When an abandoned call's 72 h lock-out starts: its end if known, else its dial."""
        return self.ended_at if self.ended_at is not None else self.at


@dataclass(frozen=True, slots=True)
class Suppression:
    """An entry for the contact's number on a do-not-call list.

    ``source`` is ``internal`` (opt-outs, complaints: always honoured) or a national list;
    ``list_date`` is the epoch second of the list version the entry came from, if known.
    """

    source: SuppressionSource
    list_date: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.source, str) or re.fullmatch(LIST_NAME_PATTERN, self.source) is None:
            raise ValueError(
                f"Suppression.source must be a list name (a lower-case token), got {self.source!r}"
            )
        if self.list_date is not None:
            _finite("Suppression.list_date", self.list_date)


@dataclass(frozen=True, slots=True)
class ContactFacts:
    """What the gate needs to know about one contact in one campaign.

    ``timezones`` are the callee's candidate IANA zones (see
    :func:`dialguard.rules.zones.candidate_zones`); ``attempts`` and
    ``outcome_counts`` count this campaign's attempts to the contact; ``last_outcome`` /
    ``last_outcome_at`` are the latest of them (outcome name as in ``RetryPolicy``, and
    when that attempt ended). ``preferred_hours`` (callee's local time) narrow the legal
    calling window; they never widen it. ``voice_consent`` (yes|no|unknown) and
    ``preferred_channel`` (voice|sms|email|none, None for no preference) are the
    contact's own choices (rules/preferences.py).
    """

    number: str
    timezones: tuple[str, ...] = ()
    priority: int = 0
    attempts: int = 0
    last_outcome: str | None = None
    last_outcome_at: float | None = None
    outcome_counts: Mapping[str, int] = field(default_factory=dict, hash=False)
    preferred_hours: tuple[WeeklySpan, ...] = ()
    voice_consent: str = "unknown"
    preferred_channel: str | None = None

    def __post_init__(self) -> None:
        if self.voice_consent not in ("yes", "no", "unknown"):
            raise ValueError(
                f"ContactFacts.voice_consent must be yes, no or unknown: {self.voice_consent!r}"
            )
        if self.preferred_channel not in (None, "voice", "sms", "email", "none"):
            raise ValueError(
                "ContactFacts.preferred_channel must be voice, sms, email or none: "
                f"{self.preferred_channel!r}"
            )
        if not isinstance(self.number, str) or not self.number.strip():
            raise ValueError("ContactFacts.number must be a non-empty string")
        if isinstance(self.timezones, str):
            raise ValueError("ContactFacts.timezones must be a sequence of zone names, not a str")
        object.__setattr__(self, "timezones", tuple(self.timezones))
        object.__setattr__(self, "preferred_hours", tuple(self.preferred_hours))
        if not all(isinstance(z, str) for z in self.timezones):
            raise ValueError(f"ContactFacts.timezones must be strings: {self.timezones!r}")
        if not all(isinstance(p, WeeklySpan) for p in self.preferred_hours):
            raise ValueError("ContactFacts.preferred_hours must be WeeklySpan values")
        if isinstance(self.priority, bool) or not isinstance(self.priority, int):
            raise ValueError(f"ContactFacts.priority must be an int, got {self.priority!r}")
        if isinstance(self.attempts, bool) or not isinstance(self.attempts, int):
            raise ValueError(f"ContactFacts.attempts must be an int, got {self.attempts!r}")
        if self.attempts < 0:
            raise ValueError(f"ContactFacts.attempts must be ≥ 0, got {self.attempts}")
        if (self.last_outcome is None) != (self.last_outcome_at is None):
            raise ValueError(
                "ContactFacts.last_outcome and last_outcome_at must be given together "
                f"(got {self.last_outcome!r} and {self.last_outcome_at!r})"
            )
        if self.last_outcome_at is not None:
            _finite("ContactFacts.last_outcome_at", self.last_outcome_at)
        if self.last_outcome is not None and self.attempts < 1:
            raise ValueError("ContactFacts has a last_outcome but attempts is 0")
        counts = dict(self.outcome_counts)
        for k, v in counts.items():
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"ContactFacts.outcome_counts[{k!r}] must be an int ≥ 0: {v!r}")
        if sum(counts.values()) > self.attempts:
            raise ValueError(
                f"ContactFacts.outcome_counts add up to {sum(counts.values())}, more than "
                f"attempts={self.attempts}"
            )
        object.__setattr__(self, "outcome_counts", counts)
