"""Pacing parameters: a plain frozen dataclass the engine fills from the campaign config.

The pacer does not import ``dialguard.config`` (dependencies point one way); the engine
maps ``CampaignConfig.pacing`` onto :class:`PacingParams`. The legal floors are checked
again here so that no caller can get past them: :meth:`PacingParams.problems` lists what
is wrong, and the pacer refuses parameters that have any.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, get_args

from dialguard.law import (
    ABANDON_WINDOW_S,
    CONNECT_DEADLINE_S,
    MAX_ABANDON_CAP,
    MAX_DIAL_RATIO,
    MIN_RING_TIMEOUT_S,
    AbandonWindow,
)

PacingMode = Literal["preview", "progressive", "predictive"]
"""How a campaign dials (the one definition; the campaign config uses it). The compliance
rules see a call as guaranteed or predictive instead: ``rules.DIAL_MODE_OF`` maps these."""
MODES: tuple[PacingMode, ...] = get_args(PacingMode)


class PacingParamsError(ValueError):
    """Parameters that break a legal floor or make no sense; ``problems`` says which."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid pacing parameters: " + "; ".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class PacingParams:
    """How one campaign paces. Defaults match ``PacingConfig``'s defaults.

    ``connect_latency_s`` is how long the engine needs to complete a connect (transfer to
    the agent's answer); the pacer may hold an answered call for an agent only until
    ``connect_deadline_s - connect_latency_s`` after the answer.
    ``learn_ring_timeout`` lets the pacer shorten the ring timeout (never below 15 s)
    when the measured answer-time curve says the last seconds of ringing cost more agent
    time than they bring talk time.
    ``wrap_up_cap_s`` is the engine-enforced wrap-up cap (the agent is auto-readied at the
    cap unless it pauses); ``None``: no cap. ``dial_ahead_wrap`` allows dialling for an
    agent in wrap-up a little before its cap (never more than the hold time ahead, so an
    early answer waits at most the hold time); it needs a cap.
    """

    mode: PacingMode = "progressive"
    ring_timeout_s: float = 20.0
    abandon_cap: float = MAX_ABANDON_CAP
    abandon_window: AbandonWindow = "24h"
    max_dial_ratio: float = 2.5
    dial_ahead_wrap: bool = False
    wrap_up_cap_s: float | None = None
    connect_deadline_s: float = CONNECT_DEADLINE_S
    connect_latency_s: float = 0.5
    learn_ring_timeout: bool = False
    no_contact_backoff_s: float = 5.0
    warmup_answers: int | None = field(default=None)

    def problems(self) -> list[str]:
        """Everything wrong with these parameters, each naming the field."""
        out: list[str] = []
        if self.mode not in MODES:
            out.append(f"mode: {self.mode!r} is not one of {sorted(MODES)}")
        if not self.ring_timeout_s >= MIN_RING_TIMEOUT_S:
            out.append(f"ring_timeout_s: {self.ring_timeout_s} is below {MIN_RING_TIMEOUT_S:g} s")
        if not 0 < self.abandon_cap <= MAX_ABANDON_CAP:
            out.append(f"abandon_cap: {self.abandon_cap} is not in (0, {MAX_ABANDON_CAP}]")
        if self.abandon_window not in ABANDON_WINDOW_S:
            out.append(
                f"abandon_window: {self.abandon_window!r} is not one of {sorted(ABANDON_WINDOW_S)}"
            )
        if not 1.0 <= self.max_dial_ratio <= MAX_DIAL_RATIO:
            r = self.max_dial_ratio
            out.append(f"max_dial_ratio: {r} is not between 1 and {MAX_DIAL_RATIO:g}")
        if self.wrap_up_cap_s is not None and not 0 < self.wrap_up_cap_s <= 600:
            out.append(f"wrap_up_cap_s: {self.wrap_up_cap_s} is not in (0, 600]")
        if self.dial_ahead_wrap and self.wrap_up_cap_s is None:
            out.append(
                "dial_ahead_wrap: needs wrap_up_cap_s (without an enforced cap an agent in "
                "wrap-up may never become ready for the call dialled for them)"
            )
        if not 0 < self.connect_deadline_s <= CONNECT_DEADLINE_S:
            d = self.connect_deadline_s
            out.append(f"connect_deadline_s: {d} is not in (0, {CONNECT_DEADLINE_S:g}]")
        if not 0 <= self.connect_latency_s < self.connect_deadline_s:
            out.append(
                f"connect_latency_s: {self.connect_latency_s} must be ≥ 0 and below "
                f"connect_deadline_s ({self.connect_deadline_s})"
            )
        if not self.no_contact_backoff_s >= 0:
            out.append(f"no_contact_backoff_s: {self.no_contact_backoff_s} is negative")
        if self.warmup_answers is not None and self.warmup_answers < 1:
            out.append(f"warmup_answers: {self.warmup_answers} must be ≥ 1")
        return out

    def checked(self) -> PacingParams:
        """Return self, or raise :class:`PacingParamsError` listing every problem."""
        problems = self.problems()
        if problems:
            raise PacingParamsError(problems)
        return self

    @property
    def window_s(self) -> float:
        return ABANDON_WINDOW_S[self.abandon_window]

    @property
    def hold_s(self) -> float:
        """How long an answered call may wait for an agent before the message."""
        return self.connect_deadline_s - self.connect_latency_s
