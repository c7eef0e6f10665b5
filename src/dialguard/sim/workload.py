"""Contact-centre workloads for the simulator: S1–S3 exactly as docs/design.md, or from TOML.

Common to all (docs/design.md "Standard pacing workloads"): post-dial delay uniform 1–3 s;
ring-to-answer lognormal (median 7 s, σ 0.5); no-answer timeout 20 s; busy known
0.5–2.5 s after the post-dial delay, invalid (SIT/404) 2–6 s after it; talk lognormal
with the given mean and CV; fixed wrap-up; agents never pause.

The hit rate ``p`` is the share of attempts answered live *within 20 s*, so the share of
callees who would answer at all is ``p / F(20)`` (``F`` the ring-time CDF); a shorter
ring timeout loses the ones who answer late, a longer one would not find more.

Modelling choices docs/design.md leaves open, stated here: connecting an answered call
to its agent takes ``connect_latency_s`` (0.3 s from transfer to the agent's answer:
the latency with which docs/design.md's closed-form ceilings come out); the INVITE leaves
``dispatch_s`` (uniform, a few ms: contact pick and attempt row) after the pacer's
``Launch``; an answered voicemail (S2) occupies the agent for ``voicemail_agent_s`` with
no wrap-up. Beyond docs/design.md: ``wrap_cv`` > 0 draws each wrap-up lognormal with mean
``wrap_s`` (as ``talk_cv`` does for talk; 0 = fixed), and ``wrap_cap_s`` is the
campaign's wrap-up cap, which the simulated engine enforces as the daemon does (the
agent is ready at min(drawn wrap-up, cap)); it also turns on dial-ahead.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from dialguard.law import CONNECT_DEADLINE_S


class WorkloadError(ValueError):
    """A workload that cannot be simulated; the message names the file and the key."""


@dataclass(frozen=True, slots=True)
class Workload:
    """One contact centre's day: agents, callee behaviour, talk and wrap-up."""

    name: str
    agents: int
    hit_rate: float
    busy: float
    invalid: float
    talk_mean_s: float
    talk_cv: float
    wrap_s: float
    wrap_cv: float = 0.0
    wrap_cap_s: float | None = None
    voicemail: float = 0.0
    voicemail_answer_s: tuple[float, float] = (18.0, 26.0)
    voicemail_agent_s: float = 6.0
    pdd_s: tuple[float, float] = (1.0, 3.0)
    ring_median_s: float = 7.0
    ring_sigma: float = 0.5
    no_answer_timeout_s: float = 20.0
    busy_after_s: tuple[float, float] = (0.5, 2.5)
    invalid_after_s: tuple[float, float] = (2.0, 6.0)
    connect_latency_s: float = 0.3
    dispatch_s: tuple[float, float] = (0.005, 0.05)
    message_s: float = 12.0

    def problems(self) -> list[str]:
        out: list[str] = []
        if self.agents < 1:
            out.append(f"agents: {self.agents} must be ≥ 1")
        for key in ("hit_rate", "busy", "invalid", "voicemail"):
            v = getattr(self, key)
            if not 0 <= v <= 1:
                out.append(f"{key}: {v} is not a share between 0 and 1")
        if self.hit_rate <= 0:
            out.append("hit_rate: must be above 0 (nobody would ever answer)")
        live = self.live_share if self.hit_rate > 0 else 0.0
        if self.busy + self.invalid + self.voicemail + live > 1 + 1e-9:
            out.append(
                f"busy + invalid + voicemail + live answerers ({live:.3f}) exceed 1 "
                "(live answerers = hit_rate / P(ring ≤ no_answer_timeout_s))"
            )
        for key in ("talk_mean_s", "ring_median_s", "no_answer_timeout_s"):
            if not getattr(self, key) > 0:
                out.append(f"{key}: {getattr(self, key)} must be positive")
        for key in ("talk_cv", "wrap_cv", "ring_sigma", "wrap_s", "voicemail_agent_s", "message_s"):
            if getattr(self, key) < 0:
                out.append(f"{key}: {getattr(self, key)} must not be negative")
        if not 0 <= self.connect_latency_s < CONNECT_DEADLINE_S:
            limit = CONNECT_DEADLINE_S  # the pacer holds an answer for (deadline - latency)
            out.append(f"connect_latency_s: {self.connect_latency_s} must be in [0, {limit:g})")
        if self.wrap_cap_s is not None and not 0 < self.wrap_cap_s <= 600:
            out.append(f"wrap_cap_s: {self.wrap_cap_s} is not in (0, 600]")
        for key in sorted(_RANGES):
            lo, hi = getattr(self, key)
            if not 0 <= lo <= hi:
                out.append(f"{key}: [{lo}, {hi}] is not a range 0 ≤ low ≤ high")
        return out

    @property
    def ring_cdf_at_timeout(self) -> float:
        return ring_cdf(self.no_answer_timeout_s, self.ring_median_s, self.ring_sigma)

    @property
    def live_share(self) -> float:
        """Share of attempts reaching someone who would answer, at any ring length."""
        return self.hit_rate / self.ring_cdf_at_timeout


def ring_cdf(t: float, median: float, sigma: float) -> float:
    """P(ring-to-answer ≤ t) for the lognormal ring time."""
    if t <= 0:
        return 0.0
    if sigma == 0:
        return 1.0 if t >= median else 0.0
    return 0.5 * (1 + math.erf(math.log(t / median) / (sigma * math.sqrt(2))))


S1 = Workload(
    "S1", agents=20, hit_rate=0.30, busy=0.10, invalid=0.05,
    talk_mean_s=120.0, talk_cv=0.95, wrap_s=15.0, wrap_cap_s=22.5,
)  # fmt: skip
S2 = Workload(
    "S2", agents=50, hit_rate=0.12, busy=0.08, invalid=0.10, voicemail=0.15,
    talk_mean_s=180.0, talk_cv=1.0, wrap_s=30.0, wrap_cap_s=45.0,
)  # fmt: skip
S3 = Workload(
    "S3", agents=6, hit_rate=0.25, busy=0.10, invalid=0.05,
    talk_mean_s=60.0, talk_cv=0.8, wrap_s=10.0, wrap_cap_s=15.0,
)  # fmt: skip
STANDARD: dict[str, Workload] = {"S1": S1, "S2": S2, "S3": S3}
"""docs/design.md's workloads (fixed wrap-up). Their campaigns cap wrap-up at 1.5× its mean:
with ``wrap_cv = 0.3`` that cap ends about 6 % of wrap-ups early (the engine's
auto-ready), with a fixed wrap-up none."""

_RANGES = {"voicemail_answer_s", "pdd_s", "busy_after_s", "invalid_after_s", "dispatch_s"}


def load_workload(path: Path) -> Workload:
    """Read a custom workload from TOML.

    Keys are :class:`Workload`'s fields (ranges as two-number arrays); ``base = "S1"``
    starts from a standard workload and overrides only what the file gives.
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise WorkloadError(f"{path}: no such workload file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise WorkloadError(f"{path}: cannot read: {e}") from None
    except tomllib.TOMLDecodeError as e:
        raise WorkloadError(f"{path}: not valid TOML: {e}") from None
    return workload_from_mapping(data, where=str(path))


def workload_from_mapping(data: dict[str, Any], *, where: str = "workload") -> Workload:
    """Build and check a workload from a mapping (see :func:`load_workload`)."""
    data = dict(data)
    base_name = data.pop("base", None)
    known = {f.name for f in fields(Workload)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise WorkloadError(f"{where}: unknown key(s) {unknown}; known: {sorted(known)}")
    values: dict[str, Any] = {}
    for key, v in data.items():
        if key == "name":
            if not isinstance(v, str) or not v:
                raise WorkloadError(f"{where}: name: must be a non-empty string")
            values[key] = v
        elif key in _RANGES:
            ok = isinstance(v, list) and len(v) == 2
            if not ok or not all(isinstance(x, int | float) for x in v):
                raise WorkloadError(f"{where}: {key}: must be two numbers [low, high]")
            values[key] = (float(v[0]), float(v[1]))
        elif key == "agents":
            if not isinstance(v, int) or isinstance(v, bool):
                raise WorkloadError(f"{where}: agents: must be a whole number")
            values[key] = v
        else:
            if not isinstance(v, int | float) or isinstance(v, bool):
                raise WorkloadError(f"{where}: {key}: must be a number, got {v!r}")
            values[key] = float(v)
    if base_name is not None:
        if base_name not in STANDARD:
            raise WorkloadError(f"{where}: base: {base_name!r} is not one of {sorted(STANDARD)}")
        wl = replace(STANDARD[base_name], **values)
        if "name" not in values:
            wl = replace(wl, name=f"{base_name}*")
    else:
        required = {"agents", "hit_rate", "busy", "invalid", "talk_mean_s", "talk_cv", "wrap_s"}
        missing = sorted(required - set(values))
        if missing:
            raise WorkloadError(f'{where}: missing key(s) {missing} (or give base = "S1")')
        values.setdefault("name", Path(where).stem if where != "workload" else "custom")
        wl = Workload(**values)
    problems = wl.problems()
    if problems:
        raise WorkloadError(f"{where}: " + "; ".join(problems))
    return wl
