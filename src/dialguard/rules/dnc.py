"""Do-not-call rules: the internal list always, national lists as the campaign says.

A national list is only as good as its last download: TPS/CTPS subscribers must be
screened against a copy less than 28 days old (Ofcom/ICO guidance under PECR reg. 21),
US telemarketers against a registry copy less than 31 days old (16 CFR 310.4(b)(3)(iv)),
Bloctel and Australia's Do Not Call Register against one less than 30 days old
(:data:`dialguard.law.MAX_LIST_AGE_DAYS` says why for each).
A list's age runs from 00:00 UTC of its date and the limit is exclusive: a TPS list
dated 1 March is usable until 00:00 UTC on 29 March, not on that day (docs/compliance.md).
When a campaign's list is older than that — or was never imported — no number is safe to
call, so the gate refuses every contact of the campaign (fail closed) until a fresh list
is imported.

A list the engine config declares (``[[dnc_list]]``) brings its own maximum age and is
checked the same way; the rules are handed every list's terms (``lists``, defaulting to
the built-in ones), and a campaign screening a list nobody declared is refused too.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping

from dialguard.law import BUILT_IN_LISTS, MAX_LIST_AGE_DAYS, ListTerms
from dialguard.rules.types import DAY_S, NationalList, Suppression, Verdict

MAX_LIST_AGE_S: dict[str, int] = {name: days * DAY_S for name, days in MAX_LIST_AGE_DAYS.items()}
""":data:`dialguard.law.MAX_LIST_AGE_DAYS` in seconds."""
LIST_LABELS: dict[str, str] = {
    "internal": "internal DNC",
    "tps": "TPS",
    "ctps": "CTPS",
    "usdnc": "US National DNC Registry",
    "bloctel": "Bloctel",
    "dncr": "Australian Do Not Call Register",
}
CLOCK_SKEW_S = DAY_S
"""A list dated further than this in the future is treated as bad data, not as fresh."""


def _day(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).date().isoformat()


def list_label(name: str, lists: Mapping[str, ListTerms] = BUILT_IN_LISTS) -> str:
    """How messages name a list: its declared label, the built-in label, else its name."""
    terms = lists.get(name)
    if terms is not None and terms.label is not None:
        return terms.label
    return LIST_LABELS.get(name, name)


def check_lists_fresh(
    required: Iterable[NationalList],
    dnc_list_dates: Mapping[str, float],
    now: float,
    lists: Mapping[str, ListTerms] = BUILT_IN_LISTS,
) -> Verdict:
    """Refuse (``dnc_list_stale``) if a national list the campaign needs is missing or old,
    or is a list ``lists`` (every list's terms) does not know.

    ``dnc_list_dates`` maps a list name to the epoch second of the imported copy's date.
    The boundary is exclusive: a list 28 (31) days old or more is stale.
    """
    for name in required:
        label = list_label(name, lists)
        terms = lists.get(name)
        if terms is None:
            return Verdict.refuse(
                "dnc_list_stale",
                f"the campaign must screen against the {name} list, which is neither built"
                " in nor declared in the engine config ([[dnc_list]])",
            )
        limit_s = terms.max_age_days * DAY_S
        limit_days = terms.max_age_days
        date = dnc_list_dates.get(name)
        if date is None:
            return Verdict.refuse(
                "dnc_list_stale",
                f"the campaign must screen against the {label} list, which was never imported",
            )
        if isinstance(date, bool) or not isinstance(date, int | float):
            return Verdict.refuse(
                "dnc_list_stale", f"the {label} list has no valid date ({date!r})"
            )
        age = now - date
        if not math.isfinite(age):
            return Verdict.refuse(
                "dnc_list_stale", f"the {label} list has no valid date ({date!r})"
            )
        if age >= limit_s:
            return Verdict.refuse(
                "dnc_list_stale",
                f"the {label} list dated {_day(date)} is {age / DAY_S:.1f} days old "
                f"(it must be less than {limit_days} days old); import a fresh copy",
            )
        if age < -CLOCK_SKEW_S:
            return Verdict.refuse(
                "dnc_list_stale",
                f"the {label} list is dated {_day(date)}, in the future; check the import "
                "and the clock",
            )
    return Verdict.allow("dnc_list_stale", "every required national list is fresh")


def check_dnc(
    suppressions: Iterable[Suppression],
    required: Iterable[NationalList],
    lists: Mapping[str, ListTerms] = BUILT_IN_LISTS,
) -> Verdict:
    """Refuse a number on the internal list (``dnc_internal``) or on a national list the
    campaign honours (``dnc_tps``, ``dnc_ctps``, ``dnc_usdnc``, ``dnc_bloctel``,
    ``dnc_dncr``; ``dnc_declared`` for a list the engine config declares, its reason
    naming the list). Entries from national lists the campaign does not use are ignored,
    as its configuration says."""
    honoured = set(required)
    entries = list(suppressions)
    for s in entries:
        if s.source == "internal":
            return Verdict.refuse("dnc_internal", "the number is on the internal do-not-call list")
    for s in entries:
        if s.source in honoured:
            dated = f" (list dated {_day(s.list_date)})" if s.list_date is not None else ""
            rule = f"dnc_{s.source}" if s.source in LIST_LABELS else "dnc_declared"
            return Verdict.refuse(
                rule, f"the number is on the {list_label(s.source, lists)} list{dated}"
            )
    return Verdict.allow("dnc", "the number is on no do-not-call list the campaign honours")
