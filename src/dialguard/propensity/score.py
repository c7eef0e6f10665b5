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
    "Order",
    "expected_value",
    "order_score",
]

from typing import Literal, get_args

Order = Literal["list", "priority", "expected_value"]
ORDERS: tuple[Order, ...] = get_args(Order)

AGING_S = 24 * 3600.0
"""Waiting this much longer outweighs any difference in expected value."""

DEFAULT_PROPENSITY = 0.5
"""A contact the business's model gave no score: neither favoured nor held back."""


def expected_value(p_answer: float, propensity: float | None) -> float:
    """What a call now is worth, 0–1: P(answer) × propensity."""
    return p_answer * (DEFAULT_PROPENSITY if propensity is None else propensity)


def order_score(p_answer: float, propensity: float | None, due_since: float) -> float:
    """The stored ordering score (higher is called first); see the module docstring."""
    return expected_value(p_answer, propensity) - due_since / AGING_S
