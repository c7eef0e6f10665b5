"""Agent registry: who is ready to take a call, as far as the engine can prove it.

Pure state, no I/O and no clock of its own (``now`` is passed in, like the pacing core):
the broker link feeds it parsed :class:`~dialguard.mqtt.contract.AgentStateMessage` messages
and ticks :meth:`AgentRegistry.expire`. Every method that changes what the pacer may
count returns the :class:`AgentChange` events, which the engine hands to the campaign's
pacer (:meth:`AgentChange.pacer_event`): the pacer, not the registry, reserves agents.
Before each launch the runner asks again whether the reserved agent is still
:meth:`~AgentRegistry.is_available`, so an agent lost since the reservation gets no call.

Fail closed (safeguard 11) is built into what "available" means: an agent is available
only if its last accepted state is ``ready``, it was heard from within ``stale_after_s``,
and the broker link is up and resynchronised. Everything else — will message, silence,
lost broker, a resync that did not re-confirm the agent — makes it unavailable.

Who may be an agent (issue 11): a broker login is not enough. Only ids on the
:class:`~dialguard.config.Roster` are accepted; a state message from anyone else is
:class:`Rejected` (``unknown_agent``) and changes nothing. The groups an agent serves
come from the roster too, never from the message (its ``group`` field is ignored).
A message whose ``ts`` is more than :data:`MAX_CLOCK_SKEW_S` ahead of the engine's wall
clock is rejected (``clock_skew``): believed, it would win every ordering comparison by
``ts`` and lock the agent's later, truthful messages out for as long as it is ahead.

Ordering rules (QoS 1 duplicates, retained replays and desktop restarts all happen):

====================================  ===================================================
incoming vs. current                  result
====================================  ===================================================
same session, higher seq              accepted
same session, same seq, same state    heartbeat: refreshes last-seen only
same session, same seq, other state   rejected (conflict; keep what we have)
same session, lower seq               rejected (stale) — except ``offline``, which is the
                                      will message and ends the session whatever its seq,
                                      and, for desktops that send no session id, a message
                                      with a newer ts (the desktop restarted)
other session, ts ≥ current ts        accepted: the desktop restarted (seq starts again)
other session, ts < current ts        rejected: a late message from an earlier session
====================================  ===================================================
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Literal

from dialguard.config import Roster, RosterEntry
from dialguard.mqtt.contract import AGENT_STATES, AgentStateMessage, AgentStateName, AgentStatus
from dialguard.pacing.events import AgentChanged

ChangeReason = Literal["message", "stale", "link_down", "removed", "wrap_cap"]
RejectReason = Literal["stale_seq", "old_session", "seq_conflict", "unknown_agent", "clock_skew"]

DEFAULT_STALE_AFTER_S: Final = 30.0
MAX_CLOCK_SKEW_S: Final = 30.0
"""How far ahead of the engine's wall clock an agent message's ``ts`` may be. Desktops
keep NTP time within a second; a heartbeat period's worth of slack is generous."""
NO_SESSION: Final = "-"  # AgentStateMessage.session when the desktop sends none


@dataclass(frozen=True, slots=True)
class AgentChange:
    """What the pacer sees change for one agent: its *effective* state (``offline`` when
    stale or when the link is down) before and after, and why."""

    agent: str
    group: str
    old: AgentStateName | None  # None: the engine had never heard of this agent
    new: AgentStateName
    reason: ChangeReason

    def pacer_event(self) -> AgentChanged:
        """The event to hand to ``Pacer.handle`` (stale and lost agents are offline)."""
        return AgentChanged(self.agent, self.new)


@dataclass(frozen=True, slots=True)
class Rejected:
    """A message that did not change anything, and why (the link logs it)."""

    agent: str
    reason: RejectReason
    detail: str


@dataclass(slots=True)
class _Agent:
    state: AgentStateMessage
    last_seen: float
    stale: bool = False
    seen_since_resync: bool = True
    wrap_ended: bool = False  # the engine ended this wrap-up at the campaign's cap


class AgentRegistry:
    """The engine's view of every agent, fed by messages and time."""

    def __init__(self, stale_after_s: float = DEFAULT_STALE_AFTER_S, *, roster: Roster) -> None:
        if stale_after_s <= 0:
            raise ValueError(f"stale_after_s must be > 0, got {stale_after_s!r}")
        self.stale_after_s = stale_after_s
        self.roster = roster
        self._agents: dict[str, _Agent] = {}
        # Until the first resync completes nothing is known for sure: fail closed.
        self._synced = False

    # --- feeding -----------------------------------------------------------------------

    def apply(
        self,
        agent: str,
        msg: AgentStateMessage,
        now: float,
        *,
        age_s: float = 0.0,
        skew_s: float = 0.0,
    ) -> AgentChange | Rejected | None:
        """Take one state message for ``agent`` (the id from the topic).

        ``age_s`` is how old the message already was when it arrived (the link passes
        it for retained copies, from the message's ``ts``), so a retained ``ready`` left
        behind by a desktop that died without a will is not believed as fresh.
        ``skew_s`` is the message's ``ts`` minus the engine's wall clock at arrival.
        Returns the change in effective state, a :class:`Rejected` saying why nothing
        happened, or ``None`` when the message was accepted without a visible change
        (a heartbeat, or busy → busy).
        """
        if msg.agent is not None and msg.agent != agent:
            # messages.parse_payload callers check this too; the registry never trusts it.
            raise ValueError(f"payload agent {msg.agent!r} does not match topic agent {agent!r}")
        member = self.roster.get(agent)
        if member is None:
            return Rejected(agent, "unknown_agent", "not on the agent roster")
        if skew_s > MAX_CLOCK_SKEW_S:
            return Rejected(
                agent,
                "clock_skew",
                f"ts is {skew_s:.0f} s ahead of the engine's clock (limit {MAX_CLOCK_SKEW_S:g} s)",
            )
        group = _label(member)
        seen = now - max(0.0, age_s)
        cur = self._agents.get(agent)
        if cur is None:
            self._agents[agent] = _Agent(msg, seen)
            entry = self._agents[agent]
            entry.stale = self._is_stale(entry, now)
            return AgentChange(agent, group, None, self._effective(entry), "message")

        if (
            cur.wrap_ended
            and msg.state == "wrap"
            and msg.session == cur.state.session
            and msg.seq == cur.state.seq
        ):
            # The desktop repeats the wrap-up the engine already ended at the cap (a
            # heartbeat sent before it heard): still alive, and still counted ready.
            cur.last_seen = max(cur.last_seen, seen)
            return None
        rejection = _order(cur.state, msg)
        if rejection is not None:
            return Rejected(agent, rejection[0], rejection[1])

        before = self._effective(cur)
        if (
            msg.state == cur.state.state
            and msg.seq == cur.state.seq
            and (msg.session == cur.state.session)
        ):
            cur.last_seen = max(cur.last_seen, seen)  # heartbeat or QoS 1 duplicate
        else:
            cur.last_seen = seen
        if msg.session == cur.state.session and msg.seq < cur.state.seq:
            # An accepted will (offline) carries the seq of its connect: keep the highest
            # seq seen so a late duplicate of an earlier 'ready' cannot revive the agent.
            msg = msg.model_copy(update={"seq": cur.state.seq})
        cur.state = msg
        cur.wrap_ended = False
        cur.seen_since_resync = True
        cur.stale = self._is_stale(cur, now)
        after = self._effective(cur)
        if after == before:
            return None
        return AgentChange(agent, group, before, after, "message")

    def remove(self, agent: str) -> AgentChange | None:
        """The retained state was cleared (empty payload): the agent was decommissioned.

        It stays listed as offline (stale) rather than vanishing, so every change event
        still pairs an ``old`` with a ``new`` and counts kept from the events (the
        engine's agents-by-state gauge) agree with :meth:`counts`. A later message from
        a desktop with a newer session brings it back as usual.
        """
        cur = self._agents.get(agent)
        if cur is None:
            return None
        before = self._effective(cur)
        cur.stale = True
        if before == "offline":
            return None
        return AgentChange(agent, self._group(agent), before, "offline", "removed")

    def set_roster(self, roster: Roster) -> list[AgentChange]:
        """A reloaded roster: agents no longer on it are forgotten (offline first, so
        the pacer hears of it); the others keep their state under their new entry."""
        self.roster = roster
        changes = []
        for name in [a for a in self._agents if a not in roster]:
            before = self._effective(self._agents.pop(name))
            if before != "offline":
                changes.append(AgentChange(name, "", before, "offline", "removed"))
        return changes

    def end_wrap(self, agent: str, session: str, seq: int) -> AgentChange | None:
        """The campaign's wrap-up cap is reached (docs/design.md "Wrap-up contract"): count
        the agent ready unless it has reported anything since the wrap-up that started
        the timer (``session``/``seq`` of that message), e.g. a pause."""
        cur = self._agents.get(agent)
        if cur is None or cur.state.state != "wrap":
            return None
        if cur.state.session != session or cur.state.seq != seq:
            return None
        before = self._effective(cur)
        cur.state = cur.state.model_copy(update={"state": "ready"})
        cur.wrap_ended = True
        after = self._effective(cur)
        if after == before:
            return None
        return AgentChange(agent, self._group(agent), before, after, "wrap_cap")

    def expire(self, now: float) -> list[AgentChange]:
        """Mark agents not heard from for ``stale_after_s`` as stale (offline for dialling).
        Call it every second or so; returns only the agents that just went stale."""
        changes = []
        for name, a in self._agents.items():
            if not a.stale and self._is_stale(a, now):
                before = self._effective(a)
                a.stale = True
                if before != "offline":
                    changes.append(AgentChange(name, self._group(name), before, "offline", "stale"))
        return changes

    def link_down(self) -> list[AgentChange]:
        """The broker connection is lost: nobody is available until a resync completes."""
        changes = []
        if self._synced:
            for name, a in self._agents.items():
                before = self._effective(a)
                if before != "offline":
                    changes.append(
                        AgentChange(name, self._group(name), before, "offline", "link_down")
                    )
        self._synced = False
        return changes

    def begin_resync(self) -> list[AgentChange]:
        """Connected again; retained states are about to be replayed. Agents whose state
        is not replayed before :meth:`resync_complete` are treated as stale.

        Normally :meth:`link_down` came first; if not, everyone goes offline here, and
        those changes are returned so events stay paired with :meth:`counts`.
        """
        changes = self.link_down()
        for a in self._agents.values():
            a.seen_since_resync = False
        return changes

    def resync_complete(self, now: float) -> list[AgentChange]:
        """Every retained state has arrived: dialling may use the registry again.
        Returns agents becoming visible again (and those not re-confirmed, as stale)."""
        self._synced = True
        changes = []
        for name, a in self._agents.items():
            if not a.seen_since_resync:
                a.stale = True  # was offline during the resync, stays so: no change event
                continue
            a.stale = self._is_stale(a, now)
            after = self._effective(a)
            if after != "offline":
                changes.append(AgentChange(name, self._group(name), "offline", after, "message"))
        return [c for c in changes if c.old != c.new]

    # --- asking ------------------------------------------------------------------------

    @property
    def synced(self) -> bool:
        """False while the broker link is down or resynchronising: dial nothing."""
        return self._synced

    def available(self, now: float, group: str | None = None) -> list[str]:
        """Agents ready and proven right now, oldest-ready first (the link logs how many
        after a resync; the pacer learns of each one from the change events)."""
        if not self._synced:
            return []
        ready = [
            (a.state.ts, name)
            for name, a in self._agents.items()
            if a.state.state == "ready"
            and not a.stale
            and not self._is_stale(a, now)
            and (group is None or group in self._groups(name))
        ]
        return [name for _, name in sorted(ready)]

    def is_available(self, agent: str, now: float) -> bool:
        """Is this (reserved) agent still fit to receive a call? Checked at each launch
        (twice: before the contact is picked and before the attempt row is written)."""
        a = self._agents.get(agent)
        return (
            self._synced
            and a is not None
            and a.state.state == "ready"
            and not a.stale
            and not self._is_stale(a, now)
        )

    def effective_state(self, agent: str) -> AgentStateName | None:
        """The state dialling decisions use (``offline`` when stale or the link is down)."""
        a = self._agents.get(agent)
        return None if a is None else self._effective(a)

    def reported_state(self, agent: str) -> AgentStateMessage | None:
        """The last accepted message from the agent, as sent (for status displays)."""
        a = self._agents.get(agent)
        return None if a is None else a.state

    def is_stale(self, agent: str) -> bool:
        a = self._agents.get(agent)
        return a is None or a.stale

    def agents(self) -> Iterable[str]:
        return tuple(self._agents)

    def member(self, agent: str) -> RosterEntry | None:
        """The agent's roster entry: what it may serve and where its calls go."""
        return self.roster.get(agent)

    def counts(self) -> dict[AgentStateName, int]:
        """Agents by effective state, every state present (zero included) for metrics."""
        c = Counter(self._effective(a) for a in self._agents.values())
        return {s: c.get(s, 0) for s in AGENT_STATES}

    def snapshot(self) -> list[AgentStatus]:
        """Every agent's effective state, for the engine's retained status message."""
        return [
            AgentStatus(
                agent=name, state=self._effective(a), group=self._group(name), stale=a.stale
            )
            for name, a in sorted(self._agents.items())
        ]

    # --- internals ---------------------------------------------------------------------

    def _groups(self, agent: str) -> tuple[str, ...]:
        member = self.roster.get(agent)
        return () if member is None else member.groups

    def _group(self, agent: str) -> str:
        member = self.roster.get(agent)
        return "" if member is None else _label(member)

    def _is_stale(self, a: _Agent, now: float) -> bool:
        return now - a.last_seen >= self.stale_after_s

    def _effective(self, a: _Agent) -> AgentStateName:
        if not self._synced or a.stale:
            return "offline"
        return a.state.state


def _label(member: RosterEntry) -> str:
    """The groups an agent serves, as one label for status displays."""
    return ",".join(member.groups)


def _order(cur: AgentStateMessage, new: AgentStateMessage) -> tuple[RejectReason, str] | None:
    """Apply the ordering table in the module docstring; ``None`` means accept."""
    if new.session == cur.session:
        if new.seq > cur.seq:
            return None
        if new.seq == cur.seq:
            if new.state == cur.state:
                return None
            if new.state == "offline":
                return None  # the will message, built at connect time with an old seq
            return ("seq_conflict", f"seq {new.seq} already seen as {cur.state!r}")
        if new.state == "offline":
            return None
        if new.session == NO_SESSION and new.ts > cur.ts:
            # A desktop that sends no session id restarted (seq back to 0): a redelivered
            # old message would carry an older ts than the last one accepted.
            return None
        return ("stale_seq", f"seq {new.seq} is older than {cur.seq}")
    if new.ts >= cur.ts:
        return None
    return (
        "old_session",
        f"session {new.session!r} (ts {new.ts:.3f}) is older than current "
        f"{cur.session!r} (ts {cur.ts:.3f})",
    )
