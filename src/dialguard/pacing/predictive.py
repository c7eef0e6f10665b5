"""How many dials predictive mode may have in flight: a model, plus a feedback loop.

Demand: every call in flight will still be answered with the chance the answer-time
curve gives for how long it has been in flight; a new dial with the overall answer rate.
Supply: agents ready now (reserved or not), plus agents whose capped wrap-up ends, or
whose call and wrap-up likely end, within the horizon (the median answer time).

The pacer adds dials while ``demand + z·σ(demand) ≤ supply``. ``z`` is the risk knob:
an :class:`OverDialController` moves it after each answered call so the observed abandon
rate converges on the rate the governor allows (a Robbins–Monro step: up by ``1 - r``
after an abandon, down by ``r`` after a connect, so the balance point is rate ``r``).
"""

from __future__ import annotations

import math


class OverDialController:
    """The ``z`` knob (see module docs). Starts cautious (``z = 2``)."""

    def __init__(self, *, z: float = 2.0, step: float = 0.05, lo: float = -3.0, hi: float = 4.0):
        self.z = z
        self.step = step
        self.lo = lo
        self.hi = hi

    def observe(self, *, abandoned: bool, target_rate: float) -> None:
        """One answered call's outcome while over-dialling at ``target_rate``."""
        delta = (1 - target_rate) if abandoned else -target_rate
        self.z = min(self.hi, max(self.lo, self.z + self.step * delta))


def dials_allowed(
    demand_mean: float,
    demand_var: float,
    p_new: float,
    supply: float,
    z: float,
    max_new: int,
) -> int:
    """How many new dials (each answered with ``p_new``) keep demand within supply."""
    if p_new <= 0:
        return max_new
    q = p_new * (1 - p_new)
    n = 0
    while n < max_new:
        k = n + 1
        if demand_mean + k * p_new + z * math.sqrt(demand_var + k * q) > supply:
            break
        n = k
    return n


def free_within(horizon_s: float, *, talk_mean_s: float, wrap_mean_s: float) -> float:
    """Chance an agent now on a call is free within ``horizon_s``.

    Talk left is taken as exponential with the mean talk time (talk times have a CV near
    1), followed by a wrap-up of the mean length. (Agents in wrap-up are not counted as
    soon free: nothing tells the engine when a wrap-up will end.)
    """
    slack = horizon_s - wrap_mean_s
    if slack <= 0 or talk_mean_s <= 0:
        return 0.0
    return 1.0 - math.exp(-slack / talk_mean_s)
