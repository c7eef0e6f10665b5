"""Admission control: the engine launches only what it can carry.

Why: an answered call has 2 s to reach an agent, and every step on the way (the 200 OK
reaching the event loop, the pacer's ``Connect``, the REFER going out) runs on the same
loop as the launches (pick a contact, write the attempt row, send the INVITE). Launch
more than the loop and the store can carry and the answers queue behind the launches:
connects get late and callees hear the message. Overload may cost throughput, never the
promise; so the launch rate is what gives way.

How: like TCP's congestion window, a *window* bounds how many launches may be under way
at once (a Launch decision not yet turned into an INVITE or a refusal). Every headroom
measurement is fed in with the time it was taken:

* ``loop_lag`` — how late a periodic timer fired (the loop is busy);
* ``answer_to_refer`` — from the 200 OK to the REFER handed to the SIP stack;
* ``store_latency`` — how long a store write took (the attempt row, a write batch);
* ``write_queue`` — writes waiting behind the writer.

Each is judged against two thresholds. Below ``target`` all is well, and a window that
was full grows by one (at most every ``grow_every_s``); at or above ``target`` the
window halves (at most once every ``cut_every_s``, so one slow moment is not counted
many times over); at or above ``stop`` no launch at all may start for ``stop_hold_s``
and the window falls to its floor. The connects in progress are never held back by it.

Sans-I/O like :mod:`dialguard.pacing`: measurements and time in, a number of launches
out; the runner feeds it and asks :meth:`Admission.room` before each poll.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final, Literal

Signal = Literal["loop_lag", "answer_to_refer", "store_latency", "write_queue"]
SIGNALS: Final[tuple[Signal, ...]] = ("loop_lag", "answer_to_refer", "store_latency", "write_queue")


@dataclass(frozen=True, slots=True)
class Limits:
    """The two thresholds of one signal (seconds, or writes for the queue)."""

    target: float
    stop: float

    def __post_init__(self) -> None:
        if not 0 < self.target < self.stop:
            raise ValueError(f"admission limits: need 0 < target < stop, got {self}")


@dataclass(frozen=True, slots=True)
class AdmissionParams:
    """Tuning; the defaults leave the 2 s promise more than a second of slack."""

    initial: int = 16
    floor: int = 1
    ceiling: int = 256
    grow_every_s: float = 0.02
    cut_every_s: float = 0.25
    stop_hold_s: float = 0.5
    loop_lag: Limits = Limits(0.05, 0.3)
    answer_to_refer: Limits = Limits(0.1, 0.5)
    store_latency: Limits = Limits(0.25, 1.0)
    write_queue: Limits = Limits(2_000.0, 20_000.0)

    def __post_init__(self) -> None:
        if not 1 <= self.floor <= self.initial <= self.ceiling:
            raise ValueError(
                f"admission window: need 1 ≤ floor ≤ initial ≤ ceiling, got "
                f"{self.floor}, {self.initial}, {self.ceiling}"
            )

    def limits(self, signal: Signal) -> Limits:
        lim: Limits = getattr(self, signal)
        return lim


class Admission:
    """One engine's launch window (shared by its runners: they share a loop and a store)."""

    def __init__(self, params: AdmissionParams | None = None) -> None:
        self.params = params or AdmissionParams()
        self.window = float(self.params.initial)
        self.in_progress = 0
        self._stopped_until = -math.inf
        self._last_cut = -math.inf
        self._last_grow = -math.inf
        self.why: str | None = None
        """The last measurement that cut or stopped launches (for the log and status)."""
        self.cuts = 0
        self.stops = 0

    # --- measurements -----------------------------------------------------------------

    def observe(self, signal: Signal, value: float, now: float) -> None:
        """One headroom measurement taken at ``now``."""
        lim = self.params.limits(signal)
        if value >= lim.stop:
            self._stopped_until = max(self._stopped_until, now + self.params.stop_hold_s)
            self.window = float(self.params.floor)
            self._last_cut = now
            self.stops += 1
            self.why = f"{signal} {value:.3g} ≥ {lim.stop:g}: launches stopped"
        elif value >= lim.target and now - self._last_cut >= self.params.cut_every_s:
            self.window = max(float(self.params.floor), self.window / 2)
            self._last_cut = now
            self.cuts += 1
            self.why = f"{signal} {value:.3g} ≥ {lim.target:g}: window {self.window:g}"

    # --- launches -------------------------------------------------------------------------

    def room(self, now: float) -> int:
        """How many more launches may start now."""
        if now < self._stopped_until:
            return 0
        return max(0, int(self.window) - self.in_progress)

    def started(self, now: float) -> None:
        """A launch began (after :meth:`room` allowed it)."""
        self.in_progress += 1

    def finished(self, now: float) -> None:
        """A launch ended (INVITE sent, or refused before it). A window that was the
        limit grows while nothing has cut it lately."""
        full = self.in_progress >= int(self.window)
        self.in_progress = max(0, self.in_progress - 1)
        p = self.params
        if (
            full
            and now - self._last_cut >= p.cut_every_s
            and now >= self._stopped_until
            and now - self._last_grow >= p.grow_every_s
        ):
            self.window = min(float(p.ceiling), self.window + 1)
            self._last_grow = now

    def stopped(self, now: float) -> bool:
        return now < self._stopped_until

    def next_deadline(self, now: float) -> float | None:
        """When launches may start again if they are stopped now (None: not stopped)."""
        return self._stopped_until if now < self._stopped_until else None
