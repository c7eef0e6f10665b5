"""Property test: guaranteed pacing under random interleavings keeps its promises.

Hypothesis drives a progressive/preview pacer with random agent state changes (including
agents vanishing while reserved), call outcomes, clock steps and live config changes,
playing the engine: it acts on every decision. After every step:

- no agent is reserved for two calls, and no call holds two agents;
- no reservation leaks: every held agent belongs to a call still in flight, and every
  call in flight holds its agent unless that call's agent vanished (an orphan);
- an answered call whose agent did not vanish and is ready is connected in the same
  poll; ``Connect`` only ever names an agent last reported ready;
- the information message (an abandoned call) is only ever played for a call whose
  agent vanished, whose reserved agent was still in wrap-up at the answer and stayed
  there for the hold time, or whose connect was not confirmed by the connect deadline
  (never for "over-dial" in guaranteed mode);
- ``Pacer.check_invariants()`` holds (the pacer's own ledger checks).
Everything goes through the pacer's public API.
"""

from __future__ import annotations

from dataclasses import replace

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from dialguard.pacing import (
    AgentChanged,
    Answered,
    Connect,
    Connected,
    ConnectFailed,
    CouldNotLaunch,
    Decision,
    Ended,
    Failed,
    Launch,
    Launched,
    LaunchGate,
    Pacer,
    PacingError,
    PacingParams,
    PlayMessage,
    PreviewRequested,
    Release,
    Reserve,
    Ringing,
)
from dialguard.pacing.calls import IN_FLIGHT

AGENTS = [f"a{i}" for i in range(5)]
STATES = ["ready", "busy", "wrap", "paused", "offline"]


class GuaranteedPacing(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0
        self.params = PacingParams(mode="progressive", dial_ahead_wrap=True, wrap_up_cap_s=10.0)
        self.pacer = Pacer(self.params)
        self.launching: set[int] = set()
        self.ringing: set[int] = set()  # launched or ringing
        self.connecting: set[int] = set()
        self.connected: set[int] = set()
        self.messaging: set[int] = set()
        self.waiting: set[int] = set()
        self.lost: set[int] = set()  # calls whose agent vanished at some point
        self.agent_of: dict[int, str] = {}  # connected/connecting call -> agent
        self.state_of: dict[str, str] = {}  # agent -> last state the pacer was told/set
        self.answered_at: dict[int, float] = {}
        self.held_in_wrap: set[int] = set()  # answered while the reserved agent wrapped
        self.timed_out: set[int] = set()  # connect not confirmed by the deadline
        self.gate_open = True

    # ------------------------------------------------------------ engine side
    def act(self, decisions: list[Decision]) -> None:
        for d in decisions:
            if isinstance(d, Launch):
                assert self.gate_open, f"{d} while new dials are held"
                assert d.guaranteed and d.agent is not None, d
                assert d.ring_timeout_s >= 15
                self.launching.add(d.call)
            elif isinstance(d, Connect):
                busy_agents = set(self.agent_of.values())
                assert d.agent not in busy_agents, f"{d.agent} connected twice"
                assert self.state_of.get(d.agent) == "ready", (d, self.state_of.get(d.agent))
                self.waiting.discard(d.call)
                self.connecting.add(d.call)
                self.agent_of[d.call] = d.agent
            elif isinstance(d, PlayMessage):
                if d.reason == "agent_lost":
                    assert d.call in self.lost, d
                elif d.reason == "no_agent":
                    assert d.call in self.held_in_wrap | self.lost, d
                    assert self.now >= self.answered_at[d.call] + self.params.hold_s - 1e-9
                else:
                    assert d.reason == "connect_timeout" and d.call in self.connecting, d
                    deadline = self.answered_at[d.call] + self.params.connect_deadline_s
                    assert self.now >= deadline - 1e-9, d
                    self.timed_out.add(d.call)
                    self.state_of[self.agent_of[d.call]] = "paused"
                self.waiting.discard(d.call)
                self.connecting.discard(d.call)
                self.agent_of.pop(d.call, None)
                self.messaging.add(d.call)
            elif isinstance(d, Release) and d.reason == "agent_lost":
                self.lost.add(d.call)
            elif isinstance(d, Reserve | Release):
                pass

    def poll(self) -> list[Decision]:
        out = self.pacer.poll(self.now)
        self.act(out)
        return out

    # ------------------------------------------------------------ rules
    @rule(agent=st.sampled_from(AGENTS), state=st.sampled_from(STATES))
    def agent_changes(self, agent: str, state: str) -> None:
        self.pacer.handle(AgentChanged(agent, state), self.now)  # type: ignore[arg-type]
        self.state_of[agent] = state
        self.poll()

    @rule(open_=st.booleans())
    def gate(self, open_: bool) -> None:
        self.pacer.handle(LaunchGate(open=open_), self.now)
        self.gate_open = open_
        self.poll()

    @rule(dt=st.floats(0.0, 30.0))
    def time_passes(self, dt: float) -> None:
        self.now += dt
        self.poll()

    @precondition(lambda self: self.launching)
    @rule(data=st.data(), ok=st.booleans())
    def launch_result(self, data: st.DataObject, ok: bool) -> None:
        call = data.draw(st.sampled_from(sorted(self.launching)))
        self.launching.discard(call)
        if ok:
            self.pacer.handle(Launched(call), self.now)
            self.ringing.add(call)
        else:
            self.pacer.handle(CouldNotLaunch(call), self.now)
        self.poll()

    @precondition(lambda self: self.ringing)
    @rule(data=st.data(), outcome=st.sampled_from(["ring", "answer", "busy", "no_answer"]))
    def progress(self, data: st.DataObject, outcome: str) -> None:
        call = data.draw(st.sampled_from(sorted(self.ringing)))
        if outcome == "ring":
            self.pacer.handle(Ringing(call), self.now)
            self.poll()
            return
        self.ringing.discard(call)
        if outcome == "answer":
            placed = self.pacer.call(call)
            assert placed is not None, call
            held = placed.agent
            self.answered_at[call] = self.now
            if held is not None and self.state_of.get(held) == "wrap":
                self.held_in_wrap.add(call)
            self.pacer.handle(Answered(call), self.now)
            out = self.poll()
            connected = [d for d in out if isinstance(d, Connect) and d.call == call]
            if held is not None and self.state_of.get(held) == "ready":
                assert connected, f"answered call {call} with a ready agent was not connected"
            if not connected and call not in self.messaging:
                assert call in self.lost | self.held_in_wrap
                self.waiting.add(call)
        else:
            self.pacer.handle(Failed(call, outcome), self.now)  # type: ignore[arg-type]
            self.poll()

    @precondition(lambda self: self.connecting)
    @rule(data=st.data(), ok=st.booleans())
    def transfer_result(self, data: st.DataObject, ok: bool) -> None:
        call = data.draw(st.sampled_from(sorted(self.connecting)))
        self.connecting.discard(call)
        if ok:
            self.pacer.handle(Connected(call), self.now)
            self.connected.add(call)
        else:
            self.lost.add(call)
            self.state_of[self.agent_of.pop(call)] = "paused"
            self.pacer.handle(ConnectFailed(call), self.now)
        self.poll()

    @precondition(lambda self: self.timed_out)
    @rule(data=st.data(), ok=st.booleans())
    def late_transfer_result(self, data: st.DataObject, ok: bool) -> None:
        """A transfer's outcome after the pacer gave up on it: tolerated, no effect."""
        call = data.draw(st.sampled_from(sorted(self.timed_out)))
        before = self.pacer.counters(self.now)
        if self.pacer.call(call) is not None:
            self.pacer.handle(Connected(call) if ok else ConnectFailed(call), self.now)
        after = self.pacer.counters(self.now)
        assert (before.abandoned_total, before.connected_total) == (
            after.abandoned_total,
            after.connected_total,
        )
        self.poll()

    @precondition(lambda self: self.connected or self.messaging)
    @rule(data=st.data())
    def call_ends(self, data: st.DataObject) -> None:
        call = data.draw(st.sampled_from(sorted(self.connected | self.messaging)))
        self.connected.discard(call)
        self.messaging.discard(call)
        self.agent_of.pop(call, None)
        self.pacer.handle(Ended(call), self.now)
        self.poll()

    @rule(agent=st.sampled_from(AGENTS))
    def preview_request(self, agent: str) -> None:
        try:
            self.pacer.handle(PreviewRequested(agent), self.now)
        except PacingError:
            a = self.pacer.agent(agent)
            free = a is not None and a.state == "ready" and a.reserved_for is a.on_call is None
            assert self.params.mode != "preview" or not free or not self.gate_open
        else:
            assert self.params.mode == "preview" and self.gate_open
        self.poll()

    @rule(mode=st.sampled_from(["progressive", "preview"]), ahead=st.booleans())
    def reconfigure(self, mode: str, ahead: bool) -> None:
        self.params = replace(self.params, mode=mode, dial_ahead_wrap=ahead)  # type: ignore[arg-type]
        self.pacer.configure(self.params, self.now)
        self.poll()

    # ------------------------------------------------------------ invariants
    @invariant()
    def one_call_per_agent_and_one_agent_per_call(self) -> None:
        held = self.pacer.reservations()
        assert len(set(held.values())) == len(held), held
        for agent, call in held.items():
            c = self.pacer.call(call)
            assert c is not None and c.agent == agent, (agent, call, c)

    @invariant()
    def no_leaked_reservation(self) -> None:
        held = self.pacer.reservations()
        for call in held.values():
            # in flight, or answered and waiting for its agent to end wrap-up
            c = self.pacer.call(call)
            assert c is not None and c.state in IN_FLIGHT | {"waiting"}, call
        for call, c in self.pacer.in_flight().items():
            if c.agent is None:
                assert call in self.lost, f"call {call} in flight without an agent"
            else:
                assert held.get(c.agent) == call

    @invariant()
    def no_agent_on_two_calls(self) -> None:
        on = list(self.pacer.on_calls().values())
        assert len(on) == len(set(on))

    @invariant()
    def abandoned_only_for_a_reason(self) -> None:
        reasons = self.lost | self.held_in_wrap | self.timed_out
        assert self.pacer.abandoned_total <= len(reasons)

    @invariant()
    def nobody_waits_past_the_deadlines(self) -> None:
        """After a poll, no answered call is still waiting past the hold time, or still
        connecting past the connect deadline (the backstop played the message)."""
        for call in self.connecting:
            assert self.now < self.answered_at[call] + self.params.connect_deadline_s, call
        for call in self.waiting:
            assert self.now < self.answered_at[call] + self.params.hold_s, call

    @invariant()
    def the_pacers_own_ledger_checks_hold(self) -> None:
        self.pacer.check_invariants()


GuaranteedPacing.TestCase.settings = settings(
    max_examples=150, stateful_step_count=60, deadline=None
)
test_guaranteed_pacing = GuaranteedPacing.TestCase
