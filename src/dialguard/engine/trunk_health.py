"""Trunk health as the pacer sees it: a circuit breaker over the trunk's own refusals.

When the trunk (not the callee) refuses calls — a 503 with ``Retry-After``, a storm of
503/408, INVITEs that get no response at all — every further dial would spend one of a
contact's attempts on a failure that says nothing about the contact. So new dials stop
for the stated time (or a backoff), then one probe call is let through; its outcome
closes the breaker (the trunk carried a call: it rang, was answered, or failed in a way
only a callee can) or opens it again for twice as long.

Pure state, time passed in (the pacing package's shape); the engine asks
:meth:`TrunkBreaker.allows` before each launch and reports every final outcome.

States::

    closed ─(Retry-After, or STORM_COUNT trunk refusals within STORM_WINDOW_S)→ open
    open ─(until passed)→ half_open: one probe dial allowed
    half_open ─probe carried→ closed   ─probe refused→ open (backoff doubled)

A refusal counts only for a call that never rang: a 408 after a 180 is the callee's
phone timing out, not the trunk.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Final, Literal

BreakerState = Literal["closed", "open", "half_open"]

TRUNK_CODES: Final = frozenset({503, 408})
"""Final responses that blame the trunk (or the network behind it), not the callee.
``None`` (no final response at all) counts too."""
STORM_COUNT: Final = 5
STORM_WINDOW_S: Final = 10.0
PAUSE_MIN_S: Final = 5.0
PAUSE_MAX_S: Final = 300.0


def is_trunk_refusal(code: int | None, retry_after: float | None = None) -> bool:
    """Did the trunk refuse this call itself (503/408, no response, or Retry-After)?"""
    return code is None or code in TRUNK_CODES or retry_after is not None


@dataclass(frozen=True, slots=True)
class BreakerView:
    """For status, metrics and logs."""

    state: BreakerState
    paused_until: float | None
    reason: str


class TrunkBreaker:
    """One per trunk (one per engine today)."""

    def __init__(self) -> None:
        self.state: BreakerState = "closed"
        self._refusals: deque[float] = deque()
        self._until = 0.0
        self._pause = PAUSE_MIN_S
        self._next_probe = 0.0
        self.reason = ""
        self.opened = 0  # times the breaker opened, for metrics and tests

    def allows(self, now: float) -> bool:
        """May a new call be placed now? In half-open, one probe per PAUSE_MIN_S (a
        probe whose launch was withdrawn before the INVITE is simply retried)."""
        if self.state == "open" and now >= self._until:
            self.state = "half_open"
            self._next_probe = now
        if self.state == "closed":
            return True
        if self.state == "half_open" and now >= self._next_probe:
            self._next_probe = now + PAUSE_MIN_S
            return True
        return False

    def paused(self, now: float) -> bool:
        """Would :meth:`allows` refuse now? (Asks without taking the half-open probe.)"""
        if self.state == "open":
            return now < self._until
        return self.state == "half_open" and now < self._next_probe

    def refused(self, now: float, code: int | None, retry_after: float | None) -> bool:
        """A call ended with a trunk refusal; True if the breaker (re)opened now."""
        if self.state == "half_open":
            self._pause = min(PAUSE_MAX_S, self._pause * 2)
            return self._open(now, retry_after, f"probe refused ({_what(code)})")
        if retry_after is not None:
            return self._open(now, retry_after, f"{_what(code)} Retry-After {retry_after:g} s")
        self._refusals.append(now)
        while self._refusals and self._refusals[0] < now - STORM_WINDOW_S:
            self._refusals.popleft()
        if self.state == "closed" and len(self._refusals) >= STORM_COUNT:
            return self._open(
                now, None, f"{len(self._refusals)} refusals ({_what(code)}) in {STORM_WINDOW_S:g} s"
            )
        return False

    def carried(self) -> bool:
        """A call got past the trunk (rang, answered, or a callee's own failure);
        True if that closed the breaker."""
        self._refusals.clear()
        if self.state == "closed":
            return False
        self.state = "closed"
        self._pause = PAUSE_MIN_S
        self.reason = ""
        return True

    def view(self) -> BreakerView:
        until = self._until if self.state != "closed" else None
        return BreakerView(self.state, until, self.reason)

    def _open(self, now: float, retry_after: float | None, reason: str) -> bool:
        was = self.state
        pause = max(self._pause, retry_after or 0.0)
        self.state = "open"
        self._until = now + min(PAUSE_MAX_S, pause)
        self._refusals.clear()
        self.reason = reason
        self.opened += 1
        return was != "open"


def _what(code: int | None) -> str:
    return "no response" if code is None else str(code)
