"""Callee population profiles: what share of calls answer, refuse or ring out, and when.

A profile is the simulator's model of the people (and networks) behind the numbers a
dialler calls. Built-ins S1–S3 follow the standard workloads of docs/design.md (post-dial
delay 1–3 s, ring-to-answer lognormal median 7 s σ 0.5, busy 0.5–2.5 s and invalid
2–6 s after the post-dial delay, lognormal talk by mean and CV); other populations come
from TOML files. Numbers can force an outcome — by a table in the profile, or by the
``+1555000`` test-number convention (see :func:`forced_by_convention`) — so tests and
the engine's integration suite get exactly the call they need.

Sampling is per call from ``Random(f"{seed}:{number}:{n}")`` (n = how many times that
number was called before), so a run replays from its seed whatever the order in which
concurrent INVITEs arrive.
"""

from __future__ import annotations

import math
import random
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

Outcome = Literal["live", "voicemail", "busy", "unavailable", "not_found", "decline", "no_answer"]
OUTCOMES: tuple[Outcome, ...] = (
    "live",
    "voicemail",
    "busy",
    "unavailable",
    "not_found",
    "decline",
    "no_answer",
)
FINAL_CODE: dict[str, int] = {"busy": 486, "unavailable": 480, "not_found": 404, "decline": 603}
TEST_PREFIX = "+1555000"
"""Numbers ``+1555000`` C RRR force outcome code C (see :data:`CONVENTION_CODES`)."""
CONVENTION_CODES: dict[str, dict[str, Any]] = {
    # digit: the Forced fields it sets
    "0": {"outcome": "live"},
    "1": {"outcome": "voicemail"},
    "2": {"outcome": "busy"},
    "3": {"outcome": "unavailable"},
    "4": {"outcome": "not_found"},
    "5": {"outcome": "no_answer"},
    "6": {"outcome": "unavailable", "code": 503},
    "7": {"outcome": "live", "opt_out": True},
    "8": {"outcome": "decline"},
    "9": {"outcome": "live", "early_media": True},
}


class ProfileError(ValueError):
    """A profile that cannot be used; the message names the file and the fields."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Dist(_Model):
    """A duration in seconds: ``fixed`` (value), ``uniform`` (low, high), ``lognormal``
    by median and sigma, or by mean and cv (coefficient of variation)."""

    dist: Literal["fixed", "uniform", "lognormal"] = "fixed"
    value: float | None = Field(default=None, ge=0)
    low: float | None = Field(default=None, ge=0)
    high: float | None = Field(default=None, ge=0)
    median: float | None = Field(default=None, gt=0)
    sigma: float | None = Field(default=None, ge=0)
    mean: float | None = Field(default=None, gt=0)
    cv: float | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _complete(self) -> Dist:
        if self.dist == "fixed" and self.value is None:
            raise ValueError("fixed needs 'value'")
        if self.dist == "uniform":
            if self.low is None or self.high is None:
                raise ValueError("uniform needs 'low' and 'high'")
            if self.low > self.high:
                raise ValueError(f"uniform low {self.low} > high {self.high}")
        if self.dist == "lognormal":
            by_median = self.median is not None and self.sigma is not None
            by_mean = self.mean is not None and self.cv is not None
            if by_median == by_mean:
                raise ValueError("lognormal needs either 'median' and 'sigma' or 'mean' and 'cv'")
        return self

    def _mu_sigma(self) -> tuple[float, float]:
        if self.median is not None and self.sigma is not None:
            return math.log(self.median), self.sigma
        assert self.mean is not None and self.cv is not None
        s2 = math.log1p(self.cv**2)
        return math.log(self.mean) - s2 / 2, math.sqrt(s2)

    def sample(self, rng: random.Random) -> float:
        if self.dist == "fixed":
            assert self.value is not None
            return self.value
        if self.dist == "uniform":
            assert self.low is not None and self.high is not None
            return rng.uniform(self.low, self.high)
        mu, sigma = self._mu_sigma()
        return float(rng.lognormvariate(mu, sigma))

    def cdf(self, x: float) -> float:
        """P(sample ≤ x): used to turn a hit rate into an answer share."""
        if self.dist == "fixed":
            assert self.value is not None
            return 1.0 if self.value <= x else 0.0
        if self.dist == "uniform":
            assert self.low is not None and self.high is not None
            if self.high == self.low:
                return 1.0 if self.low <= x else 0.0
            return min(1.0, max(0.0, (x - self.low) / (self.high - self.low)))
        if x <= 0:
            return 0.0
        mu, sigma = self._mu_sigma()
        if sigma == 0:
            return 1.0 if math.exp(mu) <= x else 0.0
        return 0.5 * (1 + math.erf((math.log(x) - mu) / (sigma * math.sqrt(2))))


def _dist(v: Any) -> Any:
    """A bare number in TOML means a fixed duration."""
    if isinstance(v, int | float) and not isinstance(v, bool):
        return {"dist": "fixed", "value": v}
    return v


Duration = Annotated[Dist, BeforeValidator(_dist)]


def fixed(v: float) -> Dist:
    return Dist(dist="fixed", value=v)


def uniform(low: float, high: float) -> Dist:
    return Dist(dist="uniform", low=low, high=high)


class Shares(_Model):
    """Share of calls per outcome; what is left over rings until cancelled (no_answer)."""

    live: float = Field(default=0.0, ge=0, le=1)
    voicemail: float = Field(default=0.0, ge=0, le=1)
    busy: float = Field(default=0.0, ge=0, le=1)
    unavailable: float = Field(default=0.0, ge=0, le=1)
    not_found: float = Field(default=0.0, ge=0, le=1)
    decline: float = Field(default=0.0, ge=0, le=1)

    @model_validator(mode="after")
    def _at_most_one(self) -> Shares:
        total = sum(self.model_dump().values())
        if total > 1 + 1e-9:
            raise ValueError(f"outcome shares add up to {total:.3f}, more than 1")
        return self

    @property
    def no_answer(self) -> float:
        given = sum(float(getattr(self, o)) for o in OUTCOMES[:-1])
        return max(0.0, 1 - given)


class Forced(_Model):
    """One call's outcome fixed in advance (a test number); unset times come from the
    profile's distributions."""

    outcome: Outcome
    ring_s: float | None = Field(default=None, ge=0)
    talk_s: float | None = Field(default=None, ge=0)
    code: int | None = Field(default=None, ge=400, le=699)
    opt_out: bool = False
    early_media: bool = False


class Profile(_Model):
    """A callee population. Times are seconds; ``speedup`` (not here: a run option)
    divides talk times only."""

    name: str = "custom"
    shares: Shares = Shares()
    post_dial_delay_s: Duration = uniform(1, 3)
    ring_to_answer_s: Duration = Dist(dist="lognormal", median=7, sigma=0.5)
    voicemail_answer_s: Duration = uniform(18, 26)
    busy_after_s: Duration = uniform(0.5, 2.5)
    unavailable_after_s: Duration = uniform(0.5, 2.5)
    unavailable_503_share: float = Field(default=0.0, ge=0, le=1)
    not_found_after_s: Duration = uniform(2, 6)
    decline_after_s: Duration = uniform(3, 10)
    talk_s: Duration = Dist(dist="lognormal", mean=120, cv=0.95)
    voicemail_talk_s: Duration = fixed(6)
    """Time an agent spends on a voicemail box once connected (docs/design.md S2: 6 s)."""
    voicemail_max_s: Duration = fixed(60)
    """A voicemail box hangs up after recording this long if nobody connects or speaks."""
    patience_s: Duration = uniform(3, 8)
    """How long a live callee waits in silence (no agent, no audio) before hanging up."""
    message_hangup_s: Duration = fixed(1)
    """How long after a message's audio stops the callee hangs up."""
    agent_answer_s: Duration = fixed(0.2)
    """PBX side: REFER accepted → agent answers (NOTIFY sipfrag 200)."""
    agents: Literal["always", "available"] = "always"
    """``always``: any REFER to an agent URI succeeds; ``available``: only agents marked
    available through :meth:`SimTrunk.set_agent_available`."""
    opt_out_share: float = Field(default=0.0, ge=0, le=1)
    opt_out_digit: str = Field(default="9", pattern=r"^[0-9*#A-D]$")
    opt_out_after_s: Duration = uniform(1, 3)
    """Seconds of hearing the message before the opting-out callee presses the key."""
    max_ring_s: float = Field(default=300, gt=0)
    """A call nobody cancels gets 480 after this long (no call is left open forever)."""
    sip_loss: float = Field(default=0.0, ge=0, le=0.5)
    """Share of SIP datagrams lost, each way, at random (seeded): a lossy path to the
    trunk. The dialler's retransmission timers must carry every call through it."""
    early_media: bool = False
    """Ring with ``183 Session Progress`` and an SDP answer (RTP port open from then on)
    instead of ``180 Ringing``, as many carriers do."""
    notify_trying: bool = True
    """Send NOTIFY ``SIP/2.0 100 Trying`` at once after 202, then the final NOTIFY."""
    numbers: dict[str, Forced] = {}
    """Forced outcomes: exact numbers, or prefixes written with a trailing ``*``."""

    def forced_for(self, number: str) -> Forced | None:
        """The forced outcome for ``number``: the table, then the +1555000 convention."""
        if number in self.numbers:
            return self.numbers[number]
        best = max(
            (k for k in self.numbers if k.endswith("*") and number.startswith(k[:-1])),
            key=len,
            default=None,
        )
        if best is not None:
            return self.numbers[best]
        return forced_by_convention(number)

    def sample_outcome(self, rng: random.Random) -> Outcome:
        x = rng.random()
        for outcome in OUTCOMES[:-1]:
            x -= getattr(self.shares, outcome)
            if x < 0:
                return outcome
        return "no_answer"


def forced_by_convention(number: str) -> Forced | None:
    """``+1555000`` C RRR: outcome code C (0 live, 1 voicemail, 2 busy, 3 480, 4 404,
    5 ring until cancelled, 6 503, 7 live and presses the opt-out key, 8 603, 9 live
    ringing with 183 early media), RRR the
    ring time — or for refusals the delay before the final response — in tenths of a
    second (``+15550000020``: live after 2.0 s of ringing). RRR may be left off."""
    if not number.startswith(TEST_PREFIX) or len(number) <= len(TEST_PREFIX):
        return None
    code, rest = number[len(TEST_PREFIX)], number[len(TEST_PREFIX) + 1 :]
    if code not in CONVENTION_CODES or (rest and not rest.isdigit()):
        return None
    ring = int(rest[:3]) / 10 if rest else None
    return Forced(ring_s=ring, **CONVENTION_CODES[code])


def _hit_share(hit_rate: float, timeout_s: float = 20.0) -> float:
    """Answer share such that ``hit_rate`` of attempts answer live within the timeout."""
    ring = Dist(dist="lognormal", median=7, sigma=0.5)
    return hit_rate / ring.cdf(timeout_s)


BUILTIN: dict[str, Profile] = {
    "S1": Profile(
        name="S1",
        shares=Shares(live=_hit_share(0.30), busy=0.10, not_found=0.05),
        talk_s=Dist(dist="lognormal", mean=120, cv=0.95),
    ),
    "S2": Profile(
        name="S2",
        shares=Shares(live=_hit_share(0.12), voicemail=0.15, busy=0.08, not_found=0.10),
        talk_s=Dist(dist="lognormal", mean=180, cv=1.0),
        voicemail_answer_s=uniform(18, 26),
        voicemail_talk_s=fixed(6),
    ),
    "S3": Profile(
        name="S3",
        shares=Shares(live=_hit_share(0.25), busy=0.10, not_found=0.05),
        talk_s=Dist(dist="lognormal", mean=60, cv=0.8),
    ),
}
"""docs/design.md's standard workloads as callee populations (agent counts and wrap-up are
the dialler's side and not modelled here)."""


def load_profile(spec: str | Path) -> Profile:
    """``S1``/``S2``/``S3`` (any case), or a TOML file path. A file may start from a
    built-in with ``base = "S2"`` and override fields."""
    key = str(spec).upper()
    if key in BUILTIN:
        return BUILTIN[key]
    path = Path(spec)
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise ProfileError(
            f"profile {spec}: neither a built-in ({', '.join(BUILTIN)}) nor an existing file"
        ) from None
    except tomllib.TOMLDecodeError as e:
        raise ProfileError(f"profile {path}: not valid TOML: {e}") from None
    except OSError as e:
        raise ProfileError(f"profile {path}: cannot read: {e.strerror or e}") from None
    return profile_from_dict(data, source=str(path))


def profile_from_dict(data: dict[str, Any], *, source: str = "<dict>") -> Profile:
    data = dict(data)
    base_name = data.pop("base", None)
    if base_name is not None:
        if str(base_name).upper() not in BUILTIN:
            raise ProfileError(
                f"profile {source}: base {base_name!r} is not one of {list(BUILTIN)}"
            )
        base = BUILTIN[str(base_name).upper()].model_dump(exclude_defaults=False)
        base.pop("name")
        shares = {**base.pop("shares"), **data.pop("shares", {})}
        data = {**base, **data, "shares": shares}
    data.setdefault("name", Path(source).stem)
    try:
        return Profile.model_validate(data)
    except ValidationError as e:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}" for err in e.errors()
        )
        raise ProfileError(f"profile {source}: {problems}") from None
