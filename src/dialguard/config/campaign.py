"""Campaign configuration: who calls whom, how fast, and under which law.

Every rule the regulator sets has a floor or ceiling here that no file, environment
variable or live pacing change can cross: ring time ≥ 15 s, abandon cap ≤ 3 %,
predictive over-dial ≤ 3 : 1, a valid non-premium E.164 caller ID.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Annotated, Literal

import phonenumbers
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from dialguard.law import (
    ABANDON_LOCKOUT_S,
    CONNECT_DEADLINE_S,
    LIST_NAME_PATTERN,
    MAX_ABANDON_CAP,
    MAX_DIAL_RATIO,
    MIN_RING_TIMEOUT_S,
    REGIME_HOLIDAY_COUNTRY,
    REGIME_MAX_CALLS,
    AbandonWindow,
)
from dialguard.pacing.params import PacingMode as PacingMode
from dialguard.propensity.score import Order

Regime = Literal["tcpa", "france", "australia", "custom", "none"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _ring_timeout(v: float) -> float:
    if v < MIN_RING_TIMEOUT_S:
        raise ValueError(f"must be ≥ {MIN_RING_TIMEOUT_S:g} s (minimum ring time)")
    if v > 120:
        raise ValueError("must be ≤ 120 s (a call ringing longer is not going to be answered)")
    return v


def _abandon_cap(v: float) -> float:
    if not 0 < v <= MAX_ABANDON_CAP:
        raise ValueError(
            f"must be > 0 and ≤ {MAX_ABANDON_CAP:g} (abandoned-call cap is at most 3 %)"
        )
    return v


def _dial_ratio(v: float) -> float:
    if not 1.0 <= v <= MAX_DIAL_RATIO:
        raise ValueError(f"must be between 1 and {MAX_DIAL_RATIO:g} (lines dialled per agent)")
    return v


RingTimeout = Annotated[float, AfterValidator(_ring_timeout)]
AbandonCap = Annotated[float, AfterValidator(_abandon_cap)]
DialRatio = Annotated[float, AfterValidator(_dial_ratio)]

_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")


def _parse_hhmm(v: str) -> dt.time:
    if not _HHMM.match(v):
        raise ValueError("must be a time HH:MM (24 h clock)")
    if v == "24:00":
        return dt.time.max
    h, m = v.split(":")
    return dt.time(int(h), int(m))


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PacingConfig(_Model):
    """How many lines to dial and how long they ring. Changeable live, within the law."""

    mode: PacingMode = "progressive"
    ring_timeout_s: RingTimeout = 20.0
    abandon_cap: AbandonCap = MAX_ABANDON_CAP
    abandon_window: AbandonWindow = "24h"
    max_dial_ratio: DialRatio = 2.5
    dial_ahead_wrap: bool = Field(
        default=False,
        description="dial for an agent in wrap-up just before its cap (needs wrap_up_cap_s)",
    )
    wrap_up_cap_s: float | None = Field(
        default=None,
        gt=0,
        le=600,
        description="the engine makes an agent available this long into wrap-up unless it "
        "pauses (None: no cap, wrap-up lasts until the desktop says ready)",
    )
    learn_ring_timeout: bool = Field(
        default=False,
        description="shorten the ring timeout from the measured answer-time curve (never < 15 s)",
    )
    connect_deadline_s: float = Field(default=CONNECT_DEADLINE_S, gt=0, le=CONNECT_DEADLINE_S)

    @model_validator(mode="after")
    def _dial_ahead_needs_cap(self) -> PacingConfig:
        if self.dial_ahead_wrap and self.wrap_up_cap_s is None:
            raise ValueError(
                "dial_ahead_wrap = true needs wrap_up_cap_s: only an enforced wrap-up cap "
                "makes the agent dialled for certain to be ready in time"
            )
        return self


class TimeRange(_Model):
    """One span of calling time on the given days, in the callee's local time."""

    days: list[Weekday] = Field(default_factory=lambda: list(WEEKDAYS[:5]), min_length=1)
    start: str
    end: str

    @field_validator("start", "end")
    @classmethod
    def _time(cls, v: str) -> str:
        _parse_hhmm(v)
        return v

    @model_validator(mode="after")
    def _order(self) -> TimeRange:
        if _parse_hhmm(self.start) >= _parse_hhmm(self.end):
            raise ValueError(f"start {self.start} must be before end {self.end}")
        return self

    @property
    def start_time(self) -> dt.time:
        return _parse_hhmm(self.start)

    @property
    def end_time(self) -> dt.time:
        return _parse_hhmm(self.end)


class CallingWindowConfig(_Model):
    """When a callee may be called, in their local time; presets follow the law.

    A preset whose law forbids calls on public holidays (France, Australia) brings its
    country's calendar; ``holidays`` adds the campaign's own dates to it and
    ``holiday_subdivisions`` adds a region's holidays for every callee (both only ever
    block more days).
    """

    regime: Regime = "tcpa"
    custom: list[TimeRange] = Field(default_factory=list)
    holidays: list[dt.date] = Field(default_factory=list)
    holiday_subdivisions: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _custom_needs_ranges(self) -> CallingWindowConfig:
        if self.regime == "custom" and not self.custom:
            raise ValueError("regime 'custom' needs at least one [[calling_window.custom]] range")
        return self

    @model_validator(mode="after")
    def _subdivisions_of_the_regime(self) -> CallingWindowConfig:
        if not self.holiday_subdivisions:
            return self
        country = REGIME_HOLIDAY_COUNTRY.get(self.regime)
        if country is None:
            raise ValueError(
                f"holiday_subdivisions needs a regime with a holiday calendar "
                f"({', '.join(sorted(REGIME_HOLIDAY_COUNTRY))}); regime {self.regime!r} has none"
            )
        import holidays  # only when subdivisions are named: the calendar data is large

        known = holidays.list_supported_countries()[country]
        unknown = [s for s in self.holiday_subdivisions if s not in known]
        if unknown:
            raise ValueError(
                f"holiday_subdivisions {', '.join(map(repr, unknown))} not subdivisions of "
                f"{country} (known: {', '.join(known)})"
            )
        return self


class RetryRule(_Model):
    """When to try again after an outcome, and how many tries that outcome allows."""

    delay_s: float = Field(ge=0, le=30 * 86400)
    max_attempts: int = Field(ge=0, le=50)


class RetryPolicy(_Model):
    busy: RetryRule = RetryRule(delay_s=900, max_attempts=3)
    no_answer: RetryRule = RetryRule(delay_s=3600, max_attempts=3)
    unavailable: RetryRule = RetryRule(delay_s=1800, max_attempts=3)
    failed: RetryRule = RetryRule(delay_s=3600, max_attempts=2)
    voicemail: RetryRule = RetryRule(delay_s=14400, max_attempts=2)
    interrupted: RetryRule = RetryRule(delay_s=1800, max_attempts=3)
    abandoned: RetryRule = RetryRule(delay_s=ABANDON_LOCKOUT_S, max_attempts=2)
    max_attempts_total: int = Field(default=6, ge=1, le=100)

    @field_validator("abandoned")
    @classmethod
    def _lockout(cls, v: RetryRule) -> RetryRule:
        if v.delay_s < ABANDON_LOCKOUT_S:
            raise ValueError(
                f"delay_s must be ≥ {ABANDON_LOCKOUT_S:.0f} (72 h lock-out after an abandoned call)"
            )
        return v


class FrequencyCaps(_Model):
    """Attempts allowed to one number; 0 means no cap on that span."""

    per_day: int = Field(default=3, ge=0, le=100)
    per_7_days: int = Field(default=7, ge=0, le=700)
    per_30_days: int = Field(default=0, ge=0, le=3000)


class DncConfig(_Model):
    """Which national do-not-call lists this campaign must honour (internal always applies):
    built-in ones (``tps``, ``ctps``, ``usdnc``, ``bloctel``, ``dncr``) or ones the engine
    config declares (``[[dnc_list]]``). A campaign file is read without the engine config,
    so only the name's shape is checked here; ``config check`` names a list no config
    declares, and the gate refuses to dial against one (fail closed)."""

    lists: list[Annotated[str, Field(pattern=LIST_NAME_PATTERN)]] = Field(
        default_factory=list, max_length=15
    )


class CampaignConfig(_Model):
    """One campaign file: ``config/campaigns/<id>.toml``."""

    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
    name: str = Field(min_length=1, max_length=200)
    caller_id: str
    agent_group: str = "default"
    information_message: Path | None = Field(
        default=None, description="8 kHz WAV or µ-law file; a built-in tone is used if unset"
    )
    information_text: str = Field(
        default="", max_length=500, description="what the message says, for the audit trail"
    )
    opt_out_digit: Literal["1", "2", "3", "4", "5", "6", "7", "8", "9", "0", "*", "#"] = "9"
    pacing: PacingConfig = PacingConfig()
    calling_window: CallingWindowConfig = CallingWindowConfig()
    retry: RetryPolicy = RetryPolicy()
    caps: FrequencyCaps = FrequencyCaps()
    dnc: DncConfig = DncConfig()
    enabled: bool = True
    order: Order = Field(
        default="priority",
        description="which due contact first: list (file order, retries when due), "
        "priority (highest priority, then longest due) or expected_value (answer "
        "probability now × propensity within a priority, aged so nobody waits forever)",
    )
    require_voice_consent: bool = Field(
        default=False,
        description="dial only contacts whose imported voice consent is 'yes' (an explicit "
        "'no' is never dialled either way); docs/contacts.md says which regimes need it",
    )

    @model_validator(mode="after")
    def _caps_never_looser_than_the_regime(self) -> CampaignConfig:
        regime = self.calling_window.regime
        for name, limit in REGIME_MAX_CALLS.get(regime, {}).items():
            mine = getattr(self.caps, name)
            if mine > limit:
                raise ValueError(
                    f"caps.{name} = {mine} is looser than regime {regime!r} allows "
                    f"(at most {limit}); a campaign may tighten its regime, never loosen it "
                    f"(0 takes the regime's {limit})"
                )
        return self

    def caps_in_force(self) -> FrequencyCaps:
        """The campaign's caps tightened by its regime's (``[caps]`` 0 = the regime's)."""
        imposed = REGIME_MAX_CALLS.get(self.calling_window.regime, {})
        if not imposed:
            return self.caps
        update = {
            name: limit if getattr(self.caps, name) == 0 else min(getattr(self.caps, name), limit)
            for name, limit in imposed.items()
        }
        return self.caps.model_copy(update=update)

    @model_validator(mode="after")
    def _predictive_needs_message(self) -> CampaignConfig:
        if self.pacing.mode == "predictive" and self.information_message is None:
            raise ValueError(
                "pacing.mode = predictive needs information_message (an audio file saying "
                "who called and a number to call back): over-dialled calls must hear it"
            )
        return self

    @field_validator("caller_id")
    @classmethod
    def _caller_id(cls, v: str) -> str:
        if not v.startswith("+"):
            raise ValueError("must be E.164 with a leading + (e.g. +442079460000)")
        try:
            num = phonenumbers.parse(v, None)
        except phonenumbers.NumberParseException as e:
            raise ValueError(f"not a phone number ({e})") from None
        if not phonenumbers.is_valid_number(num):
            raise ValueError("not a valid number for its country")
        if phonenumbers.number_type(num) == phonenumbers.PhoneNumberType.PREMIUM_RATE:
            raise ValueError("premium-rate numbers may not be used as caller ID")
        e164: str = phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)
        return e164
