"""The closed-form ceiling of plain progressive (reservation) dialling, per docs/design.md.

An agent reserved for one dial at a time waits ``I = (E[D] + latency) / p`` per contact,
where ``E[D]`` is the mean length of one attempt over all outcomes and ``p`` the hit
rate; the talk share is then ``T / (T + W + I)``. Here ``E[D]`` is computed exactly from
the workload at a ring timeout ``t`` (its 20 s no-answer timeout unless given; an
answered voicemail's agent time counts as part of its attempt), and ``p`` is the share
answered live within ``t`` (``hit_rate · F(t) / F(20 s)``), so the figure is what a
dialler without dial-ahead can reach at best with that ring timeout.
"""

from __future__ import annotations

from dialguard.sim.workload import Workload, ring_cdf


def expected_min_ring(w: Workload, t: float, steps: int = 4000) -> float:
    """E[min(ring, t)] = ∫₀ᵗ P(ring > x) dx (midpoint rule)."""
    h = t / steps
    return sum(
        (1 - ring_cdf((i + 0.5) * h, w.ring_median_s, w.ring_sigma)) * h for i in range(steps)
    )


def mean_attempt_s(w: Workload, ring_timeout_s: float | None = None) -> float:
    """E[D]: mean length of one attempt at ``ring_timeout_s`` (default: the workload's)."""
    t = w.no_answer_timeout_s if ring_timeout_s is None else ring_timeout_s
    pdd = sum(w.pdd_s) / 2
    live = w.live_share
    vm_lo, vm_hi = w.voicemail_answer_s
    if vm_hi > vm_lo:
        frac = min(1.0, max(0.0, (t - vm_lo) / (vm_hi - vm_lo)))
        mean_ans = (vm_lo + min(t, vm_hi)) / 2
    else:
        frac = 1.0 if vm_lo <= t else 0.0
        mean_ans = vm_lo
    vm = frac * (mean_ans + w.voicemail_agent_s) + (1 - frac) * t
    rest = 1 - w.busy - w.invalid - w.voicemail - live
    return (
        pdd
        + w.busy * sum(w.busy_after_s) / 2
        + w.invalid * sum(w.invalid_after_s) / 2
        + live * expected_min_ring(w, t)
        + w.voicemail * vm
        + rest * t
    )


def hit_rate_at(w: Workload, ring_timeout_s: float) -> float:
    """Share of attempts answered live within ``ring_timeout_s``."""
    return w.live_share * ring_cdf(ring_timeout_s, w.ring_median_s, w.ring_sigma)


def progressive_ceiling(
    w: Workload, latency_s: float = 0.0, ring_timeout_s: float | None = None
) -> float:
    """Talk share ceiling ``T / (T + W + (E[D] + latency)/p)`` at ``ring_timeout_s``."""
    t = w.no_answer_timeout_s if ring_timeout_s is None else ring_timeout_s
    idle = (mean_attempt_s(w, t) + latency_s) / hit_rate_at(w, t)
    return w.talk_mean_s / (w.talk_mean_s + w.wrap_s + idle)
