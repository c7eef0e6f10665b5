"""The pacers the simulator can run, by the names the CLI and the benchmark use.

``progressive`` and ``predictive`` are dialguard's own :class:`~dialguard.pacing.Pacer`,
built the way the daemon builds it: a campaign's :class:`~dialguard.config.PacingConfig`
mapped by :func:`dialguard.config.pacing_map.pacing_params` (so the hold time is the
daemon's: connect deadline − the engine's transfer timeout). The campaign rings for
``ring_timeout_s`` (15 s by default, the legal floor), learns the ring timeout, and —
when the workload's campaign has a wrap-up cap — dials ahead into the capped wrap-up.
``vicidial-adapt`` is the comparator in :mod:`dialguard.sim.vicidial`, given the same
ring timeout and hold time.
"""

from __future__ import annotations

from dialguard.config.campaign import PacingConfig
from dialguard.config.pacing_map import pacing_params
from dialguard.law import MAX_ABANDON_CAP, MIN_RING_TIMEOUT_S
from dialguard.pacing import Pacer, PacingParams
from dialguard.sim.centre import PacerLike
from dialguard.sim.vicidial import VicidialAdapt
from dialguard.sim.workload import Workload

MODES: tuple[str, ...] = ("progressive", "predictive", "vicidial-adapt")
DEFAULT_RING_TIMEOUT_S = MIN_RING_TIMEOUT_S
"""The simulated campaigns' ring timeout unless told otherwise (issue 9's S1–S3 runs)."""


def campaign_config(
    mode: str,
    workload: Workload,
    cap: float = MAX_ABANDON_CAP,
    *,
    ring_timeout_s: float | None = None,
) -> PacingConfig:
    """The ``[pacing]`` section a campaign running ``workload`` would have."""
    if mode not in ("progressive", "predictive"):
        raise ValueError(f"mode: {mode!r} is not a dialguard pacing mode")
    return PacingConfig(
        mode="predictive" if mode == "predictive" else "progressive",
        ring_timeout_s=DEFAULT_RING_TIMEOUT_S if ring_timeout_s is None else ring_timeout_s,
        abandon_cap=cap,
        dial_ahead_wrap=workload.wrap_cap_s is not None and workload.wrap_s > 0,
        wrap_up_cap_s=workload.wrap_cap_s,
        learn_ring_timeout=True,
    )


def campaign_params(
    mode: str,
    workload: Workload,
    cap: float = MAX_ABANDON_CAP,
    *,
    ring_timeout_s: float | None = None,
) -> PacingParams:
    """The pacing parameters the daemon would run ``workload``'s campaign with."""
    return pacing_params(campaign_config(mode, workload, cap, ring_timeout_s=ring_timeout_s))


def make_pacer(
    mode: str,
    workload: Workload,
    cap: float = MAX_ABANDON_CAP,
    *,
    ring_timeout_s: float | None = None,
) -> PacerLike:
    """A fresh pacer for one simulated day."""
    if mode == "vicidial-adapt":
        same = campaign_params("progressive", workload, cap, ring_timeout_s=ring_timeout_s)
        return VicidialAdapt(drop_limit=cap, ring_timeout_s=same.ring_timeout_s, hold_s=same.hold_s)
    if mode not in MODES:
        raise ValueError(f"mode: {mode!r} is not one of {list(MODES)}")
    return Pacer(campaign_params(mode, workload, cap, ring_timeout_s=ring_timeout_s))
