"""Contact selection rules: the compliance gate every contact passes before it is dialled.

Pure, synchronous functions of small dataclasses — no I/O, no asyncio, time passed in as
epoch seconds (UTC) — so the engine builds the inputs from store rows, and the tests and
the simulator call them directly. Each refusal is a :class:`Verdict` naming the rule,
saying why with the figures, and when the call could next be allowed. See
docs/compliance.md for each rule's legal source and configuration.

Typical use from the engine::

    window = CallingWindow.from_config(campaign.calling_window)   # once per campaign
    v = check_contact(facts, history, suppressions, list_dates, campaign, "guaranteed",
                      now, window=window)
    if not v.allowed:
        store.skip(contact, v.rule, v.reason, next_attempt_at=v.retry_at)
"""

from dialguard.law import ABANDON_LOCKOUT_S
from dialguard.rules.dnc import MAX_LIST_AGE_S, check_dnc, check_lists_fresh
from dialguard.rules.frequency import CAP_SPANS, check_cap, check_caps
from dialguard.rules.gate import (
    RULE_ORDER,
    all_refusals,
    check_contact,
    earliest_allowed,
    priority_key,
)
from dialguard.rules.hours import (
    check_calling_window,
    check_holiday,
    check_preferred_hours,
    resolve_zones,
    window_allows,
)
from dialguard.rules.retries import (
    RETRY_OUTCOMES,
    check_abandon_lockout,
    check_max_attempts,
    check_retry_delay,
)
from dialguard.rules.types import (
    ALLOWED,
    DIAL_MODE_OF,
    ContactFacts,
    DialMode,
    PastAttempt,
    Suppression,
    Verdict,
    WeeklySpan,
)
from dialguard.rules.window import PRESETS, CallingWindow, next_window_open
from dialguard.rules.zones import UnknownZoneError, candidate_zones, load_zones

__all__ = [
    "ABANDON_LOCKOUT_S",
    "ALLOWED",
    "CAP_SPANS",
    "DIAL_MODE_OF",
    "MAX_LIST_AGE_S",
    "PRESETS",
    "RETRY_OUTCOMES",
    "RULE_ORDER",
    "CallingWindow",
    "ContactFacts",
    "DialMode",
    "PastAttempt",
    "Suppression",
    "UnknownZoneError",
    "Verdict",
    "WeeklySpan",
    "all_refusals",
    "candidate_zones",
    "check_abandon_lockout",
    "check_calling_window",
    "check_cap",
    "check_caps",
    "check_contact",
    "check_dnc",
    "check_holiday",
    "check_lists_fresh",
    "check_max_attempts",
    "check_preferred_hours",
    "check_retry_delay",
    "earliest_allowed",
    "load_zones",
    "next_window_open",
    "priority_key",
    "resolve_zones",
    "window_allows",
]
