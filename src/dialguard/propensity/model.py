"""How likely a contact is to answer at a given hour of the week, learnt from outcomes.

Three levels, each the prior of the next (a small hierarchical Beta–Binomial model):

1. **campaign × hour of week** — answers / tries of the whole campaign at that local hour,
   shrunk towards the same hour of the day on the week's other days, which is shrunk
   towards the campaign's rate over all hours (itself shrunk towards
   :attr:`Prior.mean`, ``Beta(a, b)``), so a new campaign starts at the prior, Tuesday
   18:00 starts from what Monday 18:00 taught (people keep their evenings), and an
   hour not yet tried on any day starts at the campaign's rate, not at 0 or 1;
2. **segment × hour of week** — the contact's segment at that hour, shrunk (the same
   two steps: the same hour on other days first) towards level 1 times the segment's
   lift (its answers against what level 1 expected, over all hours), with weight
   :attr:`Prior.segment_weight` pseudo-tries: a segment that answers well in the
   morning is preferred in the afternoon before the afternoon has any evidence of its
   own;
3. **the contact itself**, once it has history: a whole-contact factor (answers against
   what level 2 expected at the hours it was tried, "rarely answers") and its own
   hour-of-day counts ("only in the evening"), both shrunk towards level 2.

Why Beta priors: a cold contact (no tries) gets its segment's figure, never 0, so it is
not starved; a contact tried twice without answer is lowered, not written off. The model
is sans-I/O like :mod:`dialguard.pacing`: outcomes in (:meth:`AnswerModel.observe`),
probabilities out, the hour passed in. :meth:`AnswerModel.observe` returns the count
increments, which the store adds to its ``answer_stats`` table; :meth:`AnswerModel.load`
rebuilds the same model from those rows after a restart.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

__all__ = [
    "HOURS_OF_WEEK",
    "STATED_HOURS",
    "AnswerModel",
    "Explanation",
    "Prior",
    "StatRow",
    "answer_group",
    "hour_of_week",
]

HOURS_OF_WEEK = 168
_UTC = ZoneInfo("UTC")


STATED_HOURS = "+stated-hours"
"""The suffix of the group of a segment's contacts who told the business their hours."""


def answer_group(segment: str | None, stated_hours: bool) -> str:
    """The group a contact learns with at level 2: its segment, split by whether it
    stated preferred hours. Why: the gate calls such a person only inside the hours
    they gave, where they answer far more often than their segment at large (on S4,
    0.55–0.6 against about 0.4), so mixing them in would rank both halves wrong.
    The split is learnt, not assumed: a group starts from its segment's campaign
    figures like any other."""
    return (segment or "") + (STATED_HOURS if stated_hours else "")


def hour_of_week(at: float, zone: ZoneInfo | None = None) -> int:
    """0 = Monday 00:00–01:00 … 167 = Sunday 23:00, in ``zone`` (the contact's) or UTC."""
    local = dt.datetime.fromtimestamp(at, zone or _UTC)
    return local.weekday() * 24 + local.hour


@dataclass(frozen=True, slots=True)
class Prior:
    """The model's priors: a Beta(a, b) for a campaign hour, and pseudo-try weights."""

    a: float = 1.0
    b: float = 3.0  # mean 0.25: about the live-answer rate of an outbound list
    campaign_weight: float = 20.0
    segment_weight: float = 10.0
    contact_weight: float = 3.0
    explore: float = 0.5
    """Standard errors of optimism in the ordering figure (0 = order by the honest one)."""

    def __post_init__(self) -> None:
        for name in ("a", "b", "campaign_weight", "segment_weight", "contact_weight"):
            if not getattr(self, name) > 0:
                raise ValueError(f"Prior.{name} must be > 0, got {getattr(self, name)!r}")
        if not (math.isfinite(self.explore) and self.explore >= 0):
            raise ValueError(f"Prior.explore must be ≥ 0, got {self.explore!r}")

    @property
    def mean(self) -> float:
        return self.a / (self.a + self.b)


@dataclass(frozen=True, slots=True)
class StatRow:
    """One persisted count: ``scope`` campaign|segment|contact (by hour) or
    campaign_total|segment_total|contact_total, ``key`` the segment name or contact id
    ('' for the campaign), ``bucket`` the hour of week (hour of day for ``contact``, 0
    for the totals); ``expected`` is, for ``segment_total`` / ``contact_total``, the
    answers the level above predicted at the hours they were tried (their lift)."""

    scope: str
    key: str
    bucket: int
    tries: float
    answers: float
    expected: float = 0.0


@dataclass(slots=True)
class _Count:
    tries: float = 0.0
    answers: float = 0.0
    expected: float = 0.0


@dataclass(frozen=True, slots=True)
class Explanation:
    """Why the model says what it says about one contact at one hour."""

    hour_of_week: int
    campaign: float
    campaign_tries: float
    segment: float
    segment_tries: float
    contact: float
    contact_tries: float
    probability: float
    exploration: float = 0.0  # the bonus of a little-tried (segment, hour of day)

    @property
    def ordering(self) -> float:
        """The figure contacts are ordered by: P(answer) plus the exploration bonus."""
        return min(self.probability + self.exploration, 0.99)


@dataclass(slots=True)
class AnswerModel:
    """One campaign's answer-probability model (see the module docstring)."""

    prior: Prior = field(default_factory=Prior)
    _counts: dict[tuple[str, str, int], _Count] = field(default_factory=dict)

    # ------------------------------------------------------------------ learning
    def observe(
        self, contact: int | str, segment: str | None, how: int, answered: bool
    ) -> list[StatRow]:
        """One attempt's outcome at hour of week ``how``; the increments to persist."""
        _check_hour(how)
        expected = self._segment(segment, how)  # before this outcome changes it
        expected_c = self._campaign(how)
        win = 1.0 if answered else 0.0
        seg = segment or ""
        rows = [
            StatRow("campaign_total", "", 0, 1.0, win),
            StatRow("campaign", "", how, 1.0, win),
            StatRow("segment_total", seg, 0, 1.0, win, expected_c),
            StatRow("segment", seg, how, 1.0, win),
            StatRow("contact", str(contact), how % 24, 1.0, win),
            StatRow("contact_total", str(contact), 0, 1.0, win, expected),
        ]
        self._add(rows)
        return rows

    def load(self, rows: Iterable[StatRow]) -> None:
        """Add persisted counts (all of a campaign's rows, after a restart)."""
        self._add(rows)

    def _add(self, rows: Iterable[StatRow]) -> None:
        for r in rows:
            c = self._counts.setdefault((r.scope, r.key, r.bucket), _Count())
            c.tries += r.tries
            c.answers += r.answers
            c.expected += r.expected

    def rows(self) -> list[StatRow]:
        """Every count, as rows (what :meth:`load` takes back)."""
        return [
            StatRow(s, k, b, c.tries, c.answers, c.expected)
            for (s, k, b), c in sorted(self._counts.items())
        ]

    def contacts_with_history(self) -> list[str]:
        """Every contact the model has seen an outcome of (their own figures apply)."""
        return [k for (scope, k, _) in self._counts if scope == "contact_total"]

    def has_history(self, contact: int | str) -> bool:
        return ("contact_total", str(contact), 0) in self._counts

    # ------------------------------------------------------------------ answering
    def _get(self, scope: str, key: str, bucket: int) -> _Count:
        return self._counts.get((scope, key, bucket)) or _Count()

    def _same_hour_other_days(self, scope: str, key: str, how: int) -> _Count:
        """The counts at this hour of the day on the week's six other days."""
        out = _Count()
        hour, day = how % 24, how // 24
        for d in range(7):
            if d != day:
                c = self._get(scope, key, d * 24 + hour)
                out.tries += c.tries
                out.answers += c.answers
        return out

    def _shrunk(self, scope: str, key: str, how: int, prior: float, w: float) -> float:
        """The (scope, key) rate at ``how``: its own counts, shrunk towards the same hour
        on the other days, itself shrunk towards ``prior`` (module docstring, level 1)."""
        other = self._same_hour_other_days(scope, key, how)
        daily = (other.answers + w * prior) / (other.tries + w)
        c = self._get(scope, key, how)
        return (c.answers + w * daily) / (c.tries + w)

    def _campaign(self, how: int) -> float:
        t = self._get("campaign_total", "", 0)
        overall = (t.answers + self.prior.a) / (t.tries + self.prior.a + self.prior.b)
        return self._shrunk("campaign", "", how, overall, self.prior.campaign_weight)

    def _segment(self, segment: str | None, how: int) -> float:
        camp = self._campaign(how)
        total = self._get("segment_total", segment or "", 0)
        w = self.prior.segment_weight
        lift = _lift(total, w * self.prior.mean)
        return self._shrunk("segment", segment or "", how, min(camp * lift, 0.99), w)

    def probability(self, contact: int | str, segment: str | None, how: int) -> float:
        """P(the contact answers a call at hour of week ``how``), in (0, 1)."""
        return self.explain(contact, segment, how).probability

    def segment_probability(self, segment: str | None, how: int) -> float:
        """A contact without history: its segment's figure at ``how``."""
        _check_hour(how)
        return self._segment(segment, how)

    def ordering_probability(self, contact: int | str, segment: str | None, how: int) -> float:
        """The figure a contact is ordered by at ``how`` (P(answer) + exploration)."""
        return self.explain(contact, segment, how).ordering

    def segment_ordering_probability(self, segment: str | None, how: int) -> float:
        """The ordering figure of a contact without history (its segment's)."""
        _check_hour(how)
        seg = self._segment(segment, how)
        return min(seg + self._exploration(seg, segment, how), 0.99)

    def _exploration(self, seg: float, segment: str | None, how: int) -> float:
        """``explore`` standard errors of ``seg``, the (segment, hour) estimate, counting
        the tries at this hour of the day on every day of the week."""
        here = self._get("segment", segment or "", how).tries
        tries = here + self._same_hour_other_days("segment", segment or "", how).tries
        return self.prior.explore * math.sqrt(
            seg * (1.0 - seg) / (tries + self.prior.segment_weight)
        )

    def explain(self, contact: int | str, segment: str | None, how: int) -> Explanation:
        """Each level's figure and the evidence behind it (``report contacts``)."""
        _check_hour(how)
        camp = self._campaign(how)
        seg = self._segment(segment, how)
        total = self._get("contact_total", str(contact), 0)
        w = self.prior.contact_weight
        # rarely / often answers: observed answers against what the segment predicted,
        # shrunk towards 1 by w pseudo-tries at the segment's own rate
        base = min(seg * _lift(total, w * seg), 0.99)
        hod = self._get("contact", str(contact), how % 24)
        p = (hod.answers + w * base) / (hod.tries + w)
        return Explanation(
            hour_of_week=how,
            campaign=camp,
            campaign_tries=self._get("campaign", "", how).tries,
            segment=seg,
            segment_tries=self._get("segment", segment or "", how).tries,
            contact=p,
            contact_tries=total.tries,
            probability=p,
            exploration=self._exploration(seg, segment, how),
        )


def _lift(c: _Count, strength: float) -> float:
    """Answers against expected answers, shrunk towards 1 by ``strength`` pseudo-answers."""
    return (c.answers + strength) / (c.expected + strength)


def _check_hour(how: int) -> None:
    if isinstance(how, bool) or not isinstance(how, int) or not 0 <= how < HOURS_OF_WEEK:
        raise ValueError(f"hour of week must be an int 0–167, got {how!r}")
