"""What a campaign's calls report, counted: the runner's side of
:class:`~dialguard.engine.calls.CallReports`.

A call job says what happened through typed methods (``answered()``,
``connected(answer_to_agent_s)``, ``abandoned(reason)`` …); this class turns each fact
into the status snapshot's counts, the Prometheus series and, for the trunk's own
refusals, the circuit breaker's verdict. Kept apart from the runner so that the counting
can be read (and tested) without a pacer, a trunk or a store.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from dialguard.engine.calls import AbandonReason
from dialguard.engine.metrics import EngineMetrics
from dialguard.engine.trunk_health import PAUSE_MIN_S, TrunkBreaker
from dialguard.logs import get_logger
from dialguard.store.records import AttemptOutcome

log = get_logger(__name__)


@dataclass
class Counts:
    """What the status snapshot shows per campaign (metrics carry the rest)."""

    dials: int = 0
    answers: int = 0
    connects: int = 0
    abandoned: int = 0
    blocked: str = ""  # the campaign-wide refusal last logged, so it is logged once


class CallTally:
    """Counts one campaign's call facts; implements ``CallReports``."""

    def __init__(
        self,
        campaign_id: str,
        metrics: EngineMetrics,
        breaker: TrunkBreaker,
        *,
        clock: Callable[[], float],
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.campaign_id = campaign_id
        self.counts = Counts()
        self._m = metrics
        self._breaker = breaker
        self._clock = clock  # the loop's monotonic time, the breaker's time base
        self._wall = wall

    def answered(self) -> None:
        self.counts.answers += 1
        self._m.answers.labels(self.campaign_id).inc()

    def connected(self, answer_to_agent_s: float) -> None:
        self.counts.connects += 1
        self._m.connects.labels(self.campaign_id).inc()
        self._m.answer_to_agent.labels(self.campaign_id).observe(answer_to_agent_s)

    def abandoned(self, reason: AbandonReason) -> None:
        self.counts.abandoned += 1
        self._m.abandoned.labels(self.campaign_id, reason).inc()

    def finished(self, outcome: AttemptOutcome) -> None:
        self._m.outcomes.labels(self.campaign_id, outcome).inc()

    def opted_out(self) -> None:
        self._m.opt_outs.labels(self.campaign_id).inc()

    def trunk_refused(self, code: int | None, retry_after: float | None) -> float:
        """A call the trunk refused; returns when (wall clock) its contact is due again."""
        breaker = self._breaker
        now = self._clock()
        if breaker.refused(now, code, retry_after):
            view = breaker.view()
            log.warning(
                "trunk_paused",
                reason=view.reason,
                for_s=round((view.paused_until or now) - now, 1),
                note="no new dials; contacts are not charged for refused attempts",
            )
            self._m.trunk_paused.set(1)
        until = breaker.view().paused_until
        wait = (until - now) if until is not None and until > now else PAUSE_MIN_S
        return self._wall() + wait

    def trunk_carried(self) -> None:
        if self._breaker.carried():
            log.warning("trunk_resumed")
            self._m.trunk_paused.set(0)
