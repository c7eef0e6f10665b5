"""Picking the next callable contact, and settling a contact after its attempt.

The store offers *due* contacts (pending, next attempt time passed, by priority); every
one passes the compliance gate (:mod:`dialguard.rules`) before it may be dialled.
A refusal is recorded in ``skips`` with its rule and reason, and the contact is parked
until the rule would allow it (``retry_at``) or closed for good (DNC, attempts used up),
so it is not examined again every second. The contact chosen is marked ``in_progress``
at once, so no second dial can pick it while its call is up.
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from dialguard.config import CampaignConfig
from dialguard.engine.handoff import HandoffDesk
from dialguard.engine.right_time import RightTime
from dialguard.law import BUILT_IN_LISTS, ListTerms
from dialguard.logs import get_logger
from dialguard.pacing.params import PacingMode
from dialguard.rules import (
    DIAL_MODE_OF,
    CallingWindow,
    ContactFacts,
    PastAttempt,
    Suppression,
    Verdict,
    check_contact,
)
from dialguard.rules.preferences import preferred_spans
from dialguard.store import AttemptRecord, ContactRecord, Store, SuppressionHit, UnknownRecord
from dialguard.store.records import AttemptOutcome, ContactStatus

log = get_logger(__name__)

HISTORY_S = 31 * 86400  # caps look back 30 days; a day's margin
PREFETCH_MAX = 32
"""At most this many contacts claimed in one transaction (and so waiting, checked)."""
PREFETCH_TTL_S = 2.0
"""A prefetched contact's check is trusted this long (a window closing, a cap reached
by another campaign's call); older ones are given back and claimed afresh."""
CAMPAIGN_WIDE_RULES = frozenset({"dnc_list_stale"})
CLOSED_BY_RULE: dict[str, ContactStatus] = {
    "dnc_internal": "dnc",
    "dnc_tps": "dnc",
    "dnc_ctps": "dnc",
    "dnc_usdnc": "dnc",
    "dnc_bloctel": "dnc",
    "dnc_dncr": "dnc",
    "dnc_declared": "dnc",
    "max_attempts": "exhausted",
    "no_retry_rule": "done",
    "timezone_unknown": "exhausted",
    "bad_contact_row": "exhausted",
    "voice_consent": "done",
    "preferred_channel": "done",  # handed over to its channel (engine/handoff.py)
}

# Attempt outcome (store) → the retry rule that governs the next try (config).
RETRY_KEY: dict[AttemptOutcome, str] = {
    "abandoned": "abandoned",
    "busy": "busy",
    "no_answer": "no_answer",
    "cancelled": "no_answer",
    "unavailable": "unavailable",
    "rejected": "failed",
    "failed": "failed",
    "voicemail": "voicemail",
    "interrupted": "interrupted",
}
FINAL_OUTCOMES: dict[AttemptOutcome, ContactStatus] = {"connected": "done", "invalid": "exhausted"}


@dataclass(frozen=True, slots=True)
class Blocked:
    """The whole campaign may not dial now (e.g. a national DNC list is stale)."""

    rule: str
    reason: str


def _epoch_of_date(text: str | None) -> float | None:
    if text is None:
        return None
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp()


def _past(a: AttemptRecord) -> PastAttempt:
    return PastAttempt(
        at=a.dialled_at,
        outcome=a.outcome or "in_progress",
        abandoned=a.abandoned,
        mode=DIAL_MODE_OF.get(a.mode, "guaranteed"),
        campaign=a.campaign_id,
        ended_at=a.ended_at if (a.ended_at is None or a.ended_at >= a.created_at) else None,
        answered_at=a.answered_at,
        connected_at=a.connected_at,
    )


def contact_facts(contact: ContactRecord, campaign_history: list[AttemptRecord]) -> ContactFacts:
    """The gate's view of a contact, from its row and this campaign's attempts to it."""
    counts: dict[str, int] = {}
    last: AttemptRecord | None = None
    # Attempts the trunk itself refused never reached the contact: not charged to them.
    campaign_history = [a for a in campaign_history if not a.trunk_fault]
    for a in campaign_history:
        if a.outcome is None:
            continue
        key = RETRY_KEY.get(a.outcome, a.outcome)
        counts[key] = counts.get(key, 0) + 1
        last = a
    last_outcome = RETRY_KEY.get(last.outcome, last.outcome) if last and last.outcome else None
    last_at = None
    if last is not None:
        last_at = last.ended_at if last.ended_at is not None else last.created_at
    return ContactFacts(
        number=contact.number,
        timezones=contact.timezones,
        priority=contact.priority,
        attempts=len([a for a in campaign_history if a.outcome is not None]),
        last_outcome=last_outcome,
        last_outcome_at=last_at if last_outcome is not None else None,
        outcome_counts=counts,
        preferred_hours=preferred_spans(contact.preferred_hours),
        voice_consent=contact.voice_consent,
        preferred_channel=contact.preferred_channel or None,
    )


@dataclass(slots=True)
class _Prefetched:
    """A contact claimed and allowed by every rule at ``checked_at``, for ``mode``, with
    the facts it was checked on: it is checked again on them when it is dialled, so a
    calling window that closed, a lock-out or cap that began in between, still holds."""

    contact: ContactRecord
    mode: PacingMode
    checked_at: float
    history: list[AttemptRecord]
    hits: list[SuppressionHit]
    lists: dict[str, float]


class ContactPicker:
    """Finds the next contact of one campaign that every rule allows calling now.

    Contacts are claimed in batches (one transaction marks a batch ``in_progress``) and
    checked as a set (the numbers' history and suppressions in one query each); those
    allowed beyond the one asked for wait in a small prefetch queue, so the next launches
    take theirs without a store round trip. A prefetched contact is used only within
    :data:`PREFETCH_TTL_S` of its check and for the dial mode it was checked for; older
    ones are given back (:meth:`release_prefetched` gives all back on a pause or a stop;
    after a crash ``release_orphans`` does). The batch grows with the launches waiting,
    so an idle campaign claims one contact at a time."""

    def __init__(
        self,
        store: Store,
        campaign: CampaignConfig,
        national_lists: Mapping[str, ListTerms] = BUILT_IN_LISTS,
    ) -> None:
        self._store = store
        self.campaign = campaign
        self._national_lists = national_lists  # built-in and declared ([[dnc_list]])
        self._window = CallingWindow.from_config(campaign.calling_window)
        # issue 15: the answer model and scores (order = expected_value), hand-offs
        self.right_time = RightTime(store, campaign.id)
        self.handoffs = HandoffDesk(store, campaign.id)
        # Refills run one at a time: two launches must not both find the queue empty and
        # claim (and hold) two batches for one dial each.
        self._lock = asyncio.Lock()
        self._queue: collections.deque[_Prefetched] = collections.deque()
        self._stale: list[int] = []  # claimed, no longer fit to dial: to give back
        self._waiting = 0

    def update_campaign(self, campaign: CampaignConfig) -> None:
        self.campaign = campaign
        self._window = CallingWindow.from_config(campaign.calling_window)
        self._drop_queue()  # checked under the old rules

    @property
    def prefetched(self) -> int:
        return len(self._queue)

    async def next_contact(self, mode: PacingMode, now: float) -> ContactRecord | Blocked | None:
        """The highest-priority allowed contact (now marked in_progress), a campaign-wide
        :class:`Blocked`, or None when nothing is callable at ``now``."""
        got = self._pop(mode, now)
        if got is not None:
            return got
        self._waiting += 1
        try:
            async with self._lock:
                got = self._pop(mode, now)  # a refill may have happened while we waited
                if got is not None:
                    return got
                return await self._refill(mode, now)
        finally:
            self._waiting -= 1

    async def release_prefetched(self) -> None:
        """Give back every contact claimed but not dialled (pause, stop, rules changed)."""
        self._drop_queue()
        async with self._lock:
            await self._give_back()

    def _drop_queue(self) -> None:
        self._stale.extend(p.contact.id for p in self._queue)
        self._queue.clear()

    def _pop(self, mode: PacingMode, now: float) -> ContactRecord | None:
        q = self._queue
        while q and now - q[0].checked_at > PREFETCH_TTL_S:
            self._stale.append(q.popleft().contact.id)
        for i, p in enumerate(q):
            if p.mode == mode:
                del q[i]
                if self._check(p.contact, p.history, p.hits, p.lists, mode, now).allowed:
                    return p.contact
                self._stale.append(p.contact.id)  # due again; the next refill parks it
                return None
        return None

    async def _give_back(self) -> None:
        if self._stale:
            ids, self._stale = self._stale, []
            await self._store.contacts.release_many(ids)

    async def _refill(self, mode: PacingMode, now: float) -> ContactRecord | Blocked | None:
        await self._give_back()
        lists = {
            source: t
            for source, info in (await self._store.dnc.list_dates()).items()
            if (t := _epoch_of_date(info.list_date)) is not None
        }
        if self.campaign.order == "expected_value":
            await self.right_time.refresh(now)
        await self.handoffs.retry_pending(now)  # those a crash or a broker outage left
        size = max(1, min(PREFETCH_MAX, 2 * self._waiting))
        while True:
            batch = await self._store.contacts.claim_due(
                self.campaign.id, now, size, order=self.campaign.order
            )
            if not batch:
                return None
            numbers = [c.number for c in batch]
            history = await self._store.attempts.to_numbers(numbers)
            hits = await self._store.dnc.lookup_many(numbers)
            first: ContactRecord | None = None
            for i, contact in enumerate(batch):
                verdict = self._check(
                    contact, history.get(contact.number, []), hits.get(contact.number, []),
                    lists, mode, now,
                )  # fmt: skip
                if verdict.allowed:
                    if first is None:
                        first = contact
                    else:
                        self._queue.append(
                            _Prefetched(
                                contact,
                                mode,
                                now,
                                history.get(contact.number, []),
                                hits.get(contact.number, []),
                                lists,
                            )
                        )
                    continue
                if verdict.rule in CAMPAIGN_WIDE_RULES:
                    self._drop_queue()
                    rest = [c.id for c in batch[i:]]
                    if first is not None:
                        rest.append(first.id)
                    self._stale.extend(rest)
                    await self._give_back()
                    return Blocked(verdict.rule, verdict.reason)
                await self._park(contact, verdict, now)
            if first is not None:
                return first

    def _check(
        self,
        contact: ContactRecord,
        every: list[AttemptRecord],
        hits: list[SuppressionHit],
        lists: dict[str, float],
        mode: PacingMode,
        now: float,
    ) -> Verdict:
        history = [a for a in every if a.created_at >= now - HISTORY_S]  # caps, lock-outs
        mine = [a for a in every if a.campaign_id == self.campaign.id]  # retries
        suppressions = [
            Suppression(source=h.source, list_date=_epoch_of_date(h.list_date)) for h in hits
        ]
        try:
            facts = contact_facts(contact, mine)
        except ValueError as e:  # a bad stored row (e.g. preferred hours): park, don't crash
            return Verdict.refuse("bad_contact_row", f"contact row cannot be checked: {e}")
        verdict = check_contact(
            facts,
            # calls still up (any campaign) count towards caps and lock-outs
            [_past(a) for a in history],
            suppressions,
            lists,
            self.campaign,
            DIAL_MODE_OF[mode],
            now,
            window=self._window,
            lists=self._national_lists,
        )
        return verdict

    async def _park(self, contact: ContactRecord, verdict: Verdict, now: float) -> None:
        """Record why the claimed contact was skipped; close it, or give it back due
        when the rule would allow it."""
        await self._store.skips.record(
            self.campaign.id, contact.id, verdict.rule, verdict.reason, now=now
        )
        if verdict.rule == "preferred_channel":
            await self.handoffs.hand_over(contact, verdict.reason, now)
        closed = CLOSED_BY_RULE.get(verdict.rule)
        if closed is not None or verdict.retry_at is None:
            await self._store.contacts.close(contact.id, closed or "exhausted")
        else:
            await self._store.contacts.release(contact.id, due_at=verdict.retry_at)
        log.debug(
            "contact_skipped", campaign=self.campaign.id, rule=verdict.rule, reason=verdict.reason
        )

    async def release(self, contact_id: int) -> None:
        """Put back a contact that was picked but never dialled."""
        await self._store.contacts.release(contact_id)

    async def settle(
        self,
        contact: int | ContactRecord,
        outcome: AttemptOutcome,
        ended_at: float,
        opted_out: bool = False,
        trunk_retry_at: float | None = None,
    ) -> None:
        """After an attempt: close the contact, or schedule its retry by the policy.

        ``contact``: its id (read first: recovery settles attempts of an earlier
        process), or the record this picker claimed for the attempt. A claimed contact
        stays ``in_progress`` until this settlement, so nothing else changed its attempt
        count meanwhile and the claim's record is used as is: a store read less per call.
        A contact deleted meanwhile is not settled, either way.

        ``trunk_retry_at``: the trunk refused the call itself (a 503 storm, no response):
        the attempt is not charged to the contact, who is due again once the trunk is."""
        if isinstance(contact, int):
            read = await self._store.contacts.get(contact)
            if read is None:
                return
            contact = read
        try:
            await self._settle(contact, outcome, ended_at, opted_out, trunk_retry_at)
        except UnknownRecord:
            return
        if trunk_retry_at is None:  # a trunk refusal says nothing about the person
            await self.right_time.observe(contact, outcome, ended_at)

    async def _settle(
        self,
        contact: ContactRecord,
        outcome: AttemptOutcome,
        ended_at: float,
        opted_out: bool,
        trunk_retry_at: float | None,
    ) -> None:
        contact_id = contact.id
        if trunk_retry_at is not None and not opted_out:
            await self._store.contacts.release(contact_id, due_at=trunk_retry_at)
            return
        attempts = contact.attempts + 1
        if opted_out:
            await self._store.contacts.settle(
                contact_id, "dnc", attempts=attempts, last_outcome=outcome
            )
            return
        final = FINAL_OUTCOMES.get(outcome)
        key = RETRY_KEY.get(outcome)
        rule = getattr(self.campaign.retry, key) if key else None
        if final is not None or rule is None:
            await self._store.contacts.settle(
                contact_id, final or "exhausted", attempts=attempts, last_outcome=outcome
            )
            return
        await self._store.contacts.settle(
            contact_id,
            "pending",
            attempts=attempts,
            last_outcome=outcome,
            next_attempt_at=ended_at + rule.delay_s,
        )
