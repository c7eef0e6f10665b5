"""dialguard.propensity — who to call first: answer probability by hour, and the order.

Sans-I/O like :mod:`dialguard.pacing`: nothing imported from the rest of dialguard, time
passed in. :class:`AnswerModel` learns per campaign how likely each contact is to answer
at each hour of the week; :func:`order_score` turns that, the business's propensity and
the contact's wait into the one indexed number the store orders due contacts by.
"""

from dialguard.propensity.model import (
    HOURS_OF_WEEK,
    STATED_HOURS,
    AnswerModel,
    Explanation,
    Prior,
    StatRow,
    answer_group,
    hour_of_week,
)
from dialguard.propensity.score import (
    AGING_S,
    DEFAULT_PROPENSITY,
    ORDERS,
    REFRESH_S,
    Order,
    ScoreExplanation,
    expected_value,
    explain_score,
    order_score,
    zone_of,
)

__all__ = [
    "AGING_S",
    "DEFAULT_PROPENSITY",
    "HOURS_OF_WEEK",
    "ORDERS",
    "REFRESH_S",
    "STATED_HOURS",
    "AnswerModel",
    "Explanation",
    "Order",
    "Prior",
    "ScoreExplanation",
    "StatRow",
    "answer_group",
    "expected_value",
    "explain_score",
    "hour_of_week",
    "order_score",
    "zone_of",
]
