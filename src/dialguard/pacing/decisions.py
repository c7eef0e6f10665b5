"""What the pacer tells the engine to do. Small frozen dataclasses, acted on in order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

MessageReason = Literal["agent_lost", "no_agent", "over_dial", "connect_timeout"]
"""Why a call hears the information message: its agent vanished (``agent_lost``), no
agent was free within the hold time (``no_agent``), a predictive over-dial found nobody
(``over_dial``), or the transfer to its agent did not complete by the connect deadline
(``connect_timeout``: the pacer's backstop, whatever the engine is waiting for)."""

ReleaseReason = Literal["failed", "no_contact", "agent_lost", "moved", "no_agent"]
"""Why a reservation ended without a connect: the call failed or the callee hung up
(``failed``), no contact to dial (``no_contact``), the agent vanished (``agent_lost``),
the call took another agent (``moved``), or the answered call's reserved agent was still
in wrap-up when the hold time ran out (``no_agent``)."""


@dataclass(frozen=True, slots=True)
class Launch:
    """Dial the next callable contact as ``call``.

    ``agent`` is the agent reserved for it (``None``: a predictive over-dial).
    ``guaranteed`` is true when no other call may take that agent: the call counts as a
    guaranteed-mode call (e.g. for the 72 h rule after an abandoned call).
    ``ring_timeout_s`` is how long it may ring (never below 15 s).
    """

    call: int
    agent: str | None
    ring_timeout_s: float
    guaranteed: bool


@dataclass(frozen=True, slots=True)
class Reserve:
    """``agent`` is now held for ``call`` (its first agent vanished or was lent out)."""

    call: int
    agent: str


@dataclass(frozen=True, slots=True)
class Connect:
    """Connect the answered ``call`` to ``agent`` now.

    ``agent`` is always one the desktop last reported ``ready``: the pacer never pulls an
    agent out of wrap-up (an answered call whose reserved agent is still wrapping waits
    for the ready, within the hold time). The pacer's backstop: if neither ``Connected``
    nor ``ConnectFailed`` arrives by ``answered + connect_deadline_s`` it plays the
    message itself (``PlayMessage(call, "connect_timeout")``).
    """

    call: int
    agent: str


@dataclass(frozen=True, slots=True)
class PlayMessage:
    """No agent within the connect deadline: play the information message (abandoned)."""

    call: int
    reason: MessageReason


@dataclass(frozen=True, slots=True)
class Release:
    """``agent`` is no longer held for ``call`` (the desktop can drop the offer)."""

    call: int
    agent: str
    reason: ReleaseReason


Decision = Launch | Reserve | Connect | PlayMessage | Release
