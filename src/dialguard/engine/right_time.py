"""The engine's side of ordering by expected value: learn from outcomes, keep scores fresh.

One :class:`RightTime` per campaign, owned by its
:class:`~dialguard.engine.selection.ContactPicker`:

- :meth:`RightTime.observe` — after each attempt: the outcome goes into the campaign's
  :class:`~dialguard.propensity.AnswerModel` and its increments into ``answer_stats``
  (so a restart rebuilds the same model, :meth:`RightTime.load`), and the contact's
  ``order_score`` is recomputed;
- :meth:`RightTime.refresh` — every :data:`REFRESH_S`, the expected value of the
  current hour for every pending contact: contacts with no history of their own take
  their (segment, stated hours or not, zone)'s figure in one UPDATE per batch of ids
  (the CASE is built from the few distinct keys), contacts with history one figure
  each. Between refreshes the stored score is what ``ORDER BY order_score`` walks:
  picking stays an index walk.

Only campaigns with ``order = "expected_value"`` pay for the refresh; every campaign
learns, so switching the order later starts from what was seen.
"""

from __future__ import annotations

import json
from zoneinfo import ZoneInfo

from dialguard.logs import get_logger
from dialguard.propensity import (
    AGING_S,
    DEFAULT_PROPENSITY,
    REFRESH_S,
    AnswerModel,
    StatRow,
    answer_group,
    hour_of_week,
    order_score,
    zone_of,
)
from dialguard.store import ContactRecord, Store

__all__ = ["LEARNT_OUTCOMES", "RightTime", "contact_zone", "due_since", "group_of"]

log = get_logger(__name__)

LEARNT_OUTCOMES = frozenset(
    {"connected", "abandoned", "no_answer", "busy", "voicemail", "cancelled"}
)
"""Outcomes that say whether the person picked up; failures of the line say nothing."""
ANSWERED = frozenset({"connected", "abandoned"})


def contact_zone(timezones: tuple[str, ...] | str) -> ZoneInfo | None:
    """The zone whose local hour the model uses (``timezones`` as stored or decoded)."""
    return zone_of(json.loads(timezones) if isinstance(timezones, str) else timezones)


def group_of(contact: ContactRecord) -> str:
    """The contact's answer-model group (:func:`dialguard.propensity.answer_group`)."""
    return answer_group(contact.segment, bool(contact.preferred_hours))


def due_since(contact: ContactRecord) -> float:
    """When the contact became callable: its retry time, or its import."""
    return max(contact.next_attempt_at, contact.created_at)


class RightTime:
    """One campaign's answer model, persisted, and the scores it keeps (module docstring)."""

    def __init__(self, store: Store, campaign_id: str) -> None:
        self._store = store
        self.campaign_id = campaign_id
        self.model = AnswerModel()
        self._loaded = False
        self._refreshed_at: float | None = None

    async def load(self) -> None:
        """Rebuild the model from ``answer_stats`` (once; later calls do nothing)."""
        if self._loaded:
            return
        rows = await self._store.answer_stats.all(self.campaign_id)
        self.model.load(StatRow(*r) for r in rows)
        self._loaded = True

    def score(self, contact: ContactRecord, now: float) -> float:
        """The contact's ordering score at ``now`` (dialguard.propensity.order_score)."""
        how = hour_of_week(now, contact_zone(contact.timezones))
        p = self.model.ordering_probability(contact.id, group_of(contact), how)
        return order_score(p, contact.propensity, due_since(contact))

    async def observe(self, contact: ContactRecord, outcome: str, at: float) -> None:
        """Learn from one attempt's outcome at ``at``; re-score the contact as it now is."""
        await self.load()
        if outcome in LEARNT_OUTCOMES:
            how = hour_of_week(at, contact_zone(contact.timezones))
            rows = self.model.observe(contact.id, group_of(contact), how, outcome in ANSWERED)
            await self._store.answer_stats.add(
                self.campaign_id,
                [(r.scope, r.key, r.bucket, r.tries, r.answers, r.expected) for r in rows],
            )
        fresh = await self._store.contacts.get(contact.id)
        if fresh is not None:
            await self._store.contacts.set_scores([(fresh.id, self.score(fresh, at))])

    async def refresh(self, now: float, *, force: bool = False) -> bool:
        """Rewrite every pending contact's score for the current hour, if
        :data:`REFRESH_S` has passed since the last time (or ``force``); True if it did."""
        if not force and self._refreshed_at is not None and now - self._refreshed_at < REFRESH_S:
            return False
        await self.load()
        self._refreshed_at = now
        contacts = self._store.contacts
        keys = await contacts.profile_keys(self.campaign_id)
        figures = {
            (segment, stated, zones): self.model.segment_ordering_probability(
                answer_group(segment, stated), hour_of_week(now, contact_zone(zones))
            )
            for segment, stated, zones in keys
        }
        await contacts.rescore_cold(
            self.campaign_id,
            figures,
            aging_s=AGING_S,
            default_propensity=DEFAULT_PROPENSITY,
        )
        warm = [int(k) for k in self.model.contacts_with_history()]
        rescored = []
        for record in await contacts.pending_among(self.campaign_id, warm):
            rescored.append((record.id, self.score(record, now)))
        await contacts.set_scores(rescored)
        log.info(
            "scores_refreshed", campaign=self.campaign_id, groups=len(keys), warm=len(rescored)
        )
        return True
