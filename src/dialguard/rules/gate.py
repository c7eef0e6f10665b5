"""The compliance gate: one call to decide whether a contact may be dialled right now.

:func:`check_contact` runs every rule in a fixed order — campaign-wide and final rules
first, cheap before expensive, time-of-day last — and returns the first refusal, or
:data:`~dialguard.rules.types.ALLOWED`. :func:`all_refusals` runs them all, for
compliance reports ("why was this contact skipped?"). The order:

==  ==================  ============================================  ===============
#   rule                refuses when                                  retry_at
==  ==================  ============================================  ===============
1   dnc_list_stale      a national list the campaign needs is         None
                        missing, or 28 / 31 days old or more
2   dnc_internal        the number is on the internal DNC list        None
3   dnc_<list>          it is on a national list the campaign uses    None
3b  voice_consent       consent "no", or not "yes" when required      None
3c  preferred_channel   the contact asked for sms, email or none      None
                        (the engine hands it over instead)
4   max_attempts        total or per-outcome attempt allowance spent  None
5   no_retry_rule       the last outcome has no retry rule            None
    / retry_delay       the last outcome's retry delay not yet over   end of delay
6   abandon_lockout     abandoned call < 72 h ago, call not guaranteed 72 h after it
7   cap_day/7d/30d      rolling per-number cap reached                oldest ages out
8   timezone_unknown    the window needs the zone and it is unknown   None
9   holiday             local date is a holiday in a candidate zone   next opening
10  calling_window      outside the legal window in a candidate zone  next opening
11  preferred_hours     outside the contact's preferred hours         next opening
==  ==================  ============================================  ===============

Rules 6–11 can be waited out; so :func:`check_contact` widens the first refusal's
``retry_at`` to :func:`earliest_allowed` — the first instant every rule allows, given no
new attempts or list changes — so the engine can park the contact until then.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from dialguard.config.campaign import CampaignConfig
from dialguard.law import BUILT_IN_LISTS, ListTerms
from dialguard.rules.dnc import check_dnc, check_lists_fresh
from dialguard.rules.frequency import check_caps
from dialguard.rules.hours import (
    check_calling_window,
    check_holiday,
    check_preferred_hours,
    resolve_zones,
)
from dialguard.rules.preferences import check_preferred_channel, check_voice_consent
from dialguard.rules.retries import (
    check_abandon_lockout,
    check_max_attempts,
    check_retry_delay,
)
from dialguard.rules.types import (
    ALLOWED,
    DIAL_MODES,
    ContactFacts,
    DialMode,
    PastAttempt,
    Suppression,
    Verdict,
)
from dialguard.rules.window import CallingWindow

RULE_ORDER: tuple[str, ...] = (
    "dnc_list_stale",
    "dnc_internal",
    "dnc_tps",
    "dnc_ctps",
    "dnc_usdnc",
    "dnc_bloctel",
    "dnc_dncr",
    "dnc_declared",
    "voice_consent",
    "preferred_channel",
    "max_attempts",
    "no_retry_rule",
    "retry_delay",
    "abandon_lockout",
    "cap_day",
    "cap_7d",
    "cap_30d",
    "timezone_unknown",
    "holiday",
    "calling_window",
    "preferred_hours",
)
"""Every refusal name the gate can return, in checking order."""

EARLIEST_NOW = 0.0
LATEST_NOW = 32503680000.0  # 3000-01-01: far enough, and well inside datetime's range


@dataclass(frozen=True, slots=True)
class _Inputs:
    contact: ContactFacts
    history: tuple[PastAttempt, ...]
    suppressions: tuple[Suppression, ...]
    dnc_list_dates: Mapping[str, float]
    campaign: CampaignConfig
    mode: DialMode
    now: float
    window: CallingWindow
    lists: Mapping[str, ListTerms]


def _verdicts(i: _Inputs) -> Iterable[Verdict]:
    """Every rule's verdict, lazily, in :data:`RULE_ORDER`."""
    required = i.campaign.dnc.lists
    yield check_lists_fresh(required, i.dnc_list_dates, i.now, i.lists)
    yield check_dnc(i.suppressions, required, i.lists)
    yield check_voice_consent(i.contact.voice_consent, i.campaign.require_voice_consent)
    yield check_preferred_channel(i.contact.preferred_channel)
    yield check_max_attempts(i.contact, i.campaign.retry)
    yield check_retry_delay(i.contact, i.campaign.retry, i.now)
    yield check_abandon_lockout(i.history, i.mode, i.now)
    zones, known = resolve_zones(i.contact.timezones, i.window, i.contact.preferred_hours)
    yield from check_caps(i.history, i.campaign.caps_in_force(), i.now, zones)
    yield known
    if not known.allowed:
        return  # the later hours rules cannot be evaluated without a zone
    yield check_holiday(zones, i.window, i.now)
    yield check_calling_window(zones, i.window, i.now)
    yield check_preferred_hours(zones, i.window, i.contact.preferred_hours, i.now)


def _inputs(
    contact: ContactFacts,
    history: Iterable[PastAttempt],
    suppressions: Iterable[Suppression],
    dnc_list_dates: Mapping[str, float],
    campaign: CampaignConfig,
    mode: DialMode,
    now: float,
    window: CallingWindow | None,
    lists: Mapping[str, ListTerms] | None,
) -> _Inputs:
    if mode not in DIAL_MODES:
        raise ValueError(f"mode must be one of {DIAL_MODES}, got {mode!r}")
    if (
        isinstance(now, bool)
        or not isinstance(now, int | float)
        or not (EARLIEST_NOW <= now <= LATEST_NOW)
    ):
        # NaN compares false with everything, so it would slip past every "not before".
        raise ValueError(f"now must be epoch seconds between 1970 and 2999, got {now!r}")
    return _Inputs(
        contact,
        tuple(history),
        tuple(suppressions),
        dnc_list_dates,
        campaign,
        mode,
        now,
        window if window is not None else CallingWindow.from_config(campaign.calling_window),
        BUILT_IN_LISTS if lists is None else lists,
    )


def _earliest(i: _Inputs, refusals: Sequence[Verdict]) -> float | None:
    if any(r.retry_at is None for r in refusals):
        return None
    not_before = max([i.now, *(r.retry_at or i.now for r in refusals)])
    zones, known = resolve_zones(i.contact.timezones, i.window, i.contact.preferred_hours)
    if not known.allowed:
        return None
    narrowed = i.window.narrowed(i.contact.preferred_hours)
    # A national list that goes stale before then is not accounted for on purpose: that
    # is not a reason to give up on the contact; at that instant the gate answers
    # ``dnc_list_stale`` for the whole campaign until a fresh import.
    return narrowed.next_open(zones, not_before) if narrowed.needs_zone else not_before


def check_contact(
    contact: ContactFacts,
    history: Iterable[PastAttempt],
    suppressions: Iterable[Suppression],
    dnc_list_dates: Mapping[str, float],
    campaign: CampaignConfig,
    mode: DialMode,
    now: float,
    *,
    window: CallingWindow | None = None,
    lists: Mapping[str, ListTerms] | None = None,
) -> Verdict:
    """May ``contact`` be dialled at ``now`` (epoch seconds, UTC) in ``campaign``?

    ``history`` is every earlier attempt to the contact's number, from any campaign (at
    least the last 30 days); ``suppressions`` the DNC entries matching the number;
    ``dnc_list_dates`` the date of each imported national list; ``mode`` how this call
    would be paced (the 72 h lock-out does not apply to a guaranteed call). Pass
    ``window`` (``CallingWindow.from_config(campaign.calling_window)``) to skip
    rebuilding it per contact; ``lists`` is every national list's terms
    (``EngineConfig.national_lists()``; None: the built-in lists only).

    Returns the first refusal in :data:`RULE_ORDER`, with ``retry_at`` widened to the
    first instant every rule allows (``None`` if a refusal cannot be waited out), or
    :data:`ALLOWED`.
    """
    i = _inputs(contact, history, suppressions, dnc_list_dates, campaign, mode, now, window, lists)
    for v in _verdicts(i):
        if not v.allowed:
            if v.retry_at is None:
                return v
            rest = [r for r in _verdicts(i) if not r.allowed]
            return Verdict.refuse(v.rule, v.reason, _earliest(i, rest))
    return ALLOWED


def all_refusals(
    contact: ContactFacts,
    history: Iterable[PastAttempt],
    suppressions: Iterable[Suppression],
    dnc_list_dates: Mapping[str, float],
    campaign: CampaignConfig,
    mode: DialMode,
    now: float,
    *,
    window: CallingWindow | None = None,
    lists: Mapping[str, ListTerms] | None = None,
) -> list[Verdict]:
    """Every refusal (in :data:`RULE_ORDER`), each with its own rule's ``retry_at``.

    Empty means the call is allowed. The hours rules after ``timezone_unknown`` are
    skipped when the zone is unknown (they cannot be evaluated).
    """
    i = _inputs(contact, history, suppressions, dnc_list_dates, campaign, mode, now, window, lists)
    return [v for v in _verdicts(i) if not v.allowed]


def earliest_allowed(
    contact: ContactFacts,
    history: Iterable[PastAttempt],
    suppressions: Iterable[Suppression],
    dnc_list_dates: Mapping[str, float],
    campaign: CampaignConfig,
    mode: DialMode,
    now: float,
    *,
    window: CallingWindow | None = None,
    lists: Mapping[str, ListTerms] | None = None,
) -> float | None:
    """First instant ``≥ now`` at which every rule allows the call, assuming no new
    attempts or suppressions; ``None`` if some refusal is final (DNC, attempts used up,
    unknown zone, a window that never opens). National lists ageing past their limit in
    the meantime are left to the ``dnc_list_stale`` check at that time."""
    i = _inputs(contact, history, suppressions, dnc_list_dates, campaign, mode, now, window, lists)
    return _earliest(i, [v for v in _verdicts(i) if not v.allowed])


def priority_key(contact: ContactFacts) -> tuple[int, int, str]:
    """Sort key for callable contacts: higher ``priority`` first, then fewer attempts
    (fresh contacts before retries), then number for a stable order."""
    return (-contact.priority, contact.attempts, contact.number)
