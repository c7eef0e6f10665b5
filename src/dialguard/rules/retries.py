"""Retry rules: when a contact may be tried again after an outcome, and when never again.

Three rules, all from the campaign's ``[retry]`` policy and docs/design.md safeguard 5:

* ``max_attempts`` — the contact had its total allowance of attempts in this campaign,
  or an outcome occurred as many times as that outcome allows (final);
* ``retry_delay`` — the delay for the last outcome since that attempt ended has not
  passed (``no_retry_rule`` when the last outcome has no retry rule at all, e.g. the call
  was connected: the contact is finished, fail closed);
* ``abandon_lockout`` — an abandoned call to the number (any campaign) in the last 72 h
  forbids another call unless this call is in guaranteed mode (an agent is reserved),
  as Ofcom's persistent-misuse policy allows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from dialguard.config.campaign import RetryPolicy, RetryRule
from dialguard.law import ABANDON_LOCKOUT_S
from dialguard.rules.types import ContactFacts, DialMode, PastAttempt, Verdict

RETRY_OUTCOMES: tuple[str, ...] = tuple(
    name for name, f in RetryPolicy.model_fields.items() if f.annotation is RetryRule
)
"""Outcomes that have a retry rule: busy, no_answer, unavailable, failed, voicemail,
interrupted, abandoned."""


def _when(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _ago(seconds: float) -> str:
    """``71 h 59 min``: whole minutes, rounded down, so a lock-out that has not run out
    never reads as if it had ("72.0 h ago" for 71 h 59 min 59 s)."""
    minutes = max(0, int(seconds // 60))
    return f"{minutes // 60} h {minutes % 60:02d} min"


def _rule(policy: RetryPolicy, outcome: str) -> RetryRule | None:
    if outcome not in RETRY_OUTCOMES:
        return None
    rule = getattr(policy, outcome)
    assert isinstance(rule, RetryRule)
    return rule


def check_max_attempts(contact: ContactFacts, policy: RetryPolicy) -> Verdict:
    """Refuse once the campaign's total or any outcome's attempt allowance is used up."""
    if contact.attempts >= policy.max_attempts_total:
        return Verdict.refuse(
            "max_attempts",
            f"{contact.attempts} attempts made (at most {policy.max_attempts_total} per contact)",
        )
    for outcome, count in sorted(contact.outcome_counts.items()):
        rule = _rule(policy, outcome)
        if rule is not None and count >= rule.max_attempts:
            return Verdict.refuse(
                "max_attempts",
                f"{count} attempts ended {outcome} (at most {rule.max_attempts} for {outcome})",
            )
    return Verdict.allow(
        "max_attempts", f"{contact.attempts} of {policy.max_attempts_total} attempts made"
    )


def check_retry_delay(contact: ContactFacts, policy: RetryPolicy, now: float) -> Verdict:
    """Refuse until ``last_outcome_at + delay`` for the last outcome (inclusive boundary)."""
    if contact.last_outcome is None or contact.last_outcome_at is None:
        return Verdict.allow("retry_delay", "never attempted in this campaign")
    rule = _rule(policy, contact.last_outcome)
    if rule is None:
        return Verdict.refuse(
            "no_retry_rule",
            f"the last outcome {contact.last_outcome!r} has no retry rule "
            f"(retryable: {', '.join(RETRY_OUTCOMES)}); the contact is finished",
        )
    retry_at = contact.last_outcome_at + rule.delay_s
    if now < retry_at:
        return Verdict.refuse(
            "retry_delay",
            f"last outcome {contact.last_outcome} {now - contact.last_outcome_at:.0f} s ago; "
            f"retry delay is {rule.delay_s:.0f} s (until {_when(retry_at)})",
            retry_at,
        )
    return Verdict.allow("retry_delay", f"retry delay after {contact.last_outcome} has passed")


def check_abandon_lockout(history: Iterable[PastAttempt], mode: DialMode, now: float) -> Verdict:
    """Refuse a non-guaranteed call within 72 h after an abandoned call to the number.

    The lock-out runs from the abandoned call's end (its dial time if the end is not
    known) and ends exactly 72 h later. What counts as abandoned is
    :func:`dialguard.rules.abandoned.is_abandoned`, the compliance report's definition.
    """
    starts = [a.lockout_from for a in history if a.counts_abandoned]
    live = [t for t in starts if now < t + ABANDON_LOCKOUT_S]
    if not live:
        return Verdict.allow("abandon_lockout", "no abandoned call in the last 72 h")
    if mode == "guaranteed":
        return Verdict.allow(
            "abandon_lockout",
            "abandoned call in the last 72 h, but this call has an agent reserved",
        )
    retry_at = max(live) + ABANDON_LOCKOUT_S
    return Verdict.refuse(
        "abandon_lockout",
        f"an abandoned call to this number {_ago(now - max(live))} ago; no "
        f"predictive call within 72 h (until {_when(retry_at)}) unless an agent is reserved",
        retry_at,
    )
