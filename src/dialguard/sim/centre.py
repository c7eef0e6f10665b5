"""A discrete-event, virtual-time contact centre that drives the real pacing code.

The clock, the callee population and every random draw are owned here, seeded from one
``random.Random(seed)``, so a day replays exactly from its seed (a failing run says
which). The pacer under test is the same :class:`~dialguard.pacing.Pacer` the daemon
runs: the simulator plays the engine's part — it reports agent states and call progress
and acts on every decision the pacer returns, the way the asyncio engine does.

The simulator also keeps its own score: an answered live call not connected to an agent
within 2 s of the answer is abandoned whatever the pacer believes. It plays the engine
the daemon is: the INVITE leaves a dispatch latency after ``Launch``; a wrap-up ends at
min(drawn wrap-up, the campaign's cap) (the engine's auto-ready); a ``Connect`` to an
agent who is not ready is a pacer bug and fails the day. After every ``poll`` it runs
the pacer's ``check_invariants()`` (when the pacer has one).
"""

from __future__ import annotations

import heapq
import math
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from dialguard.law import CONNECT_DEADLINE_S
from dialguard.pacing import (
    AgentChanged,
    Answered,
    Connect,
    Connected,
    CouldNotLaunch,
    Decision,
    Ended,
    Event,
    Failed,
    FailReason,
    Launch,
    Launched,
    PlayMessage,
    Ringing,
)
from dialguard.sim.workload import Workload

if TYPE_CHECKING:
    from dialguard.sim.right_time import Callees, Dialler

# event kinds (ints: the heap compares them cheaply)
_TIMER, _RING, _ANSWER, _FAIL, _CONNECTED, _END, _WRAP_END, _LAUNCHED = range(8)
_LIVE, _VOICEMAIL = 1, 2


class PacerLike(Protocol):
    """What the simulator needs from a pacer (the real one or a comparator)."""

    def handle(self, event: Event, now: float) -> None: ...

    def poll(self, now: float) -> list[Decision]: ...

    def next_deadline(self) -> float | None: ...


class SimulationError(RuntimeError):
    """A simulated day went wrong; the message starts with the seed that replays it."""


@dataclass(slots=True)
class _Call:
    kind: int  # 0 no live person, _LIVE, _VOICEMAIL
    answered_at: float | None = None
    agent: int | None = None
    abandoned: bool = False
    done: bool = False
    contact: int = -1  # S4: whom it dials (sim/right_time.py); -1 without a list
    dialled_at: float = 0.0


@dataclass(slots=True)
class _Agent:
    name: str
    state: str = "ready"
    version: int = 0
    wrap_started: float = 0.0


@dataclass(slots=True)
class Sample:
    """One point of the day's time series (for plots)."""

    t: float
    agents_occupied: int
    dials_in_flight: int
    abandon_rate: float


@dataclass(slots=True)
class DayResult:
    """One simulated day's raw totals; the shares are derived."""

    seed: int
    agents: int
    hours: float
    talk_s: float = 0.0
    voicemail_s: float = 0.0
    wrap_s: float = 0.0
    connecting_s: float = 0.0
    contacts: int = 0
    attempts: int = 0
    answered_live: int = 0
    abandoned_live: int = 0
    abandoned_all: int = 0
    late_connects: int = 0
    series: list[Sample] = field(default_factory=list)

    @property
    def logged_s(self) -> float:
        return self.agents * self.hours * 3600.0

    @property
    def talk_share(self) -> float:
        return self.talk_s / self.logged_s

    @property
    def occupancy(self) -> float:
        busy = self.talk_s + self.voicemail_s + self.wrap_s + self.connecting_s
        return busy / self.logged_s

    @property
    def contacts_per_agent_hour(self) -> float:
        return self.contacts / (self.agents * self.hours)

    @property
    def abandon_rate(self) -> float:
        return self.abandoned_live / self.answered_live if self.answered_live else 0.0

    @property
    def idle_s_per_contact(self) -> float:
        idle = self.logged_s * (1 - self.occupancy)
        return idle / self.contacts if self.contacts else math.inf

    @property
    def attempts_per_contact(self) -> float:
        return self.attempts / self.contacts if self.contacts else math.inf


class ContactCentre:
    """One simulated day of one workload driving one pacer."""

    def __init__(
        self,
        workload: Workload,
        pacer: PacerLike,
        *,
        seed: int,
        hours: float = 8.0,
        sample_every_s: float | None = None,
        contacts: tuple[Dialler, Callees] | None = None,
    ) -> None:
        """``contacts``: dial a list of people (workload S4) — the dialler picks whom,
        the callees' own hourly chance decides each answer — instead of drawing every
        call from the workload's shares."""
        self.w = workload
        self.contacts = contacts
        self.pacer = pacer
        self.seed = seed
        self.rng = random.Random(seed)
        self.end = hours * 3600.0
        self.result = DayResult(seed=seed, agents=workload.agents, hours=hours)
        self._heap: list[tuple[float, int, int, int, int]] = []
        self._seq = 0
        self._calls: dict[int, _Call] = {}
        self._agents = [_Agent(f"agent-{i:03d}") for i in range(workload.agents)]
        self._by_name = {a.name: i for i, a in enumerate(self._agents)}
        self._timer_at = math.inf
        self._sample_every = sample_every_s
        self._talk_mu, self._talk_sigma = _lognormal(workload.talk_mean_s, workload.talk_cv)
        self._wrap_mu, self._wrap_sigma = _lognormal(max(workload.wrap_s, 1e-9), workload.wrap_cv)
        self._check = getattr(pacer, "check_invariants", None)
        self._ring_mu = math.log(workload.ring_median_s)

    # ------------------------------------------------------------------ running
    def run(self) -> DayResult:
        """Simulate the day; any failure is re-raised naming the seed."""
        try:
            return self._run()
        except Exception as e:
            raise SimulationError(f"seed {self.seed}: {type(e).__name__}: {e}") from e

    def _run(self) -> DayResult:
        pacer = self.pacer
        for a in self._agents:
            pacer.handle(AgentChanged(a.name, "ready"), 0.0)
        self._act(self._poll(0.0), 0.0)
        self._arm_timer(0.0)
        heap = self._heap
        next_sample = 0.0 if self._sample_every else math.inf
        while heap:
            t = heap[0][0]
            if t >= self.end:
                break
            while next_sample <= t:
                self._sample(next_sample)
                next_sample += self._sample_every or math.inf
            while heap and heap[0][0] == t:
                _, _, kind, x, y = heapq.heappop(heap)
                self._dispatch(kind, x, y, t)
            self._act(self._poll(t), t)
            self._arm_timer(t)
        return self.result

    def _poll(self, now: float) -> list[Decision]:
        out = self.pacer.poll(now)
        if self._check is not None:
            self._check()
        return out

    def _push(self, t: float, kind: int, a: int = 0, b: int = 0) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (t, self._seq, kind, a, b))

    def _arm_timer(self, now: float) -> None:
        d = self.pacer.next_deadline()
        if d is None:
            return
        d = max(d, now + 1e-6)
        if d < self._timer_at or self._timer_at <= now:
            self._timer_at = d
            self._push(d, _TIMER)

    def _sample(self, t: float) -> None:
        occupied = sum(1 for a in self._agents if a.state != "ready")
        in_flight = sum(1 for c in self._calls.values() if c.answered_at is None and not c.done)
        r = self.result
        self.result.series.append(Sample(t, occupied, in_flight, r.abandon_rate))

    # ------------------------------------------------------------------ world events
    def _dispatch(self, kind: int, a: int, b: int, now: float) -> None:
        pacer = self.pacer
        if kind == _TIMER:
            return
        if kind == _LAUNCHED:
            if a in self._calls:
                pacer.handle(Launched(a), now)
            return
        if kind == _WRAP_END:
            agent = self._agents[a]
            if agent.version == b and agent.state == "wrap":
                self.result.wrap_s += now - agent.wrap_started
                agent.state = "ready"
                pacer.handle(AgentChanged(agent.name, "ready"), now)
            return
        call = self._calls.get(a)
        if call is None or call.done:
            return
        if kind == _RING:
            pacer.handle(Ringing(a), now)
        elif kind == _ANSWER:
            call.answered_at = now
            if call.kind == _LIVE:
                self.result.answered_live += 1
            self._settle(call, "connected" if call.kind == _LIVE else "voicemail", now)
            pacer.handle(Answered(a), now)
        elif kind == _FAIL:
            call.done = True
            del self._calls[a]
            why: FailReason = "busy" if b == 1 else "invalid" if b == 2 else "no_answer"
            self._settle(call, why, now)
            pacer.handle(Failed(a, why), now)
        elif kind == _CONNECTED:
            agent = self._agents[b]
            pacer.handle(Connected(a), now)
            if call.abandoned:  # the pacer gave up first (connect deadline): no talk
                agent.state = "ready"
                pacer.handle(AgentChanged(agent.name, "ready"), now)
                call.agent = None
                return
            if call.kind == _LIVE:
                talk = self.rng.lognormvariate(self._talk_mu, self._talk_sigma)
                self.result.talk_s += min(talk, self.end - now)
                self.result.contacts += 1
            else:
                talk = self.w.voicemail_agent_s
                self.result.voicemail_s += min(talk, self.end - now)
            agent.state = "busy"
            pacer.handle(AgentChanged(agent.name, "busy"), now)
            self._push(now + talk, _END, a, b)
        elif kind == _END:
            call.done = True
            del self._calls[a]
            pacer.handle(Ended(a), now)
            if call.agent is not None:
                agent = self._agents[call.agent]
                agent.version += 1
                if call.kind == _LIVE and self.w.wrap_s > 0:
                    agent.state = "wrap"
                    agent.wrap_started = now
                    pacer.handle(AgentChanged(agent.name, "wrap"), now)
                    self._push(now + self._wrap_s(), _WRAP_END, call.agent, agent.version)
                else:
                    agent.state = "ready"
                    pacer.handle(AgentChanged(agent.name, "ready"), now)

    # ------------------------------------------------------------------ decisions
    def _act(self, decisions: list[Decision], now: float) -> None:
        for d in decisions:
            if isinstance(d, Launch):
                self._launch(d, now)
            elif isinstance(d, Connect):
                self._connect(d, now)
            elif isinstance(d, PlayMessage):
                call = self._calls[d.call]
                self._abandon(call)
                self._push(now + self.w.message_s, _END, d.call, 0)
            # Reserve / Release only inform the agent desktop: nothing to simulate

    def _wrap_s(self) -> float:
        """One wrap-up: drawn around ``wrap_s``, ended by the campaign's cap if it has one."""
        w = self.w
        wrap = w.wrap_s
        if w.wrap_cv > 0:
            wrap = self.rng.lognormvariate(self._wrap_mu, self._wrap_sigma)
        return wrap if w.wrap_cap_s is None else min(wrap, w.wrap_cap_s)

    def _abandon(self, call: _Call) -> None:
        if not call.abandoned:
            call.abandoned = True
            self.result.abandoned_all += 1
            if call.kind == _LIVE:
                self.result.abandoned_live += 1

    def _settle(self, call: _Call, outcome: str, now: float) -> None:
        if self.contacts is not None and call.contact >= 0:
            dialler, callees = self.contacts
            if outcome == "connected":
                callees.answered_live(call.contact)
            dialler.settle(call.contact, outcome, call.dialled_at, dialler.start + now)

    def _launch(self, d: Launch, now: float) -> None:
        w = self.w
        rng = self.rng
        r = self.result
        contact, live_share, dialled_at = -1, w.live_share, now
        if self.contacts is not None:
            dialler, callees = self.contacts
            picked = dialler.pick(dialler.start + now)
            if picked is None:  # nobody callable now: the engine's CouldNotLaunch
                self.pacer.handle(CouldNotLaunch(d.call), now)
                return
            contact, dialled_at = picked, dialler.start + now
            callees.called(contact, dialled_at)
            # the callee's own chance is of answering once the line rings (not busy)
            rest = 1 - w.busy - w.invalid - w.voicemail
            live_share = callees.answer_chance(contact, dialled_at) * rest
        r.attempts += 1
        now += rng.uniform(*w.dispatch_s)  # the INVITE leaves this much later
        self._push(now, _LAUNCHED, d.call)
        pdd = rng.uniform(*w.pdd_s)
        u = rng.random()
        timeout = d.ring_timeout_s
        if u < w.busy:
            self._calls[d.call] = _Call(0, contact=contact, dialled_at=dialled_at)
            self._push(now + pdd + rng.uniform(*w.busy_after_s), _FAIL, d.call, 1)
            return
        u -= w.busy
        if u < w.invalid:
            self._calls[d.call] = _Call(0, contact=contact, dialled_at=dialled_at)
            self._push(now + pdd + rng.uniform(*w.invalid_after_s), _FAIL, d.call, 2)
            return
        u -= w.invalid
        ring_at = now + pdd
        if u < w.voicemail:
            kind, answer_after = _VOICEMAIL, rng.uniform(*w.voicemail_answer_s)
        elif u - w.voicemail < live_share:
            kind, answer_after = _LIVE, rng.lognormvariate(self._ring_mu, w.ring_sigma)
        else:
            kind, answer_after = 0, math.inf
        self._calls[d.call] = _Call(kind, contact=contact, dialled_at=dialled_at)
        self._push(ring_at, _RING, d.call)
        if answer_after <= timeout:
            self._push(ring_at + answer_after, _ANSWER, d.call)
        else:
            self._push(ring_at + timeout, _FAIL, d.call, 0)

    def _connect(self, d: Connect, now: float) -> None:
        call = self._calls[d.call]
        i = self._by_name[d.agent]
        agent = self._agents[i]
        if agent.state != "ready":
            raise AssertionError(f"pacer connected call {d.call} to {d.agent} in {agent.state}")
        agent.state = "connecting"
        call.agent = i
        assert call.answered_at is not None
        latency = self.w.connect_latency_s
        if now + latency - call.answered_at > CONNECT_DEADLINE_S + 1e-9:
            self.result.late_connects += 1
            self._abandon(call)
        self.result.connecting_s += min(latency, max(0.0, self.end - now))
        self._push(now + latency, _CONNECTED, d.call, i)


def _lognormal(mean: float, cv: float) -> tuple[float, float]:
    """(mu, sigma) of the lognormal with this mean and coefficient of variation."""
    sigma2 = math.log(1 + cv**2)
    return math.log(mean) - sigma2 / 2, math.sqrt(sigma2)


def simulate_day(
    workload: Workload, pacer: PacerLike, *, seed: int, hours: float = 8.0
) -> DayResult:
    """Run one seeded day (convenience for tests and the CLI)."""
    return ContactCentre(workload, pacer, seed=seed, hours=hours).run()
