"""The law's numbers, each defined once (a leaf module: it imports nothing of ours).

Every layer that enforces one of these (config validation, the pacer, the SIP adapter,
the compliance rules, the simulator) imports it from here, so a regulator's change is a
one-line change and a test can assert each layer uses the same figure.

Sources (see docs/compliance.md for the full table):

* Ofcom persistent-misuse policy (UK) and FCC 47 CFR 64.1200(a)(7) (US): at most 3 % of
  live answers abandoned, measured over 24 h (Ofcom) or a 30-day campaign period (FCC);
  an answered call must reach a live agent within 2 s of the callee's greeting, else an
  information message plays; no repeat call within 72 h after an abandoned call unless
  a live agent is guaranteed; unanswered calls ring at least 15 s.
* The dial-ratio ceiling of 3 lines per agent is dialguard's own safety bound.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

MIN_RING_TIMEOUT_S: float = 15.0
"""Unanswered calls ring at least this long before we give up (safeguard 4)."""

MAX_ABANDON_CAP: float = 0.03
"""Abandoned calls as a share of live answers, over the regime's window."""

CONNECT_DEADLINE_S: float = 2.0
"""From the callee's answer to a live agent (or, failing that, the information message)."""

ABANDON_LOCKOUT_S: float = 72 * 3600.0
"""After an abandoned call, no repeat call to the number unless an agent is guaranteed."""

MAX_DIAL_RATIO: float = 3.0
"""Lines dialled per active agent, at most (dialguard's bound, not a statute)."""

AbandonWindow = Literal["24h", "30d"]
"""The window the abandon rate is measured over: Ofcom's rolling 24 h, or the FCC's
30-day campaign period. A campaign chooses one (``pacing.abandon_window``)."""

ABANDON_WINDOW_S: dict[AbandonWindow, float] = {"24h": 86_400.0, "30d": 30 * 86_400.0}
"""Each abandon window's length: what the governor counts over and the compliance report
checks, so the two cannot disagree."""

# --- national do-not-call lists --------------------------------------------------------

LIST_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"
"""The shape of a do-not-call list's name (built-in or declared in the engine config's
``[[dnc_list]]``): a lower-case token, so it reads the same in a campaign's ``[dnc]
lists``, on the command line and in the store, whose schema checks this shape."""

NATIONAL_LIST_REGION: dict[str, str] = {
    "tps": "GB",
    "ctps": "GB",
    "usdnc": "US",
    "bloctel": "FR",
    "dncr": "AU",
}
"""The country whose numbers each national list holds (ISO region code). TPS and CTPS
are Ofcom's registers of UK numbers; the National Do Not Call Registry holds US numbers;
Bloctel (art. L223-1 Code de la consommation) French numbers; the Do Not Call Register
(Do Not Call Register Act 2006) Australian numbers. An entry is parsed in this region,
never in the engine's default one."""

MAX_LIST_AGE_DAYS: dict[str, int] = {"tps": 28, "ctps": 28, "usdnc": 31, "bloctel": 30, "dncr": 30}
"""How old a national list may be, in days from 00:00 UTC of its date (exclusive): PECR
reg. 21/26 (a TPS/CTPS registration takes effect after 28 days); 16 CFR 310.4(b)(3)(iv)
(the US registry must be re-downloaded at least every 31 days); Bloctel, art. L223-1 and
R223-1 ff. Code de la consommation (a registration takes effect within 30 days, and a
professional must have its files cleaned against the list at least every 30 days — our
reading; 30 is the conservative choice, docs/compliance.md); the Do Not Call Register,
Do Not Call Register Act 2006 s 11 and the ACMA's guidance (a number not on the register
when the list was washed in the last 30 days may be called)."""


@dataclass(frozen=True, slots=True)
class ListTerms:
    """What the law (or, for a declared list, the engine config) says of one national
    list: the country its numbers are read in and the age past which it blocks dialling.
    ``label`` is how messages name it (None: the rules' own label, else its name)."""

    region: str
    max_age_days: int
    label: str | None = None


BUILT_IN_LISTS: Mapping[str, ListTerms] = {
    name: ListTerms(region, MAX_LIST_AGE_DAYS[name])
    for name, region in NATIONAL_LIST_REGION.items()
}
"""The built-in national lists' terms, from the two tables above (their one home). Lists
declared in the engine config (``[[dnc_list]]``, ``EngineConfig.national_lists``) are
added to these, never put in their place."""

REGIME_NATIONAL_LIST: dict[str, str] = {"france": "bloctel", "australia": "dncr"}
"""The national list of a one-country regime, which ``config check`` expects a campaign
under it to screen: art. L223-1 Code de la consommation (Bloctel: no canvassing a
consumer on the list, except under a contract in force); Do Not Call Register Act 2006
s 11 (no telemarketing call to a registered number without consent). Each has
exceptions (a contract, consent) dialguard cannot see, so it is said, not forced.
``tcpa`` is left out: its hours are used for callers outside the US too (the shipped
example screens TPS under them), so it names no list."""

# --- what each calling-window regime imposes besides its hours --------------------------

REGIME_HOLIDAY_COUNTRY: dict[str, str] = {"france": "FR", "australia": "AU"}
"""Regimes whose law forbids calls on public holidays, and the country whose calendar
applies: France, Code de la consommation art. D223-9 (jours fériés, art. L3133-1 Code
du travail); Australia, Telecommunications (Telemarketing and Research Calls) Industry
Standard 2017, calling times (no calls on a national public holiday; dialguard also keeps
the callee's state or territory holidays when the zone tells the state, and in France an
overseas département's own days, art. L3422-2 Code du travail)."""

REGIME_MAX_CALLS: dict[str, dict[str, int]] = {"france": {"per_30_days": 4}}
"""Frequency caps a regime imposes, by ``[caps]`` field: France, art. D223-9 — a
consumer may be called at most 4 times in 30 calendar days (per professional)."""
