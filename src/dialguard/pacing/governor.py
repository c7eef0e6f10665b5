"""The predictive governor: how much abandoning the campaign may still afford.

The regulator caps the abandoned-call rate over a window (24 h Ofcom, 30 days TCPA).
An :class:`AbandonBudget` counts answered and abandoned calls in the **rolling** window
``(now − window, now]`` and answers one question: *what abandon rate may the over-dial
aim at now* so that, with ~95 % confidence, the window's final rate stays under the
cap? It acts before the cap, not after it is breached.

The projection: with ``a`` abandoned out of ``n`` answered so far, and ``m`` more answers
to come at an abandon rate ``r``, the final rate is ``(a + A)/(n + m)`` with
``A ~ Binomial(m, r)``. The allowed ``r`` is the largest for which the one-sided upper
bound ``(a + m·r + z·√(m·r·(1-r)))/(n + m)`` stays below ``cap·(1 - margin)``. ``m``
is a look-ahead (half as many answers as seen so far, between 50 and 500): short, so
that a campaign stopping soon still ends under the cap.

States (data, not scattered ifs): ``cold`` (fewer than ``warmup`` answers in the window:
one abandon would weigh too much, so no over-dial), ``open`` (over-dial at the target
share of the cap), ``tight`` (budget thin: over-dial at the smaller allowed rate),
``spent`` (the current rate is at ``cap·(1 - margin)``, one more abandon would put it
over the cap, or the bound leaves nothing: guaranteed mode until connected calls dilute
the rate).

The window rolls: each answer counts until ``window_s`` after it, so there is no
rollover at which the counts restart (a fixed block would forget a bad hour just before
its end). The window's content survives a restart or a pacing change because the
engine seeds it (:meth:`AbandonBudget.seed`, the pacer's ``AnswerHistory`` event) with
the campaign's live answers from the store's attempt records, and tells it of an
answer it did not see (:meth:`AbandonBudget.add`, the ``UnseenAnswer`` event: a call
of the process before a restart answered after it); see docs/pacing.md. The
budget keeps one ``(time, abandoned)`` pair per live answer in the window.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from dialguard.law import MAX_ABANDON_CAP

GovernorState = Literal["cold", "open", "tight", "spent"]

# state -> may the pacer over-dial in it?
OVER_DIAL_ALLOWED: dict[GovernorState, bool] = {
    "cold": False,
    "open": True,
    "tight": True,
    "spent": False,
}


@dataclass(frozen=True, slots=True)
class BudgetView:
    """A snapshot for metrics and decisions."""

    state: GovernorState
    answered: int
    abandoned: int
    rate: float
    allowed_rate: float
    window_start: float  # answers after this instant are in the window


class AbandonBudget:
    """Per-campaign abandon budget over the regulator's window (see module docs)."""

    def __init__(
        self,
        cap: float,
        window_s: float,
        *,
        start: float = 0.0,
        warmup: int | None = None,
        z: float = 1.645,
        margin: float = 0.1,
        target_share: float = 0.8,
    ) -> None:
        if not 0 < cap <= MAX_ABANDON_CAP:
            raise ValueError(f"AbandonBudget cap: {cap} is not in (0, {MAX_ABANDON_CAP}]")
        if not window_s > 0:
            raise ValueError(f"AbandonBudget window_s: {window_s} must be positive")
        self.cap = cap
        self.window_s = window_s
        self.window_start = start - window_s
        self._answers: deque[tuple[float, bool]] = deque()  # (time, abandoned), oldest first
        # One abandon among the warm-up answers stays under half the cap.
        self.warmup = warmup if warmup is not None else math.ceil(2 / cap)
        self.z = z
        self.margin = margin
        self.target_share = target_share
        self.answered = 0
        self.abandoned = 0
        self._allowed = 0.0
        self._state: GovernorState = "cold"

    @property
    def target_rate(self) -> float:
        """The abandon rate over-dial aims at while the budget is ample."""
        return self.cap * self.target_share

    def set_cap(self, cap: float) -> None:
        """Live change of the cap (validated by the caller); counts are kept."""
        if not 0 < cap <= MAX_ABANDON_CAP:
            raise ValueError(f"AbandonBudget cap: {cap} is not in (0, {MAX_ABANDON_CAP}]")
        self.cap = cap
        self._recompute()

    def seed(self, answers: Iterable[tuple[float, bool]], now: float) -> None:
        """Replace the window's content with earlier live answers ``(time, abandoned)``,
        on this budget's clock (the engine reads them from the store at start and after
        a pacing change). Answers outside ``(now − window_s, now]`` are left out, except
        ones dated after ``now`` (clock skew): they count, erring towards caution."""
        self._answers = deque(sorted((float(t), bool(a)) for t, a in answers))
        self.answered = len(self._answers)
        self.abandoned = sum(1 for _, a in self._answers if a)
        self.window_start = -math.inf
        self.roll(now)
        self._recompute()

    def add(self, at: float, now: float, *, abandoned: bool) -> None:
        """One live answer at ``at`` that this budget did not see happen (an answer to a
        call placed before a restart, recorded by the engine): placed in time order,
        ignored if already out of the window, counted if dated after ``now``."""
        self.roll(now)
        if at <= self.window_start:
            return
        answers = list(self._answers)
        bisect.insort(answers, (float(at), abandoned))
        self._answers = deque(answers)
        self.answered += 1
        self.abandoned += int(abandoned)
        self._recompute()

    def answers(self) -> tuple[tuple[float, bool], ...]:
        """The window's live answers, ``(time, abandoned)``, oldest first."""
        return tuple(self._answers)

    def roll(self, now: float) -> bool:
        """Age out answers at or before ``now − window_s``; True if any did."""
        edge = now - self.window_s
        self.window_start = max(self.window_start, edge)
        aged = False
        while self._answers and self._answers[0][0] <= self.window_start:
            _, abandoned = self._answers.popleft()
            self.answered -= 1
            self.abandoned -= int(abandoned)
            aged = True
        if aged:
            self._recompute()
        return aged

    def record(self, now: float, *, abandoned: bool) -> None:
        """One answered call, connected in time or abandoned."""
        self.roll(now)
        self._answers.append((now, abandoned))
        self.answered += 1
        if abandoned:
            self.abandoned += 1
        self._recompute()

    def allowed_rate(self, now: float) -> float:
        """The abandon rate the over-dial may aim at now (0: no over-dial)."""
        self.roll(now)
        return self._allowed

    def state(self, now: float) -> GovernorState:
        self.roll(now)
        return self._state

    def view(self, now: float) -> BudgetView:
        self.roll(now)
        rate = self.abandoned / self.answered if self.answered else 0.0
        return BudgetView(
            self._state, self.answered, self.abandoned, rate, self._allowed, self.window_start
        )

    def upper_bound(self, r: float) -> float:
        """One-sided upper bound on the window's final rate if the next answers abandon at r."""
        n, a = self.answered, self.abandoned
        m = max(50, min(n // 2, 500))
        return (a + m * r + self.z * math.sqrt(m * r * (1 - r))) / (n + m)

    def _recompute(self) -> None:
        if self.answered < self.warmup:
            self._state, self._allowed = "cold", 0.0
            return
        limit = self.cap * (1 - self.margin)
        target = self.cap * self.target_share
        current = self.abandoned / self.answered
        if (
            current >= limit
            # the next answer may be an over-dialled one that nobody takes: it must not
            # lift the window over the cap by itself (a thin window, e.g. 2 of 75)
            or (self.abandoned + 1) / (self.answered + 1) > self.cap
            or self.upper_bound(0.0) >= limit
            or self.upper_bound(self.cap * 0.05) > limit
        ):
            self._state, self._allowed = "spent", 0.0
            return
        if self.upper_bound(target) <= limit:
            self._state, self._allowed = "open", target
            return
        lo, hi = 0.0, target
        for _ in range(30):
            mid = (lo + hi) / 2
            if self.upper_bound(mid) <= limit:
                lo = mid
            else:
                hi = mid
        self._state, self._allowed = "tight", lo
