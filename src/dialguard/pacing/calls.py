"""The life of one dial, as a transition table.

A call handle is created by a ``Launch`` decision and walks these states::

    launching ─Launched→ dialling ─Ringing→ ringing ─Answered→ answered (decided at once)
        └─ CouldNotLaunch / Failed (from any of these three) → done
    answered ─connect→ connecting ─Connected→ connected ─Ended→ done
             ─hold→ waiting ─connect→ connecting  |  ─message→ messaging
             ─message→ messaging ─Ended→ done
    connecting ─timeout→ messaging   (no Connected by answered + connect deadline)

Events from the engine and the pacer's own steps (``connect``, ``hold``, ``message``)
are looked up in :data:`TRANSITIONS`; anything not in the table is a protocol error
(duplicates of the event that led to the current state are tolerated and ignored,
because the engine's sources deliver at least once; so is a transfer's outcome that
arrives after the call already hears the message).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

CallState = Literal[
    "launching",
    "dialling",
    "ringing",
    "answered",
    "waiting",
    "connecting",
    "connected",
    "messaging",
    "done",
]

Step = Literal[
    # events from the engine (their class names in pacing.events)
    "Launched",
    "CouldNotLaunch",
    "Ringing",
    "Answered",
    "Failed",
    "Connected",
    "ConnectFailed",
    "Ended",
    # the pacer's own steps
    "connect",
    "hold",
    "message",
    "timeout",
]
"""What moves a call: an engine event or one of the pacer's own steps. A Literal, so a
misspelt step in the pacer or in the table below is a type error, as the SIP adapter's
enum-keyed table is for trunk events."""

# (state, step) -> next state.
TRANSITIONS: dict[tuple[CallState, Step], CallState] = {
    ("launching", "Launched"): "dialling",
    ("launching", "CouldNotLaunch"): "done",
    ("launching", "Failed"): "done",
    ("launching", "Ringing"): "ringing",
    ("launching", "Answered"): "answered",
    ("dialling", "Ringing"): "ringing",
    ("dialling", "Answered"): "answered",
    ("dialling", "Failed"): "done",
    ("ringing", "Answered"): "answered",
    ("ringing", "Failed"): "done",
    ("answered", "connect"): "connecting",
    ("answered", "hold"): "waiting",
    ("answered", "message"): "messaging",
    ("waiting", "connect"): "connecting",
    ("waiting", "message"): "messaging",
    ("waiting", "Ended"): "done",
    ("connecting", "Connected"): "connected",
    ("connecting", "ConnectFailed"): "messaging",
    ("connecting", "timeout"): "messaging",
    ("connecting", "Ended"): "done",
    ("connected", "Ended"): "done",
    ("messaging", "Ended"): "done",
}

# Repeats of the step that entered a state, which at-least-once delivery produces.
DUPLICATES: frozenset[tuple[CallState, Step]] = frozenset(
    {
        ("dialling", "Launched"),
        ("ringing", "Ringing"),
        ("ringing", "Launched"),
        ("connected", "Connected"),
        ("waiting", "Answered"),
        ("connecting", "Answered"),
        ("connected", "Answered"),
        ("messaging", "Answered"),
        # the transfer's outcome arriving after the pacer gave up on it (connect deadline)
        # or after it failed once: the call already hears the message
        ("messaging", "Connected"),
        ("messaging", "ConnectFailed"),
    }
)

IN_FLIGHT: frozenset[CallState] = frozenset({"launching", "dialling", "ringing"})
"""States in which the call may still be answered."""


class PacingProtocolError(ValueError):
    """An event that cannot happen in the call's state (or names an unknown call)."""


@dataclass(slots=True)
class Call:
    """One dial's bookkeeping. ``agent`` is the agent held for it, if any."""

    id: int
    agent: str | None
    guaranteed: bool
    created_at: float
    ring_timeout_s: float
    state: CallState = "launching"
    launched_at: float | None = None
    ringing_at: float | None = None
    answered_at: float | None = None
    connect_at: float | None = None  # when the pacer decided Connect
    connected_at: float | None = None
    lost_reason: Literal["agent_lost", "no_agent", "over_dial"] | None = None

    @property
    def started_at(self) -> float:
        """When the dial started: its launch, or its creation if never launched."""
        return self.launched_at if self.launched_at is not None else self.created_at

    def step(self, step: Step) -> bool:
        """Apply ``step``; return False for a tolerated duplicate, raise if impossible."""
        nxt = TRANSITIONS.get((self.state, step))
        if nxt is None:
            if (self.state, step) in DUPLICATES:
                return False
            raise PacingProtocolError(
                f"call {self.id}: {step} is not possible in state {self.state}"
            )
        self.state = nxt
        return True

    @property
    def in_flight(self) -> bool:
        return self.state in IN_FLIGHT
