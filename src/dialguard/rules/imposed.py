"""What the law imposes on one campaign, in sentences: `dialguard config check` prints it.

The campaign file says ``regime = "france"``; this says what that brings — the hours,
the holiday calendar, the caps in force (the campaign's, tightened by the regime's), the
national lists with their country and age limit, the abandon cap and its rolling window —
so an operator sees the rules the gate will enforce, not only the settings they typed.
"""

from __future__ import annotations

from collections.abc import Mapping

from dialguard.config.campaign import CampaignConfig
from dialguard.law import (
    ABANDON_LOCKOUT_S,
    BUILT_IN_LISTS,
    CONNECT_DEADLINE_S,
    MIN_RING_TIMEOUT_S,
    NATIONAL_LIST_REGION,
    REGIME_MAX_CALLS,
    REGIME_NATIONAL_LIST,
    ListTerms,
)
from dialguard.rules.frequency import CAP_SPANS
from dialguard.rules.window import CallingWindow

__all__ = ["what_is_imposed"]

_WINDOW_LABEL = {"24h": "rolling 24 h", "30d": "rolling 30 days"}


def what_is_imposed(
    campaign: CampaignConfig, national: Mapping[str, ListTerms] = BUILT_IN_LISTS
) -> list[str]:
    """One line per rule the gate and the pacer will hold this campaign to."""
    cw = campaign.calling_window
    window = CallingWindow.from_config(cw)
    lines = [f"calling hours ({window.label}, callee's local time): {window.describe()}"]
    days = f"{len(cw.holidays)} campaign date(s)" if cw.holidays else "no campaign dates"
    if window.calendar is not None:
        lines.append(f"no calls on {window.calendar.describe()}, plus {days}")
    elif cw.holidays:
        lines.append(f"no calls on {days}")
    caps = campaign.caps_in_force()
    imposed = REGIME_MAX_CALLS.get(cw.regime, {})
    parts = []
    for span in CAP_SPANS:
        limit = getattr(caps, span.field)
        if limit:
            unit = f"{span.calendar_days} calendar days" if span.calendar_days else span.label
            source = f" ({cw.regime})" if imposed.get(span.field) == limit else ""
            parts.append(f"{limit} per {unit}{source}")
    lines.append(f"calls per number, all campaigns: {', '.join(parts) or 'no cap'}")
    lines.append(
        f"abandoned calls at most {campaign.pacing.abandon_cap:.1%} of live answers, "
        f"{_WINDOW_LABEL[campaign.pacing.abandon_window]}; none to a number for "
        f"{ABANDON_LOCKOUT_S / 3600:.0f} h after an abandoned call unless an agent is reserved"
    )
    lines.append(
        f"ring at least {MIN_RING_TIMEOUT_S:g} s; an agent or the message within "
        f"{campaign.pacing.connect_deadline_s:g} s of the answer (law: {CONNECT_DEADLINE_S:g} s)"
    )
    lists = [
        f"{name} ({national[name].region} numbers, less than "
        f"{national[name].max_age_days} days old)"
        if name in national
        else f"{name} (not declared: nothing is dialled)"
        for name in campaign.dnc.lists
    ]
    lines.append(f"do-not-call: internal list, {', '.join(lists) if lists else 'no national list'}")
    own = REGIME_NATIONAL_LIST.get(cw.regime)
    if own is not None and own not in campaign.dnc.lists:
        lines.append(
            f"regime {cw.regime!r}: its country's list, {own} ({NATIONAL_LIST_REGION[own]}"
            f' numbers), is not screened: add "{own}" to [dnc] lists unless every callee'
            " has a contract or consent that exempts the call"
        )
    return lines
