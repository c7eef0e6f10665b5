"""dialguard.pacing — the sans-I/O pacing core: how many calls to dial, for which agent.

Pure and synchronous: no asyncio, no sockets, no wall clock, nothing imported from the
rest of dialguard. Time is passed in as ``now`` (float seconds, e.g. ``loop.time()``).
Events in, decisions out, :meth:`Pacer.next_deadline` for the one timer.

How the engine drives it (one :class:`Pacer` per campaign)::

    pacer = Pacer(PacingParams(mode="progressive", ring_timeout_s=20.0, ...), now=loop.time())

    # feed what happened (agent desktop states, call progress keyed by the pacer's handle)
    pacer.handle(AgentChanged("a1", "ready"), now)        # ready|busy|wrap|paused|offline
    pacer.handle(Launched(call), now)                     # INVITE sent
    pacer.handle(CouldNotLaunch(call), now)               # no callable contact → released
    pacer.handle(Ringing(call), now); pacer.handle(Answered(call), now)
    pacer.handle(Failed(call, "no_answer"), now)          # busy|no_answer|invalid|rejected|…
    pacer.handle(Connected(call), now); pacer.handle(Ended(call), now)
    pacer.handle(ConnectFailed(call), now)                # transfer to the agent failed
    pacer.handle(LaunchGate(open=False), now)             # no new dials at all (fail closed)

    # then ask what to do, and do all of it in order
    for d in pacer.poll(now):
        match d:
            case Launch(call, agent, ring_timeout_s, guaranteed): ...  # pick contact, INVITE
            case Connect(call, agent): ...                 # transfer now (agent is ready)
            case PlayMessage(call, reason): ...            # information message: abandoned
            # (reason "connect_timeout": no Connected by answer + connect deadline)
            case Reserve(call, agent) | Release(call, agent, _): ...  # tell the desktop
    loop.call_at(pacer.next_deadline(), wake)             # if not None: poll again then

    pacer.configure(new_params, now)                      # live change, validated
    pacer.counters(now)                                   # PacerCounters for metrics
    pacer.check_invariants()                              # ledgers agree (tests, simulator)

Rules the caller must keep: call :meth:`Pacer.poll` after every batch of events (an
answered call's ``Connect`` is decided in the same poll); report an agent that
vanishes or goes stale as ``offline``; map ``CampaignConfig.pacing`` onto
:class:`PacingParams` (which re-checks the legal floors and raises
:class:`PacingParamsError` naming each bad field). Impossible call events raise
:class:`PacingProtocolError` (log it and carry on; the pacer's state is unchanged).

Modes: ``preview`` (dial on :class:`PreviewRequested`), ``progressive`` (guaranteed:
every dial has a reserved agent; the default) and ``predictive`` (over-dial governed by
an :class:`AbandonBudget`, falling back to guaranteed when the budget is spent).
See docs/pacing.md.
"""

from dialguard.law import MIN_RING_TIMEOUT_S
from dialguard.pacing.calls import TRANSITIONS, Call, CallState, PacingProtocolError
from dialguard.pacing.decisions import (
    Connect,
    Decision,
    Launch,
    MessageReason,
    PlayMessage,
    Release,
    Reserve,
)
from dialguard.pacing.events import (
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
    FailReason,
    Launched,
    LaunchGate,
    PreviewRequested,
    Ringing,
    UnseenAnswer,
)
from dialguard.pacing.governor import AbandonBudget, BudgetView, GovernorState
from dialguard.pacing.pacer import (
    Agent,
    Pacer,
    PacerCounters,
    PacerInvariantError,
    PacingError,
)
from dialguard.pacing.params import (
    PacingMode,
    PacingParams,
    PacingParamsError,
)
from dialguard.pacing.stats import OutcomeStats

__all__ = [
    "MIN_RING_TIMEOUT_S",
    "TRANSITIONS",
    "AbandonBudget",
    "Agent",
    "AgentChanged",
    "AgentState",
    "AnswerHistory",
    "Answered",
    "BudgetView",
    "Call",
    "CallState",
    "Connect",
    "ConnectFailed",
    "Connected",
    "CouldNotLaunch",
    "Decision",
    "Ended",
    "Event",
    "FailReason",
    "Failed",
    "GovernorState",
    "Launch",
    "LaunchGate",
    "Launched",
    "MessageReason",
    "OutcomeStats",
    "Pacer",
    "PacerCounters",
    "PacerInvariantError",
    "PacingError",
    "PacingMode",
    "PacingParams",
    "PacingParamsError",
    "PacingProtocolError",
    "PlayMessage",
    "PreviewRequested",
    "Release",
    "Reserve",
    "Ringing",
    "UnseenAnswer",
]
