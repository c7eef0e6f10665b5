"""The one number contacts are ordered by under ``order = "expected_value"``.

``score = P(answer now) × propensity − due_since / AGING_S``

The first term is the expected value of calling now: the answer model's probability at
the contact's current local hour times the business's own propensity (0–1; unknown
counts as :data:`DEFAULT_PROPENSITY`). The second is fairness. Every waiting contact
ages at the same rate, so "+ wait / AGING_S" is, for ordering, the same as
"− due_since / AGING_S" with ``due_since`` the moment it became callable (import, or its
retry time): a constant per contact, stored with it, that needs no refresh as time
passes. The expected value is at most 1, so a contact due more than ``AGING_S`` earlier
than another always comes first: nobody waits forever behind better prospects that keep
arriving (tests/propensity/test_score.py proves the bound). Only the expected value
changes with the hour, which the engine refreshes once an hour and after each outcome.
"""

from __future__ import annotations

__all__ = [
    "AGING_S",
    "DEFAULT_PROPENSITY",
    "ORDERS",
    "REFRESH_S",
    "Order",
    "ScoreExplanation",
    "expected_value",
    "explain_score",
    "order_score",
    "zone_of",
]

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dialguard.propensity.model import HOURS_OF_WEEK, AnswerModel, Explanation, hour_of_week

Order = Literal["list", "priority", "expected_value"]
ORDERS: tuple[Order, ...] = get_args(Order)

AGING_S = 30 * 86400.0
"""Waiting this much longer outweighs any difference in expected value.

Why a month, not a day: a retry's due time and a deferral to the contact's stated hours
move ``due_since`` by hours. At one day, ten hours of deferral weighed 0.42 — more than
any expected value at the hour (P × propensity, about 0.3 at best) — so at 18:00 the
evening people whose hours had just come were ranked behind everyone due since the
morning, and fairness overrode the model within the day (workload S4, 4 seeds: 18.75
live contacts per agent-hour at one day, 19.67 at thirty). A month still bounds every
wait (tests/propensity/test_score.py) while an hour of it weighs 0.0014."""

REFRESH_S = 600.0
"""How often the hour's expected value is rewritten (engine/right_time.py; the simulator
refreshes on the same cadence, so its figures are the daemon's)."""

DEFAULT_PROPENSITY = 0.5
"""A contact the business's model gave no score: neither favoured nor held back."""


def expected_value(p_answer: float, propensity: float | None) -> float:
    """What a call now is worth, 0–1: P(answer) × propensity."""
    return p_answer * (DEFAULT_PROPENSITY if propensity is None else propensity)


def order_score(p_answer: float, propensity: float | None, due_since: float) -> float:
    """The stored ordering score (higher is called first); see the module docstring."""
    return expected_value(p_answer, propensity) - due_since / AGING_S


@dataclass(frozen=True, slots=True)
class ScoreExplanation:
    """Why a contact is where it is in the ``expected_value`` order (``report contacts``)."""

    answer: Explanation
    propensity: float
    expected_value: float
    waited_s: float
    score: float
    best_hours: tuple[tuple[int, float], ...]  # (hour of week, P(answer)), best first


def zone_of(names: Sequence[str]) -> ZoneInfo | None:
    """The zone whose local hour the model uses: the first candidate, None if unknown."""
    try:
        return ZoneInfo(names[0]) if names else None
    except (ZoneInfoNotFoundError, ValueError):
        return None


def explain_score(
    model: AnswerModel,
    contact: int,
    segment: str | None,
    propensity: float | None,
    zones: Sequence[str],
    due_since: float,
    now: float,
) -> ScoreExplanation:
    """The score of a contact at ``now`` with every figure behind it, and its best
    hours of the coming day (the engine stores :attr:`ScoreExplanation.score`)."""
    zone = zone_of(zones)
    how = hour_of_week(now, zone)
    answer = model.explain(contact, segment, how)
    ev = expected_value(answer.probability, propensity)
    day = [(h % HOURS_OF_WEEK, model.probability(contact, segment, h % HOURS_OF_WEEK))
           for h in range(how, how + 24)]  # fmt: skip
    best = tuple(sorted(day, key=lambda x: -x[1])[:3])
    return ScoreExplanation(
        answer=answer,
        propensity=DEFAULT_PROPENSITY if propensity is None else propensity,
        expected_value=ev,
        waited_s=max(0.0, now - due_since),
        score=order_score(answer.ordering, propensity, due_since),
        best_hours=best,
    )
