"""The contract between the engine and any SIP trunk adapter.

The engine never imports a SIP library: it sees a :class:`Trunk` that places calls and
a :class:`TrunkCall` that reports what happened as :class:`TrunkEvent` values. The sippy-based
adapter implements it for real trunks; tests may drive the engine through the same
contract against dialguard's own SIP trunk simulator.

Times in events are ``loop.time()`` values (monotonic seconds), so the engine can
measure ring time and answer-to-agent time without a wall clock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal, Protocol, runtime_checkable

from dialguard.law import MIN_RING_TIMEOUT_S

MIN_RING_S = MIN_RING_TIMEOUT_S
"""No call is cancelled before it has rung this long (Ofcom / TCPA minimum ring time)."""


class TrunkEventKind(StrEnum):
    TRYING = "trying"  # 100 Trying
    PROGRESS = "progress"  # 181/182/183 without SDP: proceeding, nothing rings yet
    RINGING = "ringing"  # 180 Ringing
    EARLY_MEDIA = "early_media"  # 183 Session Progress with SDP
    ANSWERED = "answered"  # 200 OK to INVITE, ACK sent
    FAILED = "failed"  # final failure (4xx/5xx/6xx, timeout, or cancelled by us: 487)
    TRANSFERRED = "transferred"  # REFER accepted and NOTIFY reported 2xx
    TRANSFER_FAILED = "transfer_failed"  # REFER refused, or NOTIFY reported a failure
    DTMF = "dtmf"  # an RFC 4733 digit received
    ENDED = "ended"  # an established call ended (BYE either way)
    FORK_ANSWERED = "fork_answered"  # a second callee of a forked INVITE answered: ACK+BYE


@dataclass(frozen=True, slots=True)
class TrunkEvent:
    """One thing that happened to a call; ``t`` is ``loop.time()`` when it was seen."""

    kind: TrunkEventKind
    t: float
    code: int | None = None  # SIP status code for failed / transfer results
    reason: str | None = None  # reason phrase or a short explanation
    by: Literal["local", "remote"] | None = None  # who ended the call (ENDED only)
    digit: str | None = None  # DTMF only
    retry_after: float | None = None  # FAILED: the trunk's Retry-After (s), e.g. on a 503


@dataclass(frozen=True, slots=True)
class Prompt:
    """Audio ready to send: 8 kHz G.711 µ-law bytes (converted when loaded)."""

    name: str
    ulaw: bytes

    @property
    def duration_s(self) -> float:
        return len(self.ulaw) / 8000.0


@runtime_checkable
class TrunkCall(Protocol):
    """An outbound call placed by :meth:`Trunk.originate`."""

    call_id: str
    number: str

    def events(self) -> AsyncIterator[TrunkEvent]:
        """Every event of this call in order; the iterator ends after FAILED or ENDED."""
        ...

    async def cancel(self) -> None:
        """Stop a call that is not answered yet (CANCEL). Refuses, by waiting, to cut a
        call that has rung less than MIN_RING_S unless the trunk already failed it."""
        ...

    async def hangup(self) -> None:
        """End the call whatever its state (BYE if answered, CANCEL if not)."""
        ...

    async def transfer(self, target_uri: str) -> TrunkEvent:
        """Blind transfer (REFER). Returns the TRANSFERRED or TRANSFER_FAILED event."""
        ...

    async def play(self, prompt: Prompt, *, repeat: int = 1) -> None:
        """Send the prompt over RTP, paced at 20 ms; returns when done or the call ends."""
        ...


@runtime_checkable
class Trunk(Protocol):
    """A SIP trunk: place calls, and on stop leave none half-open."""

    async def start(self) -> None: ...

    async def stop(self) -> None:
        """Hang up or cancel every call still up, then release sockets."""
        ...

    async def originate(self, to: str, caller_id: str, ring_timeout: float) -> TrunkCall:
        """Send an INVITE to ``to`` (E.164) and return the call at once. The adapter
        cancels it at ``ring_timeout`` after the INVITE, but never before the call has
        rung MIN_RING_S seconds (timed from the first 180, or 183 with SDP)."""
        ...

    def on_orphan_answer(self, handler: Callable[[str], None]) -> None:
        """Call ``handler(call_id)`` on the event loop for each answer to a call this
        process did not place (the one before a crash did, on the same SIP port). The
        adapter has already ACKed and hung up that call; the engine records it."""
        ...
