"""Retry delays and allowances per outcome, and the 72 h lock-out after an abandoned call."""

from __future__ import annotations

from dialguard.config.campaign import RetryPolicy, RetryRule
from dialguard.rules.retries import (
    ABANDON_LOCKOUT_S,
    RETRY_OUTCOMES,
    check_abandon_lockout,
    check_max_attempts,
    check_retry_delay,
)
from dialguard.rules.types import ContactFacts, PastAttempt
from tests.rules.helpers import utc

NOW = utc(2026, 11, 23, 12)
POLICY = RetryPolicy()


def facts(**kw: object) -> ContactFacts:
    return ContactFacts("+12125550100", ("America/New_York",), **kw)  # type: ignore[arg-type]


def test_retryable_outcomes_follow_the_config_model() -> None:
    assert set(RETRY_OUTCOMES) == {
        "busy",
        "no_answer",
        "unavailable",
        "failed",
        "voicemail",
        "interrupted",
        "abandoned",
    }


def test_retry_delay_boundary_after_the_last_outcome() -> None:
    c = facts(attempts=1, last_outcome="busy", last_outcome_at=NOW - 899)
    v = check_retry_delay(c, POLICY, NOW)
    assert (v.allowed, v.rule, v.retry_at) == (False, "retry_delay", NOW + 1)
    assert "900 s" in v.reason
    assert check_retry_delay(c, POLICY, NOW + 1).allowed
    assert check_retry_delay(facts(), POLICY, NOW).allowed  # never tried


def test_each_outcome_uses_its_own_delay() -> None:
    c = facts(attempts=1, last_outcome="voicemail", last_outcome_at=NOW - 3600)
    assert check_retry_delay(c, POLICY, NOW).retry_at == NOW - 3600 + 14400
    custom = RetryPolicy(no_answer=RetryRule(delay_s=60, max_attempts=5))
    c2 = facts(attempts=1, last_outcome="no_answer", last_outcome_at=NOW - 60)
    assert check_retry_delay(c2, custom, NOW).allowed
    assert not check_retry_delay(c2, POLICY, NOW).allowed


def test_an_outcome_without_a_retry_rule_finishes_the_contact() -> None:
    c = facts(attempts=1, last_outcome="connected", last_outcome_at=NOW - 30 * 86400)
    v = check_retry_delay(c, POLICY, NOW)
    assert (v.allowed, v.rule, v.retry_at) == (False, "no_retry_rule", None)
    assert "'connected'" in v.reason


def test_max_attempts_total_and_per_outcome() -> None:
    assert check_max_attempts(facts(attempts=5), POLICY).allowed
    v = check_max_attempts(facts(attempts=6), POLICY)
    assert (v.allowed, v.rule, v.retry_at) == (False, "max_attempts", None)
    assert "at most 6" in v.reason
    v = check_max_attempts(facts(attempts=3, outcome_counts={"busy": 1, "failed": 2}), POLICY)
    assert not v.allowed and "failed" in v.reason and "at most 2" in v.reason
    assert check_max_attempts(
        facts(attempts=3, outcome_counts={"busy": 2, "failed": 1}), POLICY
    ).allowed
    never = RetryPolicy(voicemail=RetryRule(delay_s=0, max_attempts=0))
    assert not check_max_attempts(facts(attempts=1, outcome_counts={"voicemail": 1}), never).allowed
    # Outcomes without a rule do not count against a per-outcome allowance.
    assert check_max_attempts(facts(attempts=1, outcome_counts={"connected": 1}), POLICY).allowed


def test_abandon_lockout_boundary_plus_minus_one_second() -> None:
    end = NOW - 1000.0
    h = [PastAttempt(end - 25, "abandoned", abandoned=True, mode="predictive", ended_at=end)]
    edge = end + ABANDON_LOCKOUT_S
    v = check_abandon_lockout(h, "predictive", edge - 1)
    assert (v.allowed, v.rule, v.retry_at) == (False, "abandon_lockout", edge)
    assert check_abandon_lockout(h, "predictive", edge).allowed
    assert check_abandon_lockout(h, "predictive", edge + 1).allowed


def test_lockout_runs_from_the_dial_time_when_the_end_is_unknown() -> None:
    h = [PastAttempt(NOW - ABANDON_LOCKOUT_S + 10, "abandoned", abandoned=True)]
    assert check_abandon_lockout(h, "predictive", NOW).retry_at == NOW + 10


def test_guaranteed_mode_is_exempt_from_the_lockout() -> None:
    h = [PastAttempt(NOW - 60, "abandoned", abandoned=True, mode="predictive", ended_at=NOW - 30)]
    assert not check_abandon_lockout(h, "predictive", NOW).allowed
    v = check_abandon_lockout(h, "guaranteed", NOW)
    assert v.allowed and "agent reserved" in v.reason


def test_lockout_counts_any_campaign_and_the_latest_abandon() -> None:
    h = [
        PastAttempt(NOW - 50 * 3600, "no_answer", campaign="a"),
        PastAttempt(NOW - 40 * 3600, "abandoned", abandoned=True, campaign="other"),
        PastAttempt(NOW - 10 * 3600, "connected", abandoned=True, campaign="third"),
    ]
    v = check_abandon_lockout(h, "predictive", NOW)
    assert v.retry_at == NOW - 10 * 3600 + ABANDON_LOCKOUT_S
    assert check_abandon_lockout(h[:1], "predictive", NOW).allowed


def test_lockout_reason_never_rounds_up_to_72_hours() -> None:
    """Issue 17 item 6: 71 h 59 min 59 s read "72.0 h ago" while the lock-out held."""
    h = [PastAttempt(NOW - 72 * 3600 + 1, "abandoned", abandoned=True)]
    v = check_abandon_lockout(h, "predictive", NOW)
    assert not v.allowed
    assert "71 h 59 min ago" in v.reason and "72.0" not in v.reason


def test_a_late_connect_counts_as_abandoned_for_the_lockout_as_in_the_report() -> None:
    """Issue 17 item 5: the report counted a connect later than 2 s as abandoned, the
    gate did not; both now use rules.abandoned.is_abandoned."""
    late = PastAttempt(NOW - 3600, "connected", answered_at=NOW - 3590, connected_at=NOW - 3587.5)
    assert late.counts_abandoned
    assert not check_abandon_lockout([late], "predictive", NOW).allowed
    in_time = PastAttempt(NOW - 3600, "connected", answered_at=NOW - 3590, connected_at=NOW - 3589)
    assert check_abandon_lockout([in_time], "predictive", NOW).allowed
