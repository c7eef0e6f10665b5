"""The pacers the simulator can run, by the names the CLI and the benchmark use.

``progressive`` and ``predictive`` are dialguard's own :class:`~dialguard.pacing.Pacer`
with the settings a campaign would use for the workload (dial-ahead into the capped
wrap-up, ring-timeout learning on; the wrap-up cap is the workload's wrap-up);
``vicidial-adapt`` is the comparator in :mod:`dialguard.sim.vicidial`.
"""

from __future__ import annotations

from dialguard.pacing import Pacer, PacingParams
from dialguard.sim.centre import PacerLike
from dialguard.sim.vicidial import VicidialAdapt
from dialguard.sim.workload import Workload

MODES: tuple[str, ...] = ("progressive", "predictive", "vicidial-adapt")


def campaign_params(mode: str, workload: Workload, cap: float = 0.03) -> PacingParams:
    """The pacing parameters a campaign running ``workload`` would use."""
    if mode not in ("progressive", "predictive"):
        raise ValueError(f"mode: {mode!r} is not a dialguard pacing mode")
    return PacingParams(
        mode="predictive" if mode == "predictive" else "progressive",
        ring_timeout_s=workload.no_answer_timeout_s,
        abandon_cap=cap,
        dial_ahead_wrap=workload.wrap_s > 0,
        wrap_up_cap_s=max(workload.wrap_s, 1.0),
        connect_latency_s=workload.connect_latency_s,
        learn_ring_timeout=True,
    )


def make_pacer(mode: str, workload: Workload, cap: float = 0.03) -> PacerLike:
    """A fresh pacer for one simulated day."""
    if mode == "vicidial-adapt":
        return VicidialAdapt(
            drop_limit=cap,
            ring_timeout_s=workload.no_answer_timeout_s,
            hold_s=2.0 - workload.connect_latency_s,
        )
    if mode not in MODES:
        raise ValueError(f"mode: {mode!r} is not one of {list(MODES)}")
    return Pacer(campaign_params(mode, workload, cap))
