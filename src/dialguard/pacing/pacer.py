"""The pacer: one per campaign. Events in, decisions out, time passed in.

Theory of operation
-------------------
The pacer keeps two ledgers: agents (state as the desktop reports it, plus the call
each is *reserved* for or *on*) and calls (each a :class:`~dialguard.pacing.calls.Call`
walking the transition table). An agent is *free* when ready, unreserved and on no call.

``poll(now)`` does, in this order:

0. calls still connecting at answer + connect deadline hear the message
   (``connect_timeout``; their agent is paused until the desktop reports again);
1. answered calls waiting get their reserved agent once it is ready, or any free agent
   sooner (predictive mode may also take the agent of a non-guaranteed call still
   ringing); those past their hold deadline (answer + connect deadline − connect
   latency) hear the information message and release any reservation;
2. guaranteed calls whose agent vanished get a free agent (``Reserve``);
3. new dials: in ``progressive`` (and in ``predictive`` while the governor forbids
   over-dial) one dial per free agent, each reserving its agent, plus — with
   ``dial_ahead_wrap`` — one per agent in wrap-up whose cap is less than the dial-ahead
   lead away (the lead is below the hold time); ``predictive`` adds over-dials (no
   agent) while the demand model says the expected answers fit the expected free
   agents; ``preview`` dials only on request.

Guaranteed mode's invariant, by construction: a call is launched only with a reserved
agent; an agent is reserved for at most one call; a reservation ends only by connect,
failure, or the agent vanishing (then another free agent is reserved, or the call is
an orphan that takes the next free agent and, if answered before one frees, hears the
message with reason ``agent_lost``). ``Connect`` only ever names a ready agent. With
dial-ahead the reserved agent may still be in wrap-up at the answer; the call then waits
for it, but the dial left at most ``lead < hold`` before the engine-enforced cap, so the
agent is ready before the hold time runs out. :meth:`Pacer.check_invariants` checks the
ledgers these arguments rest on.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from dialguard.pacing.calls import IN_FLIGHT, Call, PacingProtocolError, Step
from dialguard.pacing.decisions import (
    Connect,
    Decision,
    Launch,
    MessageReason,
    PlayMessage,
    Release,
    ReleaseReason,
    Reserve,
)
from dialguard.pacing.events import (
    AGENT_STATES,
    FAIL_REASONS,
    AgentChanged,
    AgentState,
    Answered,
    AnswerHistory,
    Connected,
    ConnectFailed,
    CouldNotLaunch,
    Ended,
    Event,
    Failed,
    Launched,
    LaunchGate,
    PreviewRequested,
    Ringing,
    UnseenAnswer,
)
from dialguard.pacing.governor import OVER_DIAL_ALLOWED, AbandonBudget, GovernorState
from dialguard.pacing.params import PacingMode, PacingParams
from dialguard.pacing.predictive import OverDialController, dials_allowed, free_within
from dialguard.pacing.stats import OutcomeStats, RingSample

_REPLAN_S = 1.0  # predictive: re-weigh ringing calls this often while dials are out
_MIN_REPLAN_S = 0.5  # … and at most this often when events arrive (bounds the cost)
_BRAKE = 3.0  # extra risk margin (in σ) when the governor allows nothing of its target
_HORIZON = 1.0  # supply horizon in median answer times (0.6, 1.5, 2 measured worse, S1/S2)
_AHEAD_MARGIN_S = 0.25  # dial-ahead lead = hold time − this (slack for the auto-ready)
_UNKNOWN_WRAP_S = 30.0  # predictive's wrap-up guess with no cap and nothing measured yet


class PacingError(ValueError):
    """A request the pacer cannot honour (e.g. a preview request in progressive mode)."""


class PacerInvariantError(AssertionError):
    """The pacer's ledgers contradict each other (a bug in the pacer, never an input)."""


@dataclass(slots=True)
class Agent:
    """The pacer's view of one agent."""

    id: str
    state: AgentState
    since: float
    reserved_for: int | None = None
    on_call: int | None = None


@dataclass(frozen=True, slots=True)
class PacerCounters:
    """Numbers for metrics and the status view."""

    mode: PacingMode
    agents_ready: int
    agents_free: int
    reservations_held: int
    dials_in_flight: int
    over_dials_in_flight: int
    answered_waiting: int
    answered_total: int
    connected_total: int
    abandoned_total: int
    window_answered: int
    window_abandoned: int
    abandon_rate_window: float
    governor_state: GovernorState
    allowed_abandon_rate: float
    dial_level: float
    over_dial_allowance: int
    ring_timeout_s: float
    dial_ahead_lead_s: float
    risk_z: float


class Pacer:
    """Pacing for one campaign (see the module docs for the theory of operation)."""

    def __init__(self, params: PacingParams, *, now: float = 0.0) -> None:
        self.params = params.checked()
        self.stats = OutcomeStats()
        self.budget = AbandonBudget(
            params.abandon_cap, params.window_s, start=now, warmup=params.warmup_answers
        )
        self.controller = OverDialController()
        self.agents: dict[str, Agent] = {}
        self.calls: dict[int, Call] = {}
        self._free: dict[str, None] = {}  # ordered: longest free first
        self._wrapping: dict[str, float] = {}  # unreserved agents in wrap-up -> wrap start
        # Kept by _refresh, so counters() reads sizes instead of scanning every agent.
        self._ready: set[str] = set()
        self._held: set[str] = set()
        self._in_flight: dict[int, Call] = {}
        self._waiting: dict[int, Call] = {}
        self._connecting: dict[int, Call] = {}
        self._orphans: dict[int, Call] = {}
        self._out: list[Decision] = []
        self._next_id = 1
        self._no_launch_until = -1e300
        self._gate_open = True
        self._last_now = now
        self._last_plan = -1e300
        self._plan_dirty = True
        self._allowance = 0
        self.answered_total = 0
        self.connected_total = 0
        self.abandoned_total = 0
        self._connect_lost = 0  # connects that ended abandoned (failed, timed out, hung up)

    # ---------------------------------------------------------------- configuration
    def configure(self, params: PacingParams, now: float) -> None:
        """Live change (mode, cap, ratio, …). Raises ``PacingParamsError`` if invalid.

        Dials already out are never cancelled (they ring their full time); switching
        away from predictive makes every reserved dial guaranteed from now on.
        """
        params = params.checked()
        old = self.params
        self.params = params
        if params.abandon_window != old.abandon_window:
            # Keep the answers it has; the engine re-seeds the longer window from the store.
            kept = self.budget.answers()
            self.budget = AbandonBudget(
                params.abandon_cap, params.window_s, start=now, warmup=params.warmup_answers
            )
            self.budget.seed(kept, now)
        elif params.abandon_cap != old.abandon_cap:
            self.budget.set_cap(params.abandon_cap)
        if params.mode != "predictive":
            for c in self._in_flight.values():
                if c.agent is not None:
                    c.guaranteed = True
        self._plan_dirty = True
        self._last_now = max(self._last_now, now)

    # ---------------------------------------------------------------- events
    def handle(self, event: Event, now: float) -> None:
        """Feed one event. Decisions it causes come out of the next :meth:`poll`."""
        self._last_now = max(self._last_now, now)
        self._plan_dirty = True
        if isinstance(event, AgentChanged):
            self._agent_changed(event, now)
        elif isinstance(event, PreviewRequested):
            self._preview(event.agent, now)
        elif isinstance(event, AnswerHistory):
            offset = now - event.wall_now
            answers = [(t + offset, a) for t, a in event.answers]
            if event.until is not None:  # before the cut from the store, after it our own
                cut = event.until + offset
                answers = [x for x in answers if x[0] < cut]
                answers += [x for x in self.budget.answers() if x[0] >= cut]
            self.budget.seed(answers, now)
        elif isinstance(event, UnseenAnswer):
            self.budget.add(event.at - event.wall_now + now, now, abandoned=event.abandoned)
        elif isinstance(event, LaunchGate):
            if event.open and not self._gate_open:
                self._no_launch_until = -1e300  # refusals while it closed were not "no contact"
            self._gate_open = event.open
        else:
            call = self.calls.get(event.call)
            if call is None:
                raise PacingProtocolError(
                    f"{type(event).__name__}: unknown call {event.call} (never launched or done)"
                )
            if isinstance(event, Launched):
                if call.step("Launched"):
                    call.launched_at = now
            elif isinstance(event, Ringing):
                if call.step("Ringing"):
                    call.ringing_at = now
            elif isinstance(event, Answered):
                self._answered(call, now)
            elif isinstance(event, Failed):
                if event.reason not in FAIL_REASONS:
                    raise PacingProtocolError(
                        f"Failed: call {event.call}: unknown reason {event.reason!r}"
                    )
                self._failed(call, now, "failed")
            elif isinstance(event, CouldNotLaunch):
                self._failed(call, now, "no_contact")
            elif isinstance(event, Connected | ConnectFailed) and call.state == "messaging":
                if call.connect_at is None:
                    raise PacingProtocolError(
                        f"call {call.id}: {type(event).__name__} but it was never connected"
                    )
                # the transfer's late outcome: the call already hears the message
            elif isinstance(event, Connected):
                if call.step("Connected"):
                    self._connecting.pop(call.id, None)
                    call.connected_at = now
                    self._resolved(abandoned=False, now=now)
            elif isinstance(event, ConnectFailed):
                self._connect_failed(call, now)
            elif isinstance(event, Ended):
                self._ended(call, now)
            else:  # pragma: no cover - the union is exhaustive
                raise PacingProtocolError(f"unknown event {event!r}")

    def _agent_changed(self, ev: AgentChanged, now: float) -> None:
        if ev.state not in AGENT_STATES:
            raise PacingProtocolError(
                f"AgentChanged: agent {ev.agent!r}: unknown state {ev.state!r}"
            )
        a = self.agents.get(ev.agent)
        if a is None:
            a = self.agents[ev.agent] = Agent(ev.agent, "offline", now)
        if ev.state == a.state:
            return
        if a.state == "wrap" and ev.state == "ready":
            self.stats.wrap(now - a.since)
        a.state = ev.state
        a.since = now
        if a.reserved_for is not None:
            keep = ev.state == "ready" or (ev.state == "wrap" and self.params.dial_ahead_wrap)
            if not keep:
                self._lose_reservation(a, now)
        self._refresh(a)

    def _preview(self, agent_id: str, now: float) -> None:
        if self.params.mode != "preview":
            raise PacingError(
                f"preview request from agent {agent_id!r}: campaign mode is {self.params.mode}"
            )
        if not self._gate_open:
            raise PacingError(f"preview request from agent {agent_id!r}: new dials are held")
        a = self.agents.get(agent_id)
        if a is None or agent_id not in self._free:
            state = "unknown" if a is None else a.state
            raise PacingError(
                f"preview request from agent {agent_id!r}: agent is not free (state {state})"
            )
        self._launch(a, now, guaranteed=True)

    def _answered(self, c: Call, now: float) -> None:
        was_in_flight = c.in_flight
        if not c.step("Answered"):
            return
        c.answered_at = now
        self.answered_total += 1
        if was_in_flight:
            self._in_flight.pop(c.id, None)
            self._orphans.pop(c.id, None)
        self.stats.answered(now - c.started_at)
        held = self.agents[c.agent] if c.agent is not None else None
        if held is not None and held.state == "ready":
            self._connect(c, held, now)
            return
        # no agent, or the reserved one still in wrap-up (dial-ahead): any free agent now
        a = self._take_free() or self._steal(now)
        if a is not None:
            if held is not None:
                self._release(c, held, "moved")
            self._connect(c, a, now)
        elif self.params.hold_s > 0:
            c.step("hold")  # keeping any reservation: connects when that agent is ready
            self._waiting[c.id] = c
        else:
            if held is not None:
                self._release(c, held, "no_agent")
            self._message(c, now)

    def _failed(self, c: Call, now: float, why: ReleaseReason) -> None:
        step: Step = "CouldNotLaunch" if why == "no_contact" else "Failed"
        if not c.step(step):
            return
        self._in_flight.pop(c.id, None)
        self._orphans.pop(c.id, None)
        if why == "no_contact":
            self._no_launch_until = now + self.params.no_contact_backoff_s
        else:
            start = c.started_at
            self.stats.failed(now - start)
            pre = (c.ringing_at if c.ringing_at is not None else now) - start
            self.stats.attempt(
                RingSample(pre, c.ringing_at is not None, None, c.ring_timeout_s, 0.0)
            )
        if c.agent is not None:
            a = self.agents[c.agent]
            a.reserved_for = None
            self._out.append(Release(c.id, a.id, why))
            self._refresh(a)
        del self.calls[c.id]

    def _connect_failed(self, c: Call, now: float) -> None:
        agent_id = c.agent
        if not c.step("ConnectFailed"):
            return
        self._connect_gone(c, agent_id, now, "agent_lost")

    def _connect_gone(self, c: Call, agent_id: str | None, now: float, why: MessageReason) -> None:
        """The connect to ``agent_id`` failed or timed out: the message, agent paused."""
        self._connecting.pop(c.id, None)
        if agent_id is not None:
            a = self.agents[agent_id]
            if a.on_call == c.id:
                a.on_call = None
            a.state = "paused"  # not reservable until the desktop reports again
            a.since = now
            self._refresh(a)
        self._out.append(PlayMessage(c.id, why))
        self.abandoned_total += 1
        self._connect_lost += 1
        self._resolved(abandoned=True, now=now)

    def _ended(self, c: Call, now: float) -> None:
        prev = c.state
        if not c.step("Ended"):
            return
        self._waiting.pop(c.id, None)
        self._connecting.pop(c.id, None)
        if prev in ("waiting", "connecting"):
            # the callee hung up before reaching an agent: counted as abandoned
            self.abandoned_total += 1
            if prev == "connecting":
                self._connect_lost += 1
            self._resolved(abandoned=True, now=now)
        if prev == "waiting" and c.agent is not None:
            held = self.agents[c.agent]
            if held.reserved_for == c.id:
                self._release(c, held, "failed")
        start = c.started_at
        talk = 0.0
        if prev == "connected" and c.connected_at is not None:
            talk = now - c.connected_at
            self.stats.talk(talk)
        if c.answered_at is not None:
            ring_start = c.ringing_at if c.ringing_at is not None else c.answered_at
            self.stats.attempt(
                RingSample(
                    ring_start - start, True, c.answered_at - ring_start, c.ring_timeout_s, talk
                )
            )
        if c.agent is not None:
            a = self.agents.get(c.agent)
            if a is not None and a.on_call == c.id:
                a.on_call = None
                self._refresh(a)
        del self.calls[c.id]

    # ---------------------------------------------------------------- poll
    def poll(self, now: float, *, launch_limit: int | None = None) -> list[Decision]:
        """Decide what to do now; act on every decision, in order.

        ``launch_limit``: at most this many new dials (the engine's admission control,
        :mod:`dialguard.pacing.admission`); agents left free are dialled for at a later
        poll. Connects, messages and reservations are never limited."""
        self._last_now = max(self._last_now, now)
        hold = self.params.hold_s
        # 0. the backstop: connects not confirmed by the connect deadline
        if self._connecting:
            deadline = self.params.connect_deadline_s
            for c in list(self._connecting.values()):
                assert c.answered_at is not None
                if now >= c.answered_at + deadline - 1e-9:
                    c.step("timeout")
                    self._connect_gone(c, c.agent, now, "connect_timeout")
        # 1. answered calls waiting for an agent
        any_free = True
        for c in list(self._waiting.values()):
            held = self.agents[c.agent] if c.agent is not None else None
            if held is not None and held.state == "ready":
                del self._waiting[c.id]
                self._connect(c, held, now)
                continue
            a = (self._take_free() or self._steal(now)) if any_free else None
            if a is None:
                any_free = False
                continue
            if held is not None:
                self._release(c, held, "moved")
            del self._waiting[c.id]
            self._connect(c, a, now)
        for c in list(self._waiting.values()):
            assert c.answered_at is not None
            if now >= c.answered_at + hold - 1e-9:
                del self._waiting[c.id]
                if c.agent is not None:
                    self._release(c, self.agents[c.agent], "no_agent")
                self._message(c, now)
        # 2. guaranteed calls whose agent vanished
        for c in list(self._orphans.values()):
            a = self._take_free()
            if a is None:
                break
            del self._orphans[c.id]
            self._reserve(a, c)
            self._out.append(Reserve(c.id, a.id))
        # 3. new dials
        mode = self.params.mode
        if mode != "preview" and self._gate_open and now >= self._no_launch_until:
            over_dial = mode == "predictive" and self._over_dial_open(now)
            guaranteed = not over_dial
            room = len(self.calls) + (launch_limit if launch_limit is not None else 1 << 30)
            for agent_id in list(self._free):
                if len(self.calls) >= room:
                    break
                self._launch(self.agents[agent_id], now, guaranteed=guaranteed)
            cap = self.params.wrap_up_cap_s
            if self.params.dial_ahead_wrap and self._wrapping and cap is not None:
                lead = self.dial_ahead_lead()
                if lead > 0:
                    edge = cap - lead
                    for agent_id, since in list(self._wrapping.items()):
                        if len(self.calls) >= room:
                            break
                        if now >= since + edge:
                            self._launch(self.agents[agent_id], now, guaranteed=guaranteed)
            if over_dial and len(self.calls) < room:
                self._over_dial(now, room - len(self.calls))
            else:
                self._allowance = 0
        out, self._out = self._out, []
        return out

    def next_deadline(self) -> float | None:
        """When :meth:`poll` must next run even if no event arrives (None: not needed)."""
        times: list[float] = []
        hold = self.params.hold_s
        for c in self._waiting.values():
            assert c.answered_at is not None
            times.append(c.answered_at + hold)
            break  # oldest first: the earliest deadline
        if self._connecting:
            deadline = self.params.connect_deadline_s
            times.append(min(c.answered_at or 0.0 for c in self._connecting.values()) + deadline)
        auto = self.params.mode != "preview" and self._gate_open
        if auto and self._no_launch_until > self._last_now and (self._free or self._wrapping):
            times.append(self._no_launch_until)
        cap = self.params.wrap_up_cap_s
        if auto and self.params.dial_ahead_wrap and self._wrapping and cap is not None:
            lead = self.dial_ahead_lead()
            if lead > 0:
                times.append(min(self._wrapping.values()) + cap - lead)
        if self._in_flight and self._over_dial_open(self._last_now):
            times.append(max(self._last_plan + _REPLAN_S, self._last_now))
        return min(times) if times else None

    # ---------------------------------------------------------------- predictive
    def _over_dial_open(self, now: float) -> bool:
        return (
            self.params.mode == "predictive"
            and OVER_DIAL_ALLOWED[self.budget.state(now)]
            and self.stats.warm
        )

    def _over_dial(self, now: float, limit: int) -> None:
        if now < self._last_plan + (_REPLAN_S if not self._plan_dirty else _MIN_REPLAN_S):
            return
        self._plan_dirty = False
        self._last_plan = now
        stats = self.stats
        table = stats.p_after_table()
        last = len(table) - 1
        mean = float(len(self._waiting))
        var = 0.0
        for c in self._in_flight.values():
            start = c.started_at
            e = int(now - start)
            p = table[e if e < last else last]
            mean += p
            var += p * (1 - p)
        horizon = stats.median_answer_s * _HORIZON
        supply = 0.0
        active = 0
        on_calls = 0
        cap = self.params.wrap_up_cap_s
        if stats.wrap_n:
            wrap_mean = stats.wrap_mean if cap is None else min(stats.wrap_mean, cap)
        else:
            wrap_mean = cap if cap is not None else _UNKNOWN_WRAP_S
        p_busy = free_within(horizon, talk_mean_s=stats.talk_mean, wrap_mean_s=wrap_mean)
        wrap_done_by = now + horizon - wrap_mean  # wrap-ups started before this end in time
        for a in self.agents.values():
            st = a.state
            if st == "paused" or st == "offline":
                continue
            active += 1
            if a.on_call is not None:
                on_calls += 1
                if st == "busy":
                    supply += p_busy
            elif st == "ready" or (st == "wrap" and a.since <= wrap_done_by):
                supply += 1.0
        # dial ratio as VICIdial's dial level: calls out (ringing, waiting, on an agent)
        # per active agent (ready or on a call)
        calls_out = len(self._in_flight) + len(self._waiting) + on_calls
        ceiling = int(self.params.max_dial_ratio * active) - calls_out
        # brake at once when the budget tightens (the controller alone reacts slowly)
        allowed = self.budget.allowed_rate(now)
        z = self.controller.z + _BRAKE * (1 - allowed / self.budget.target_rate)
        n = dials_allowed(mean, var, stats.answer_rate, supply, z, ceiling)
        self._allowance = n
        n = min(n, limit)
        for _ in range(n):
            c = self._new_call(None, now, guaranteed=False)
            c.lost_reason = "over_dial"

    def _steal(self, now: float) -> Agent | None:
        """Predictive only: lend the agent of a non-guaranteed call still in flight."""
        if self.params.mode != "predictive":
            return None
        for c in self._in_flight.values():
            if c.agent is None or c.guaranteed:
                continue
            a = self.agents[c.agent]
            if a.state != "ready":
                continue
            a.reserved_for = None
            self._out.append(Release(c.id, a.id, "moved"))
            c.agent = None
            c.lost_reason = "no_agent"
            return a
        return None

    # ---------------------------------------------------------------- helpers
    def _resolved(self, *, abandoned: bool, now: float) -> None:
        rate = self.budget.allowed_rate(now) if self._over_dial_open(now) else 0.0
        self.budget.record(now, abandoned=abandoned)
        if rate > 0:
            self.controller.observe(abandoned=abandoned, target_rate=rate)

    def dial_ahead_lead(self) -> float:
        """How long before an agent's wrap-up cap a call may be dialled for them.

        Below the hold time, whatever the answer-time statistics say: a call answered at
        once waits for the (engine-enforced) cap at most ``lead`` < hold, so it reaches
        its reserved agent — the promise does not rest on a learned quantile.
        """
        if not self.params.dial_ahead_wrap or self.params.wrap_up_cap_s is None:
            return 0.0
        return max(0.0, self.params.hold_s - _AHEAD_MARGIN_S)

    def ring_timeout(self) -> float:
        """The ring timeout new dials get (learned if allowed; never below 15 s)."""
        p = self.params
        if not p.learn_ring_timeout:
            return p.ring_timeout_s
        return self.stats.suggested_ring_timeout(p.ring_timeout_s)

    def _new_call(self, agent: Agent | None, now: float, *, guaranteed: bool) -> Call:
        cid = self._next_id
        self._next_id += 1
        timeout = self.ring_timeout()
        c = Call(cid, agent.id if agent else None, guaranteed, now, timeout)
        self.calls[cid] = c
        self._in_flight[cid] = c
        if agent is not None:
            self._reserve(agent, c)
        self._out.append(Launch(cid, c.agent, timeout, guaranteed))
        return c

    def _launch(self, a: Agent, now: float, *, guaranteed: bool) -> None:
        self._new_call(a, now, guaranteed=guaranteed)

    def _reserve(self, a: Agent, c: Call) -> None:
        assert a.reserved_for is None and a.on_call is None, f"agent {a.id} already held"
        a.reserved_for = c.id
        c.agent = a.id
        self._refresh(a)

    def _take_free(self) -> Agent | None:
        for agent_id in self._free:
            a = self.agents[agent_id]
            return a
        return None

    def _connect(self, c: Call, a: Agent, now: float) -> None:
        assert a.state == "ready", f"connect to agent {a.id} in state {a.state}"
        c.step("connect")
        a.reserved_for = None
        a.on_call = c.id
        c.agent = a.id
        c.connect_at = now
        self._connecting[c.id] = c
        self._out.append(Connect(c.id, a.id))
        self.connected_total += 1
        self._refresh(a)

    def _release(self, c: Call, a: Agent, why: ReleaseReason) -> None:
        """End ``a``'s reservation for ``c`` without a connect."""
        a.reserved_for = None
        c.agent = None
        self._out.append(Release(c.id, a.id, why))
        self._refresh(a)

    def _message(self, c: Call, now: float) -> None:
        c.step("message")
        reason: MessageReason = c.lost_reason or "no_agent"
        self._out.append(PlayMessage(c.id, reason))
        self.abandoned_total += 1
        self._resolved(abandoned=True, now=now)

    def _lose_reservation(self, a: Agent, now: float) -> None:
        cid = a.reserved_for
        assert cid is not None
        c = self.calls[cid]
        a.reserved_for = None
        c.agent = None
        c.lost_reason = "agent_lost"
        self._out.append(Release(c.id, a.id, "agent_lost"))
        self._refresh(a)
        b = self._take_free()
        if b is not None:
            self._reserve(b, c)
            self._out.append(Reserve(c.id, b.id))
        elif c.guaranteed and c.in_flight:
            self._orphans[c.id] = c  # (an answered call waiting just keeps waiting)

    def _refresh(self, a: Agent) -> None:
        """Keep the free and wrapping indexes in step with the agent's record."""
        if a.state == "ready":
            self._ready.add(a.id)
        else:
            self._ready.discard(a.id)
        if a.reserved_for is not None:
            self._held.add(a.id)
        else:
            self._held.discard(a.id)
        idle = a.reserved_for is None and a.on_call is None
        if idle and a.state == "ready":
            self._free.setdefault(a.id, None)
        else:
            self._free.pop(a.id, None)
        if idle and a.state == "wrap":
            self._wrapping.setdefault(a.id, a.since)
        else:
            self._wrapping.pop(a.id, None)

    # ---------------------------------------------------------------- reading
    def counters(self, now: float) -> PacerCounters:
        view = self.budget.view(now)
        ready = len(self._ready)
        held = len(self._held)
        # agents are held only by calls in flight or answered and waiting
        over = len(self._in_flight) - held + sum(1 for c in self._waiting.values() if c.agent)
        return PacerCounters(
            mode=self.params.mode,
            agents_ready=ready,
            agents_free=len(self._free),
            reservations_held=held,
            dials_in_flight=len(self._in_flight),
            over_dials_in_flight=over,
            answered_waiting=len(self._waiting),
            answered_total=self.answered_total,
            connected_total=self.connected_total,
            abandoned_total=self.abandoned_total,
            window_answered=view.answered,
            window_abandoned=view.abandoned,
            abandon_rate_window=view.rate,
            governor_state=view.state,
            allowed_abandon_rate=view.allowed_rate,
            dial_level=len(self._in_flight) / max(1, ready),
            over_dial_allowance=self._allowance,
            ring_timeout_s=self.ring_timeout(),
            dial_ahead_lead_s=self.dial_ahead_lead(),
            risk_z=self.controller.z,
        )

    def reservations(self) -> dict[str, int]:
        """agent → call it is held for (a copy, for tests and the status view)."""
        return {a.id: a.reserved_for for a in self.agents.values() if a.reserved_for is not None}

    def on_calls(self) -> dict[str, int]:
        """agent → call it is connected to or connecting (a copy)."""
        return {a.id: a.on_call for a in self.agents.values() if a.on_call is not None}

    def call(self, call_id: int) -> Call | None:
        """A copy of one call's bookkeeping; None once the pacer has forgotten it."""
        c = self.calls.get(call_id)
        return None if c is None else replace(c)

    def agent(self, agent_id: str) -> Agent | None:
        """A copy of the pacer's view of one agent; None if never reported."""
        a = self.agents.get(agent_id)
        return None if a is None else replace(a)

    def tracked_calls(self) -> int:
        """Calls the pacer still tracks (launched or placed, not yet ended)."""
        return len(self.calls)

    def in_flight(self) -> dict[int, Call]:
        """Calls that may still be answered (a copy)."""
        return dict(self._in_flight)

    def waiting(self) -> dict[int, Call]:
        """Answered calls waiting for an agent (a copy)."""
        return dict(self._waiting)

    # ---------------------------------------------------------------- self-check
    def check_invariants(self) -> None:
        """Check the ledgers against each other; raise :class:`PacerInvariantError`.

        TigerBeetle style: cheap enough to run after every ``poll`` in tests and in the
        simulator. Each check is one thing the guarantee's argument (module docs) rests on.
        """

        def fail(msg: str) -> None:
            raise PacerInvariantError(msg)

        calls = self.calls
        for aid, a in self.agents.items():
            if a.id != aid:
                fail(f"agent {aid}: record names {a.id}")
            if a.reserved_for is not None and a.on_call is not None:
                fail(f"agent {aid}: reserved for {a.reserved_for} and on call {a.on_call}")
            if a.reserved_for is not None:
                c = calls.get(a.reserved_for)
                if c is None or c.agent != aid:
                    fail(f"agent {aid}: reserved for call {a.reserved_for} which is not its")
                elif not (c.in_flight or c.state == "waiting"):
                    fail(f"agent {aid}: reserved for call {c.id} in state {c.state}")
                if a.state not in ("ready", "wrap"):
                    fail(f"agent {aid}: reserved while {a.state}")
            if a.on_call is not None:
                c = calls.get(a.on_call)
                if c is None or c.agent != aid:
                    fail(f"agent {aid}: on call {a.on_call} which is not its")
                elif c.state not in ("connecting", "connected"):
                    fail(f"agent {aid}: on call {c.id} in state {c.state}")
            idle = a.reserved_for is None and a.on_call is None
            if (aid in self._free) != (idle and a.state == "ready"):
                fail(f"agent {aid}: free index says {aid in self._free}, record {a}")
            if (aid in self._wrapping) != (idle and a.state == "wrap"):
                fail(f"agent {aid}: wrapping index says {aid in self._wrapping}, record {a}")
            if aid in self._wrapping and self._wrapping[aid] != a.since:
                fail(f"agent {aid}: wrap start {self._wrapping[aid]} ≠ {a.since}")
            if (aid in self._ready) != (a.state == "ready"):
                fail(f"agent {aid}: ready index says {aid in self._ready}, record {a}")
            if (aid in self._held) != (a.reserved_for is not None):
                fail(f"agent {aid}: held index says {aid in self._held}, record {a}")
        indexes: dict[str, tuple[dict[int, Call], frozenset[str]]] = {
            "in_flight": (self._in_flight, IN_FLIGHT),
            "waiting": (self._waiting, frozenset({"waiting"})),
            "connecting": (self._connecting, frozenset({"connecting"})),
        }
        for name, (index, states) in indexes.items():
            want = {cid for cid, c in calls.items() if c.state in states}
            if set(index) != want:
                fail(f"{name} index {sorted(index)} ≠ calls in that state {sorted(want)}")
            for cid, c in index.items():
                if calls.get(cid) is not c:
                    fail(f"{name} index: call {cid} is not the ledger's record")
        for cid, c in calls.items():
            if c.id != cid or cid >= self._next_id:
                fail(f"call {cid}: bad id {c.id} (next {self._next_id})")
            if c.state in ("answered", "done"):
                fail(f"call {cid}: left in transient state {c.state}")
            if c.agent is not None and (c.in_flight or c.state == "waiting"):
                held = self.agents.get(c.agent)
                if held is None or held.reserved_for != cid:
                    fail(f"call {cid}: holds agent {c.agent} who is not reserved for it")
            if c.state in ("connecting", "connected"):
                on = self.agents.get(c.agent) if c.agent is not None else None
                if on is None or on.on_call != cid:
                    fail(f"call {cid}: {c.state} but its agent {c.agent} is not on it")
            if c.in_flight and c.guaranteed and c.agent is None and cid not in self._orphans:
                fail(f"call {cid}: guaranteed, in flight, no agent and not an orphan")
        for cid, c in self._orphans.items():
            if calls.get(cid) is not c or not c.in_flight or c.agent is not None:
                fail(f"orphan {cid}: not an agentless call in flight ({c})")
        k = self.counters(self._last_now)  # incremental, against the same figures scanned
        kept = (k.agents_ready, k.reservations_held, k.over_dials_in_flight)
        scanned = (
            sum(1 for a in self.agents.values() if a.state == "ready"),
            sum(1 for a in self.agents.values() if a.reserved_for is not None),
            sum(1 for c in self._in_flight.values() if c.agent is None),
        )
        if kept != scanned:
            fail(f"counters (ready, held, over) {kept} ≠ scanned {scanned}")
        counts = (self.answered_total, self.connected_total, self.abandoned_total)
        if min(*counts, self._connect_lost) < 0:
            fail(f"negative counter: {counts}, connect_lost {self._connect_lost}")
        # every answer is connected, abandoned, or still waiting; a connect that ended
        # abandoned counts in both
        resolved = self.connected_total + self.abandoned_total - self._connect_lost
        if self.answered_total != resolved + len(self._waiting):
            fail(
                f"answered {self.answered_total} ≠ connected {self.connected_total} + abandoned "
                f"{self.abandoned_total} − lost connects {self._connect_lost} + waiting "
                f"{len(self._waiting)}"
            )
