"""What the pacer learns from outcomes, without ever needing it to keep the guarantee.

- the answer-time curve: for a call in flight for ``e`` seconds, the chance it will
  still be answered (1 s bins of launch→answer and launch→failure times, halved now and
  then so old days fade). Predictive mode weighs calls still ringing with it.
- the earliest likely answer (a low quantile of launch→answer): how far ahead of a
  capped wrap-up's end progressive mode may dial (see docs/pacing.md).
- mean talk and wrap-up times: when busy agents are likely to free up.
- a suggested ring timeout in [15 s, configured]: the one that maximises talk time per
  unit of agent time, from the measured ring-to-answer times and the talk each answer
  brought (short "answers" such as voicemail bring little).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from dialguard.law import MIN_RING_TIMEOUT_S

_BINS = 180  # seconds of launch→outcome tracked; later outcomes land in the last bin
_FORGET_AT = 20_000.0  # halve the bins when they hold this many outcomes


@dataclass(frozen=True, slots=True)
class RingSample:
    """One finished attempt, as the ring-timeout estimate needs it."""

    pre_ring_s: float  # launch → ringing (or → failure when it never rang)
    rang: bool
    ring_s: float | None  # ringing → answer; None if not answered
    timeout_s: float  # the ring timeout it was dialled with
    talk_s: float  # connected time (0 if none)


class OutcomeStats:
    """Running statistics of one campaign's attempts (see module docs)."""

    def __init__(self, *, min_answers: int = 30, records: int = 3000) -> None:
        self.min_answers = min_answers
        self._answer_bins = [0.0] * _BINS
        self._other_bins = [0.0] * _BINS
        self._total = 0.0
        self._answers = 0.0
        self._pending = 1_000_000  # first read computes
        self._computed_warm = False
        self._p_after: list[float] = [0.0] * _BINS
        self._lead = 0.0
        self._median_answer = 8.0
        self.talk_mean = 0.0
        self.talk_n = 0
        self.wrap_mean = 0.0
        self.wrap_n = 0
        self._records: deque[RingSample] = deque(maxlen=records)
        self._since_suggest = 0
        self._suggested: float | None = None

    # --- feeding -----------------------------------------------------------------------
    def answered(self, launch_to_answer_s: float) -> None:
        self._answer_bins[_bin(launch_to_answer_s)] += 1
        self._answers += 1
        self._add()

    def failed(self, launch_to_end_s: float) -> None:
        self._other_bins[_bin(launch_to_end_s)] += 1
        self._add()

    def talk(self, seconds: float) -> None:
        self.talk_n = min(self.talk_n + 1, 500)
        self.talk_mean += (seconds - self.talk_mean) / self.talk_n

    def wrap(self, seconds: float) -> None:
        self.wrap_n = min(self.wrap_n + 1, 500)
        self.wrap_mean += (seconds - self.wrap_mean) / self.wrap_n

    def attempt(self, record: RingSample) -> None:
        self._records.append(record)
        self._since_suggest += 1

    def _add(self) -> None:
        self._total += 1
        self._pending += 1
        if self._total >= _FORGET_AT:
            self._answer_bins = [x / 2 for x in self._answer_bins]
            self._other_bins = [x / 2 for x in self._other_bins]
            self._total /= 2
            self._answers /= 2

    # --- reading -----------------------------------------------------------------------
    @property
    def warm(self) -> bool:
        """Enough answers seen to trust the curve."""
        return self._answers >= self.min_answers

    @property
    def answer_rate(self) -> float:
        """Share of attempts that were answered (the chance a new dial is answered)."""
        return self._answers / self._total if self._total else 0.0

    def p_answer_after(self, elapsed_s: float) -> float:
        """Chance a call in flight for ``elapsed_s`` will still be answered."""
        self._refresh()
        return self._p_after[_bin(elapsed_s)]

    def p_after_table(self) -> list[float]:
        """The whole curve by 1 s bin (for callers that weigh many calls at once)."""
        self._refresh()
        return self._p_after

    @property
    def earliest_answer_s(self) -> float:
        """The 2 % quantile of launch→answer (0 until warm): the dial-ahead lead."""
        self._refresh()
        return self._lead

    @property
    def median_answer_s(self) -> float:
        self._refresh()
        return self._median_answer

    def _refresh(self) -> None:
        # The curve moves slowly: recompute it every 25 outcomes, not on every read.
        if self._pending < 25 and self._computed_warm == self.warm:
            return
        self._pending = 0
        self._computed_warm = self.warm
        ans_after = 0.0
        all_after = 0.0
        p = self._p_after
        for k in range(_BINS - 1, -1, -1):
            ans_after += self._answer_bins[k]
            all_after += self._answer_bins[k] + self._other_bins[k]
            p[k] = ans_after / all_after if all_after else 0.0
        self._lead = 0.0
        if self.warm:
            seen = 0.0
            lead_found = False
            for k in range(_BINS):
                seen += self._answer_bins[k]
                if not lead_found and seen >= 0.02 * self._answers:
                    self._lead = float(k)  # lower edge of the bin: errs early
                    lead_found = True
                if seen >= 0.5 * self._answers:
                    self._median_answer = k + 0.5
                    break

    def suggested_ring_timeout(self, configured_s: float, *, min_records: int = 150) -> float:
        """The ring timeout in [15 s, configured] giving most talk per agent-second.

        Per attempt, a reservation dialler spends ``pre_ring + min(ring, t)`` seconds of a
        reserved agent's time, plus talk and wrap-up when answered within ``t``. The
        candidate ``t`` maximising expected talk over expected agent time wins. Answers
        later than the shortest timeout used are never seen, so ``t`` never grows back
        past it (the estimate is conservative, never below the legal floor).
        """
        if len(self._records) < min_records:
            return configured_s
        if self._suggested is not None and self._since_suggest < 100:
            return min(max(self._suggested, MIN_RING_TIMEOUT_S), configured_s)
        self._since_suggest = 0
        recs = list(self._records)
        ceiling = min(configured_s, min(r.timeout_s for r in recs))
        wrap = self.wrap_mean
        best_t, best_share = ceiling, -1.0
        t = MIN_RING_TIMEOUT_S
        while t <= ceiling + 1e-9:
            talk = 0.0
            cost = 0.0
            for r in recs:
                cost += r.pre_ring_s
                if not r.rang:
                    continue
                if r.ring_s is None:
                    # rang without answer until its own timeout (≥ t): censored at t
                    cost += t if r.timeout_s >= t else r.timeout_s
                elif r.ring_s <= t:
                    cost += r.ring_s + r.talk_s + wrap
                    talk += r.talk_s
                else:
                    cost += t
            share = talk / cost if cost else 0.0
            if share > best_share + 1e-12:
                best_t, best_share = t, share
            t += 0.5
        self._suggested = best_t
        return min(max(best_t, MIN_RING_TIMEOUT_S), configured_s)


def _bin(seconds: float) -> int:
    if seconds <= 0:
        return 0
    k = int(seconds)
    return k if k < _BINS else _BINS - 1
