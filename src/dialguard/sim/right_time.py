"""Workload S4: a list of different people, called in the campaign's ``order`` (issue 15).

Two halves that must not see each other's data:

- :class:`Callees` is the world: each simulated person has an *archetype* — at home in
  the daytime, reachable only in the evening, rarely answers, or asked for another
  channel — which fixes their true chance of answering at each local hour, plus what
  they told the business (consent, channel, stated hours) and the business's own
  segment label and propensity. It draws call outcomes from the truth and keeps the
  record the issue asks for: calls made without consent, outside stated hours, to
  people who asked for another channel.
- :class:`Dialler` is the daemon's part: it sees only what the store would hold (the
  :class:`ContactRow` fields, imported from the CRM) and the outcomes of its own calls.
  It runs the real gate (:func:`dialguard.rules.check_contact`), hands other-channel
  contacts over once, learns with the real :class:`~dialguard.propensity.AnswerModel`
  and orders due contacts exactly as the store's ``ORDER_BY`` does, by the real
  :func:`~dialguard.propensity.order_score` refreshed each hour and after each outcome.
  Never the archetype's profile.

The virtual day starts on Monday 2026-03-02 08:00 in New York (TCPA window 08–21) and
lasts 13 hours by default, so both daytime and evening people can be reached.
"""

from __future__ import annotations

import datetime as dt
import heapq
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from dialguard.config.campaign import CampaignConfig, RetryRule
from dialguard.propensity import (
    REFRESH_S,
    AnswerModel,
    Order,
    answer_group,
    hour_of_week,
    order_score,
)
from dialguard.rules import CallingWindow, ContactFacts, PastAttempt, WeeklySpan, check_contact
from dialguard.rules.preferences import handoff_channel, parse_weekly_hours
from dialguard.sim.centre import ContactCentre, DayResult, PacerLike
from dialguard.sim.workload import Workload

__all__ = [
    "ARCHETYPES",
    "S4",
    "S4_CONTACTS",
    "S4_HOURS",
    "Archetype",
    "Callees",
    "ContactRow",
    "Dialler",
    "RightTimeRecord",
    "RightTimeSummary",
    "make_population",
    "run_s4_day",
    "run_s4_days",
    "summarise_s4",
]

ZONE = ZoneInfo("America/New_York")
DAY_START = dt.datetime(2026, 3, 2, 8, 0, tzinfo=ZONE).timestamp()
S4_HOURS = 13.0
S4_CONTACTS = 20000
"""More people than ten agents can call in a day, as lists are: who first matters."""

S4 = Workload(
    "S4", agents=10, hit_rate=0.25, busy=0.06, invalid=0.0,
    talk_mean_s=120.0, talk_cv=0.9, wrap_s=15.0, wrap_cap_s=22.5,
)  # fmt: skip
"""The centre of S4 (hit_rate is nominal: each callee's own hourly chance decides)."""


@dataclass(frozen=True, slots=True)
class Archetype:
    """A kind of person: share of the list, chance of answering by local hour, what they
    tell the business, and how the business's segment label tracks them."""

    name: str
    share: float
    answer_by_hour: tuple[float, ...]  # 24 values, local hour of day
    channel: str = "voice"
    stated_hours: tuple[str, float] = ("", 0.0)  # (preferred_hours text, share stating it)
    segment: tuple[str, float] = ("", 0.0)  # (segment label, share labelled so)


def _profile(base: float, spans: dict[range, float]) -> tuple[float, ...]:
    out = [base] * 24
    for hours, p in spans.items():
        for h in hours:
            out[h] = p
    return tuple(out)


ARCHETYPES: tuple[Archetype, ...] = (
    Archetype(
        "daytime_home", 0.35, _profile(0.12, {range(9, 17): 0.55}),
        stated_hours=("mon-fri 09:00-17:00", 0.2), segment=("retired", 0.7),
    ),
    Archetype(
        "evenings_only", 0.30, _profile(0.04, {range(18, 21): 0.6}),
        stated_hours=("mon-fri 18:00-21:00", 0.4), segment=("working", 0.7),
    ),
    Archetype("rarely_answers", 0.25, _profile(0.03, {})),
    Archetype("other_channel", 0.10, _profile(0.3, {}), channel="sms"),
)  # fmt: skip
_SEGMENTS = ("retired", "working", "general")


@dataclass(frozen=True, slots=True)
class ContactRow:
    """What the store holds about a contact: the daemon's whole knowledge of them."""

    id: int
    voice_consent: str
    preferred_channel: str | None
    preferred_hours: str | None
    segment: str
    propensity: float


@dataclass(frozen=True, slots=True)
class _Truth:
    archetype: str
    answer_by_hour: tuple[float, ...]
    stated: tuple[WeeklySpan, ...]


def make_population(seed: int, n: int = S4_CONTACTS) -> tuple[list[ContactRow], list[_Truth]]:
    """The seed's list: rows for the dialler, truths for the world (same index = id)."""
    rng = random.Random(seed * 7919 + 15)  # the same people whatever the order under test
    rows: list[ContactRow] = []
    truths: list[_Truth] = []
    weights = [a.share for a in ARCHETYPES]
    for i in range(n):
        a = rng.choices(ARCHETYPES, weights)[0]
        label, labelled = a.segment
        segment = label if label and rng.random() < labelled else rng.choice(_SEGMENTS)
        text, stating = a.stated_hours
        hours = text if text and rng.random() < stating else None
        u = rng.random()
        consent = "yes" if u < 0.92 else "unknown" if u < 0.96 else "no"
        rows.append(
            ContactRow(
                id=i,
                voice_consent=consent,
                preferred_channel=a.channel if a.channel != "voice" else None,
                preferred_hours=hours,
                segment=segment,
                propensity=round(rng.betavariate(2, 2), 3),
            )
        )
        truths.append(_Truth(a.name, a.answer_by_hour, parse_weekly_hours(hours) if hours else ()))
    return rows, truths


@dataclass(slots=True)
class RightTimeRecord:
    """The world's own tally of every call placed (never the dialler's word for it)."""

    calls: int = 0
    calls_without_consent: int = 0
    calls_outside_preferred_hours: int = 0
    calls_to_other_channel: int = 0
    handoffs: int = 0
    handoffs_repeated: int = 0
    live_by_archetype: dict[str, int] = field(default_factory=dict)


class Callees:
    """The simulated people: outcome draws from the truth, and the compliance record."""

    def __init__(self, rows: list[ContactRow], truths: list[_Truth], consent_required: bool):
        self._rows = rows
        self._truths = truths
        self._consent_required = consent_required
        self.record = RightTimeRecord()
        self._handed: set[int] = set()

    def answer_chance(self, contact: int, t: float) -> float:
        """P(this person answers a call at epoch ``t``): their archetype's local hour."""
        local = dt.datetime.fromtimestamp(t, ZONE)
        return self._truths[contact].answer_by_hour[local.hour]

    def called(self, contact: int, t: float) -> None:
        """Check a placed call against what the person told the business."""
        r, row, truth = self.record, self._rows[contact], self._truths[contact]
        r.calls += 1
        if row.voice_consent == "no" or (self._consent_required and row.voice_consent != "yes"):
            r.calls_without_consent += 1
        if row.preferred_channel not in (None, "voice"):
            r.calls_to_other_channel += 1
        if truth.stated:
            local = dt.datetime.fromtimestamp(t, ZONE)
            sod = local.hour * 3600 + local.minute * 60 + local.second
            inside = any(local.weekday() in s.days and s.start <= sod < s.end for s in truth.stated)
            if not inside:
                r.calls_outside_preferred_hours += 1

    def answered_live(self, contact: int) -> None:
        name = self._truths[contact].archetype
        self.record.live_by_archetype[name] = self.record.live_by_archetype.get(name, 0) + 1

    def handed_over(self, contact: int) -> None:
        """A hand-off event reached the other channel (counted once per person)."""
        if contact in self._handed:
            self.record.handoffs_repeated += 1
        else:
            self._handed.add(contact)
            self.record.handoffs += 1


@dataclass(slots=True)
class _State:
    row: ContactRow
    group: str  # the answer model's level 2 (propensity.answer_group), as the engine's
    status: str = "pending"
    next_attempt_at: float = 0.0
    history: list[PastAttempt] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    last: tuple[str, float] | None = None
    score: float = 0.0
    version: int = 0


_RETRY_KEY = {"busy": "busy", "no_answer": "no_answer"}
_FINAL = {"connected", "invalid"}


class Dialler:
    """The daemon's side of S4 (see the module docstring): pick, settle, learn."""

    def __init__(
        self,
        rows: list[ContactRow],
        order: Order,
        on_handoff: Callable[[int], None],
        *,
        start: float = DAY_START,
    ) -> None:
        self.order = order
        self.campaign = CampaignConfig(
            id="s4", name="S4", caller_id="+12125550100", order=order, require_voice_consent=True
        )
        self._window = CallingWindow.from_config(self.campaign.calling_window)
        self._on_handoff = on_handoff  # the hand-off event: the world counts it
        self.start = start
        self.model = AnswerModel()
        self._c = [_State(r, answer_group(r.segment, r.preferred_hours is not None)) for r in rows]
        self._spans = {
            r.id: parse_weekly_hours(r.preferred_hours) for r in rows if r.preferred_hours
        }
        self._due: list[tuple[tuple[float, ...], int, int]] = []
        self._later: list[tuple[float, int, int]] = []
        self._hour = -1
        self._now_seen = start
        for c in self._c:
            self._push(c)

    # ------------------------------------------------------------------ ordering
    def _key(self, c: _State) -> tuple[float, ...]:
        """The store's ORDER_BY (store/contacts.py) for this order; priority is 0."""
        if self.order == "list":
            return (c.next_attempt_at, c.row.id)
        if self.order == "priority":
            return (0, c.next_attempt_at, c.row.id)
        return (0, -c.score, c.row.id)

    def _rescore(self, c: _State, t: float, by_segment: dict[str, float] | None = None) -> None:
        how = hour_of_week(t, ZONE)
        if by_segment is not None and not c.history:  # a cold contact: its segment's figure
            p = by_segment.get(c.group)
            if p is None:
                p = by_segment[c.group] = self.model.segment_ordering_probability(c.group, how)
        else:
            p = self.model.ordering_probability(c.row.id, c.group, how)
        c.score = order_score(p, c.row.propensity, max(c.next_attempt_at, self.start))

    def _push(self, c: _State) -> None:
        c.version += 1
        if c.next_attempt_at <= self._now_seen:
            heapq.heappush(self._due, (self._key(c), c.row.id, c.version))
        else:
            heapq.heappush(self._later, (c.next_attempt_at, c.row.id, c.version))

    def _refresh(self, t: float) -> None:
        """The daemon's hourly refresh of the expected value, and contacts coming due."""
        self._now_seen = t
        hour = int((t - self.start) // REFRESH_S)
        if self.order == "expected_value" and hour != self._hour:
            self._hour = hour
            by_segment: dict[str, float] = {}
            for c in self._c:
                if c.status == "pending":
                    self._rescore(c, t, by_segment)
            self._due = []
            for c in self._c:
                if c.status == "pending" and c.next_attempt_at <= t:
                    c.version += 1
                    self._due.append((self._key(c), c.row.id, c.version))
            heapq.heapify(self._due)
        while self._later and self._later[0][0] <= t:
            _, cid, ver = heapq.heappop(self._later)
            c = self._c[cid]
            if ver == c.version and c.status == "pending":
                heapq.heappush(self._due, (self._key(c), cid, c.version))

    def new_day(self, start: float) -> None:
        """The centre opens again at ``start``: calls the last day's close cut short go
        back to the queue as they were (their outcome was never heard), and the hourly
        refresh counts from the new opening."""
        if start < self.start:
            raise ValueError("new_day: days go forward")
        for c in self._c:
            if c.status == "in_progress":
                c.status = "pending"
                self._push(c)
        self.start = start
        self._now_seen = start
        self._hour = -1

    # ------------------------------------------------------------------ the engine's moves
    def pick(self, t: float) -> int | None:
        """The next contact the gate allows at epoch ``t`` (now in progress), or None."""
        self._refresh(t)
        while self._due:
            _, cid, ver = heapq.heappop(self._due)
            c = self._c[cid]
            if ver != c.version or c.status != "pending":
                continue
            verdict = check_contact(
                self._facts(c), c.history, [], {}, self.campaign, "guaranteed", t,
                window=self._window,
            )  # fmt: skip
            if verdict.allowed:
                c.status = "in_progress"
                return cid
            if verdict.retry_at is None:
                handed = verdict.rule in ("voice_consent", "preferred_channel")
                c.status = "done" if handed else "exhausted"
                if verdict.rule == "preferred_channel" and handoff_channel(c.row.preferred_channel):
                    self._on_handoff(cid)
                continue
            c.next_attempt_at = verdict.retry_at
            if self.order == "expected_value":
                self._rescore(c, t)
            self._push(c)
        return None

    def _facts(self, c: _State) -> ContactFacts:
        last = c.last
        return ContactFacts(
            number=f"+1212555{c.row.id:04d}",
            timezones=(str(ZONE),),
            attempts=len(c.history),
            last_outcome=last[0] if last else None,
            last_outcome_at=last[1] if last else None,
            outcome_counts=c.counts,
            preferred_hours=self._spans.get(c.row.id, ()),
            voice_consent=c.row.voice_consent,
            preferred_channel=c.row.preferred_channel,
        )

    def settle(self, cid: int, outcome: str, dialled_at: float, t: float) -> None:
        """An attempt's outcome: learn from it, then close or schedule the retry."""
        c = self._c[cid]
        c.history.append(PastAttempt(at=dialled_at, outcome=outcome, ended_at=t))
        if outcome in ("connected", "no_answer", "busy"):
            how = hour_of_week(dialled_at, ZONE)
            self.model.observe(cid, c.group, how, answered=outcome == "connected")
        if outcome in _FINAL:
            c.status = "done" if outcome == "connected" else "exhausted"
            return
        key = _RETRY_KEY[outcome]
        c.counts[key] = c.counts.get(key, 0) + 1
        c.last = (key, t)
        rule: RetryRule = getattr(self.campaign.retry, key)
        c.status = "pending"
        c.next_attempt_at = t + rule.delay_s
        if self.order == "expected_value":
            self._rescore(c, t)
        self._push(c)


@dataclass(frozen=True, slots=True)
class RightTimeSummary:
    """S4's figures over several seeded days (``dialguard simulate --scenario S4``)."""

    order: str
    live_contacts_per_agent_hour: float
    attempts_per_live_contact: float
    calls_without_consent: int
    calls_outside_preferred_hours: int
    calls_to_other_channel: int
    handoffs: int
    handoffs_repeated: int
    live_by_archetype: dict[str, int]

    def as_json(self) -> dict[str, object]:
        return {f: getattr(self, f) for f in self.__dataclass_fields__}


def run_s4_day(
    seed: int,
    order: Order,
    pacer: PacerLike,
    *,
    hours: float = S4_HOURS,
    contacts: int = S4_CONTACTS,
    workload: Workload = S4,
) -> tuple[DayResult, RightTimeRecord]:
    """One seeded S4 day: the seed's people, dialled in ``order`` by ``pacer``."""
    return run_s4_days(seed, order, lambda: pacer, days=1, hours=hours, contacts=contacts,
                       workload=workload)[0]  # fmt: skip


def run_s4_days(
    seed: int,
    order: Order,
    new_pacer: Callable[[], PacerLike],
    *,
    days: int,
    hours: float = S4_HOURS,
    contacts: int = S4_CONTACTS,
    workload: Workload = S4,
) -> list[tuple[DayResult, RightTimeRecord]]:
    """``days`` consecutive weekdays from Monday on one seed's list, as one daemon runs
    a campaign: the same people, the dialler's store and answer model carried from day
    to day (what Monday 18:00 taught is there on Tuesday), the centre's agents logging
    in afresh each morning (``new_pacer()``). One (day, that day's record) per day."""
    if not 1 <= days <= 5:
        raise ValueError(f"days must be 1–5 (Monday to Friday), got {days}")
    rows, truths = make_population(seed, contacts)
    callees = Callees(rows, truths, consent_required=True)
    dialler = Dialler(rows, order, callees.handed_over)
    out = []
    for day in range(days):
        dialler.new_day(DAY_START + day * 86400.0)
        callees.record = RightTimeRecord()
        centre = ContactCentre(
            workload,
            new_pacer(),
            seed=seed + 1_000_003 * day,
            hours=hours,
            contacts=(dialler, callees),
        )
        out.append((centre.run(), callees.record))
    return out


def summarise_s4(order: str, days: list[tuple[DayResult, RightTimeRecord]]) -> RightTimeSummary:
    """Totals over the days: live contacts per agent-hour and attempts per live contact
    are ratios of sums (every agent-hour and attempt weighs the same), counts are sums."""
    if not days:
        raise ValueError("summarise_s4: no days to summarise")
    live = sum(d.contacts for d, _ in days)
    agent_hours = sum(d.agents * d.hours for d, _ in days)
    attempts = sum(d.attempts for d, _ in days)
    by_type: dict[str, int] = {}
    for _, r in days:
        for k, v in r.live_by_archetype.items():
            by_type[k] = by_type.get(k, 0) + v
    return RightTimeSummary(
        order=order,
        live_contacts_per_agent_hour=live / agent_hours,
        attempts_per_live_contact=attempts / live if live else float("inf"),
        calls_without_consent=sum(r.calls_without_consent for _, r in days),
        calls_outside_preferred_hours=sum(r.calls_outside_preferred_hours for _, r in days),
        calls_to_other_channel=sum(r.calls_to_other_channel for _, r in days),
        handoffs=sum(r.handoffs for _, r in days),
        handoffs_repeated=sum(r.handoffs_repeated for _, r in days),
        live_by_archetype=dict(sorted(by_type.items())),
    )
