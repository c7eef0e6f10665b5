"""What the pacer tells the engine to do. Small frozen dataclasses, acted on in order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

MessageReason = Literal["agent_lost", "no_agent", "over_dial"]
ReleaseReason = Literal["failed", "no_contact", "agent_lost", "moved"]


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

    ``from_wrap`` is true when the agent is in a capped wrap-up: the engine ends the
    wrap-up (auto-ready) as part of the connect.
    """

    call: int
    agent: str
    from_wrap: bool = False


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
