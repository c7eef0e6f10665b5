"""``vicidial-adapt``: a comparator reproducing VICIdial's published ADAPT_HARD_LIMIT.

Written from the behaviour the issue describes (not from VICIdial's code): every 15 s
the dial level ``L`` becomes ``L·(1 + m')`` where ``m'`` is the mean over the last 15
samples of (ready agents − calls waiting for an agent) divided by logged-in agents
(intensity 0), clamped to [1, 3]; once the day's drop rate exceeds the limit after 50
answered calls, ``L`` drops to 1.0 and stays there while the rate is over. Calls wanted
= round(L × (ready + in-call agents)); it dials the difference to the calls it has
(ringing, waiting, connected). Answered calls go to the longest-ready agent; with none
free within the hold time they hear the message (the same 2 s rule as dialguard).

It speaks the same events and decisions as :class:`~dialguard.pacing.Pacer`, so the
simulator runs both on the same seeds.
"""

from __future__ import annotations

from collections import deque

from dialguard.pacing import (
    AgentChanged,
    Answered,
    Connect,
    Connected,
    ConnectFailed,
    CouldNotLaunch,
    Decision,
    Ended,
    Event,
    Failed,
    Launch,
    PlayMessage,
)

ADAPT_EVERY_S = 15.0
SAMPLES = 15
MIN_CALLS = 50


class VicidialAdapt:
    """ADAPT_HARD_LIMIT dial-level controller (see module docs)."""

    def __init__(self, *, drop_limit: float, ring_timeout_s: float, hold_s: float) -> None:
        self.drop_limit = drop_limit
        self.ring_timeout_s = ring_timeout_s
        self.hold_s = hold_s
        self.level = 1.0
        self._state: dict[str, str] = {}
        self._ready: dict[str, None] = {}  # ordered: longest ready first
        self._in_call: set[str] = set()
        self._in_flight: set[int] = set()
        self._waiting: dict[int, float] = {}  # call -> answered at
        self._connected: dict[int, str] = {}
        self._samples: deque[tuple[int, int]] = deque(maxlen=SAMPLES)
        self._next_adapt = ADAPT_EVERY_S
        self._next_id = 1
        self._out: list[Decision] = []
        self.answered = 0
        self.dropped = 0

    def handle(self, event: Event, now: float) -> None:
        if isinstance(event, AgentChanged):
            self._state[event.agent] = event.state
            if event.state == "ready" and event.agent not in self._in_call:
                self._ready.setdefault(event.agent, None)
            else:
                self._ready.pop(event.agent, None)
            return
        call = getattr(event, "call", None)
        if isinstance(event, Answered):
            self._in_flight.discard(event.call)
            self.answered += 1
            self._waiting[event.call] = now
        elif isinstance(event, Failed | CouldNotLaunch):
            self._in_flight.discard(event.call)
        elif isinstance(event, ConnectFailed):
            agent = self._connected.pop(event.call, None)
            if agent:
                self._in_call.discard(agent)
            self.dropped += 1
            self._out.append(PlayMessage(event.call, "agent_lost"))
        elif isinstance(event, Ended):
            self._waiting.pop(event.call, None)
            agent = self._connected.pop(event.call, None)
            if agent is not None:
                self._in_call.discard(agent)
                if self._state.get(agent) == "ready":
                    self._ready.setdefault(agent, None)
        elif isinstance(event, Connected) or call is not None:
            pass

    def poll(self, now: float) -> list[Decision]:
        while now >= self._next_adapt:
            self._adapt()
            self._next_adapt += ADAPT_EVERY_S
        for call in list(self._waiting):
            if not self._ready:
                break
            agent = next(iter(self._ready))
            del self._ready[agent]
            del self._waiting[call]
            self._in_call.add(agent)
            self._connected[call] = agent
            self._out.append(Connect(call, agent))
        for call, at in list(self._waiting.items()):
            if now >= at + self.hold_s - 1e-9:
                del self._waiting[call]
                self.dropped += 1
                self._out.append(PlayMessage(call, "over_dial"))
        active = len(self._ready) + len(self._in_call)
        want = round(self.level * active)
        have = len(self._in_flight) + len(self._waiting) + len(self._connected)
        for _ in range(max(0, want - have)):
            cid = self._next_id
            self._next_id += 1
            self._in_flight.add(cid)
            self._out.append(Launch(cid, None, self.ring_timeout_s, False))
        out, self._out = self._out, []
        return out

    def next_deadline(self) -> float | None:
        times = [self._next_adapt]
        if self._waiting:
            times.append(min(self._waiting.values()) + self.hold_s)
        return min(times)

    def _adapt(self) -> None:
        logged_in = sum(1 for s in self._state.values() if s not in ("offline", "paused"))
        self._samples.append((len(self._ready), len(self._waiting)))
        if self.answered >= MIN_CALLS and self.dropped / self.answered > self.drop_limit:
            self.level = 1.0
            return
        if not logged_in:
            return
        n = len(self._samples)
        mean_ready = sum(s[0] for s in self._samples) / n
        mean_waiting = sum(s[1] for s in self._samples) / n
        m = (mean_ready - mean_waiting) / logged_in
        self.level = min(3.0, max(1.0, self.level * (1 + m)))
