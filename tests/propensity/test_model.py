"""The answer model: cold start at the prior, learning by hour and contact, persistence."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from dialguard.propensity import (
    STATED_HOURS,
    AnswerModel,
    Prior,
    StatRow,
    answer_group,
    hour_of_week,
)


def test_hour_of_week_is_the_contacts_local_hour() -> None:
    at = dt.datetime(2026, 3, 2, 23, 30, tzinfo=dt.UTC).timestamp()  # Monday 23:30 UTC
    assert hour_of_week(at) == 23
    assert hour_of_week(at, ZoneInfo("Europe/Paris")) == 24  # Tuesday 00:30 in Paris
    assert hour_of_week(at, ZoneInfo("America/New_York")) == 18


def test_cold_start_is_the_prior_never_zero() -> None:
    m = AnswerModel(Prior(a=1, b=3))
    assert m.probability(1, None, 10) == pytest.approx(0.25)
    assert m.probability(2, "retired", 100) == pytest.approx(0.25)
    for _ in range(50):  # a campaign that never answers at 10:00 Monday
        m.observe(99, None, 10, answered=False)
    cold = m.probability(3, None, 10)
    assert 0 < cold < 0.05  # lowered by the evidence, but a new contact is not written off


def test_segment_learns_its_hours_apart_from_the_others() -> None:
    m = AnswerModel()
    for i in range(60):
        m.observe(i, "evening", 19, answered=True)
        m.observe(i, "evening", 10, answered=False)
        m.observe(100 + i, "day", 10, answered=True)
        m.observe(100 + i, "day", 19, answered=False)
    # a contact never called takes its segment's hours
    assert m.probability("new-e", "evening", 19) > 0.8 > 0.2 > m.probability("new-e", "evening", 10)
    assert m.probability("new-d", "day", 10) > 0.8 > 0.2 > m.probability("new-d", "day", 19)


def test_a_contact_that_rarely_answers_is_lowered_against_its_segment() -> None:
    m = AnswerModel()
    for i in range(100):
        m.observe(i, "s", 12, answered=i % 2 == 0)  # the segment answers half the time
    peer = m.probability("peer", "s", 12)
    for how in (9, 12, 15, 40):  # four unanswered calls at various hours
        m.observe("shy", "s", how, answered=False)
    assert m.has_history("shy") and not m.has_history("peer")
    assert m.probability("shy", "s", 12) < 0.6 * peer
    assert m.probability("shy", "s", 12) > 0  # still callable


def test_update_moves_towards_the_evidence_monotonically() -> None:
    m = AnswerModel()
    before = m.probability(7, None, 50)
    m.observe(7, None, 50, answered=True)
    assert m.probability(7, None, 50) > before
    m.observe(7, None, 50, answered=False)
    m.observe(7, None, 50, answered=False)
    assert m.probability(7, None, 50) < m.explain(7, None, 50).segment + 0.2


def test_rows_round_trip_rebuilds_the_same_model() -> None:
    m = AnswerModel()
    increments: list[StatRow] = []
    for i in range(30):
        increments += m.observe(i % 7, f"seg{i % 3}", (i * 13) % 168, answered=i % 4 == 0)
    again = AnswerModel()
    again.load(increments)  # what the store added up
    for c in range(7):
        for how in (0, 13, 26, 100):
            assert again.probability(c, "seg1", how) == m.probability(c, "seg1", how)
    assert again.rows() == m.rows()


@pytest.mark.parametrize("how", [-1, 168, 1.5, True])
def test_bad_hour_is_refused(how: object) -> None:
    with pytest.raises(ValueError, match="hour of week must be an int 0–167"):
        AnswerModel().probability(1, None, how)  # type: ignore[arg-type]


MONDAY_18, TUESDAY_18, TUESDAY_10 = 18, 24 + 18, 24 + 10


def test_tuesday_evening_starts_from_what_monday_evening_taught() -> None:
    """People keep their evenings: the same hour of the day on other days is the prior
    of an hour of the week not tried yet (S4's multi-day run showed the gain)."""
    m = AnswerModel()
    before = m.probability("new", "working", TUESDAY_18)
    for i in range(80):
        m.observe(i, "working", MONDAY_18, answered=i % 10 < 6)  # 60 % on Monday evening
        m.observe(1000 + i, "working", 10, answered=i % 20 == 0)  # 5 % Monday morning
    assert m.probability("new", "working", TUESDAY_18) > 0.45 > before
    assert m.probability("new", "working", TUESDAY_10) < 0.15  # and mornings stay poor
    # the hour's own evidence still wins once it has some
    for i in range(80):
        m.observe(2000 + i, "working", TUESDAY_18, answered=False)
    assert m.probability("new", "working", TUESDAY_18) < 0.3


def test_ordering_figure_explores_an_untried_segment_hour_and_stays_honest_elsewhere() -> None:
    """A segment that answered badly in the day gets a bonus at an hour it was never
    tried (else it is never called at 18:00 and its evening is never learnt); the
    bonus shrinks as that hour gathers tries, and P(answer) itself has no bonus."""
    m = AnswerModel()
    for i in range(200):
        m.observe(i, "working", 10, answered=i % 25 == 0)  # 4 % in the day
        m.observe(1000 + i, "retired", 10, answered=i % 2 == 0)
    e = m.explain("new", "working", MONDAY_18)
    assert e.exploration > 0
    assert e.ordering == pytest.approx(e.probability + e.exploration)
    assert m.ordering_probability("new", "working", MONDAY_18) == pytest.approx(e.ordering)
    assert m.segment_ordering_probability("working", MONDAY_18) == pytest.approx(e.ordering)
    tried = m.explain("new", "working", 10)  # 200 tries at 10:00: hardly any bonus
    assert tried.exploration < e.exploration / 3
    assert AnswerModel(Prior(explore=0)).explain("x", "working", 10).exploration == 0


def test_explore_must_be_a_non_negative_number() -> None:
    with pytest.raises(ValueError, match="explore"):
        Prior(explore=-1)
    with pytest.raises(ValueError, match="explore"):
        Prior(explore=float("nan"))


def test_a_contact_who_stated_hours_learns_in_its_own_group() -> None:
    """answer_group splits a segment by stated hours, and the two halves learn apart."""
    assert answer_group("working", stated_hours=False) == "working"
    assert answer_group("working", stated_hours=True) == "working" + STATED_HOURS
    assert answer_group(None, stated_hours=False) == ""
    m = AnswerModel()
    for i in range(60):
        m.observe(i, answer_group("working", stated_hours=True), 18, answered=i % 3 != 0)
        m.observe(100 + i, answer_group("working", stated_hours=False), 18, answered=i % 5 == 0)
    stated = m.segment_probability(answer_group("working", stated_hours=True), 18)
    unstated = m.segment_probability("working", 18)
    assert stated > 0.55 > 0.3 > unstated
