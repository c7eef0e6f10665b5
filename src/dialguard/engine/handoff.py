"""Handing a contact to the channel they asked for, once, instead of dialling them.

The gate refuses a contact whose preferred channel is sms, email or none
(``preferred_channel``); the picker then calls :meth:`HandoffDesk.hand_over`, which

1. records the hand-off in the store (``handoffs``: UNIQUE per campaign and contact, so a
   second pick, a second engine start or a re-import records nothing new), then
2. publishes ``dialguard/handoff/{channel}`` with the contact and campaign
   (:class:`~dialguard.mqtt.contract.HandoffMessage`), then marks the row published.

A crash between 1 and 2, or a broker that is down, leaves the row unpublished;
:meth:`HandoffDesk.retry_pending` (called by the picker on its refills, at most once
every :data:`RETRY_S`) sends those. So each contact is handed
over once, and its event is published at least once — exactly once unless the engine
died between the publish and the mark (the event's ``handoff_id`` lets the consumer
drop that duplicate). The engine attaches its broker link's ``publish_handoff`` to each
campaign's desk (engine.py); without one (tests, the simulator) hand-offs are only
recorded and wait in the store.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from dialguard.logs import get_logger
from dialguard.mqtt.contract import HandoffMessage, encode
from dialguard.rules.preferences import handoff_channel
from dialguard.store import ContactRecord, Store
from dialguard.store.handoffs import HandoffRecord

__all__ = ["HandoffDesk", "Publish"]

log = get_logger(__name__)

Publish = Callable[[str, bytes], Awaitable[None]]
"""Publish (channel, payload) on ``{prefix}/handoff/{channel}`` with QoS 1; raises if the
broker did not take it."""

RETRY_S = 30.0
"""How often unpublished hand-offs are tried again (one indexed query each time)."""


class HandoffDesk:
    """One campaign's hand-offs (see the module docstring)."""

    def __init__(
        self,
        store: Store,
        campaign_id: str,
        publish: Publish | None = None,
    ) -> None:
        self._store = store
        self.campaign_id = campaign_id
        self.publish = publish
        self._retried_at = float("-inf")

    async def hand_over(self, contact: ContactRecord, reason: str, now: float) -> bool:
        """Record and publish the contact's hand-off; False if it had been handed over."""
        channel = handoff_channel(contact.preferred_channel)
        if channel is None:
            raise ValueError(f"contact {contact.id} prefers voice: nothing to hand over")
        row = await self._store.handoffs.record(
            self.campaign_id, contact.id, channel, reason, now=now
        )
        if row is None:
            return False
        log.info(
            "contact_handed_over",
            campaign=self.campaign_id,
            contact=contact.id,
            number=contact.number,  # masked by the log pipeline (dialguard.logs)
            channel=channel,
        )
        await self._publish(row, contact, now)
        return True

    async def publish_pending(self, now: float) -> int:
        """Publish hand-offs recorded but not published (after a crash); how many."""
        sent = 0
        for row in await self._store.handoffs.unpublished(self.campaign_id):
            contact = await self._store.contacts.get(row.contact_id)
            if contact is not None and await self._publish(row, contact, now):
                sent += 1
        return sent

    async def retry_pending(self, now: float) -> int:
        """:meth:`publish_pending`, at most once every :data:`RETRY_S` (0 if skipped)."""
        if self.publish is None or now - self._retried_at < RETRY_S:
            return 0
        self._retried_at = now
        return await self.publish_pending(now)

    async def _publish(self, row: HandoffRecord, contact: ContactRecord, now: float) -> bool:
        if self.publish is None:
            return False
        message = HandoffMessage(
            handoff_id=row.id,
            campaign=row.campaign_id,
            contact_id=contact.id,
            number=contact.number,
            name=contact.name,
            channel=row.channel,
            reason=row.reason,
            segment=contact.segment,
            offer_key=contact.offer_key,
            voice_consent=contact.voice_consent,
            at=row.created_at,
        )
        try:
            await self.publish(row.channel, encode(message))
        except Exception as e:  # the broker is down: the row waits for publish_pending
            log.warning("handoff_publish_failed", handoff=row.id, error=repr(e))
            return False
        await self._store.handoffs.mark_published(row.id, now)
        return True
