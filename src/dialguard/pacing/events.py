"""What the engine tells the pacer: agent state changes and call progress.

Every event is a small frozen dataclass. Call events are keyed by the ``call`` handle the
pacer gave out in a :class:`~dialguard.pacing.decisions.Launch`; agent events by the
agent's id. Time is not part of the event: it is passed to ``Pacer.handle(event, now)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

AgentState = Literal["ready", "busy", "wrap", "paused", "offline"]
"""What an agent's desktop reports: the one definition (the MQTT contract in
:mod:`dialguard.mqtt.contract` and the agent registry use it too)."""
AGENT_STATES: tuple[AgentState, ...] = get_args(AgentState)
"""In display order (status lines list counts in this order)."""

FailReason = Literal["busy", "no_answer", "invalid", "rejected", "error", "cancelled"]
FAIL_REASONS: frozenset[str] = frozenset(
    {"busy", "no_answer", "invalid", "rejected", "error", "cancelled"}
)


@dataclass(frozen=True, slots=True)
class AgentChanged:
    """The agent's desktop reported a state (stale or lost agents are reported offline)."""

    agent: str
    state: AgentState


@dataclass(frozen=True, slots=True)
class PreviewRequested:
    """Preview mode: the agent asked for the next contact."""

    agent: str


@dataclass(frozen=True, slots=True)
class LaunchGate:
    """Whether the engine may place new calls at all (fail closed: campaign paused,
    broker or store lost, trunk paused). While closed the pacer proposes no Launch, so
    nothing is refused and no no-contact backoff builds up; when it opens, dialling
    resumes in the same poll."""

    open: bool


@dataclass(frozen=True, slots=True)
class AnswerHistory:
    """The campaign's live answers in the abandon window, read by the engine from the
    store's attempt records (at start, and after a pacing change), so the governor's
    rolling window survives restarts. ``answers`` are ``(answer time, abandoned)`` on
    the **wall clock**, ``wall_now`` the wall-clock time they were read; the pacer maps
    them onto its own clock (``t − wall_now + now``) and replaces the window with them.
    Abandoned means :func:`dialguard.rules.abandoned.is_abandoned`.

    ``until`` (wall clock): the answers are only those before it, and the pacer keeps
    its own from it on. The engine passes the runner's start: from then on the pacer has
    seen every answer itself, while the store may not hold them yet (writes are queued),
    so a re-seed after a window change neither drops one nor counts one twice.
    ``None``: the answers replace the whole window."""

    answers: tuple[tuple[float, bool], ...]
    wall_now: float
    until: float | None = None


@dataclass(frozen=True, slots=True)
class UnseenAnswer:
    """A live answer the pacer took no part in: a call the process placed before a
    restart was answered after it, and the engine recorded it as abandoned (nobody here
    holds the dialog; the callee heard silence). ``at`` is the answer on the **wall
    clock** and ``wall_now`` when it was read, mapped as for :class:`AnswerHistory`, so
    the governor counts it now rather than from the next process's seed."""

    at: float
    abandoned: bool
    wall_now: float


@dataclass(frozen=True, slots=True)
class Launched:
    """The INVITE for ``call`` left (the attempt row is written)."""

    call: int


@dataclass(frozen=True, slots=True)
class CouldNotLaunch:
    """No callable contact (or the trunk refused at once): the reservation is released."""

    call: int


@dataclass(frozen=True, slots=True)
class Ringing:
    """The callee's phone rings (180/183); the ring timeout counts from here."""

    call: int


@dataclass(frozen=True, slots=True)
class Answered:
    """200 OK: a person (or a machine we cannot tell apart) is on the line."""

    call: int


@dataclass(frozen=True, slots=True)
class Failed:
    """The attempt ended without an answer."""

    call: int
    reason: FailReason


@dataclass(frozen=True, slots=True)
class Connected:
    """The agent picked up the transferred call."""

    call: int


@dataclass(frozen=True, slots=True)
class ConnectFailed:
    """The transfer to the chosen agent failed; the call must hear the message."""

    call: int


@dataclass(frozen=True, slots=True)
class Ended:
    """The call is over (after talk, or after the information message)."""

    call: int


PacerCallEvent = (
    Launched | CouldNotLaunch | Ringing | Answered | Failed | Connected | ConnectFailed | Ended
)
Event = AgentChanged | PreviewRequested | LaunchGate | AnswerHistory | UnseenAnswer | PacerCallEvent
