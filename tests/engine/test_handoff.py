"""Hand-off to another channel: recorded and published once, across an engine restart."""

from __future__ import annotations

import json
from pathlib import Path

from dialguard.engine.handoff import HandoffDesk
from dialguard.engine.selection import ContactPicker
from dialguard.store import NewContact, Store
from tests.engine.test_selection import NOW, NY, campaign, make_store

SMS = NewContact("+12125550134", "US", NY, name="Ann", preferred_channel="sms", segment="s1")
VOICE = NewContact("+12125550135", "US", NY, name="Bob")


class Broker:
    def __init__(self, fail: bool = False) -> None:
        self.sent: list[tuple[str, dict[str, object]]] = []
        self.fail = fail

    async def publish(self, channel: str, payload: bytes) -> None:
        if self.fail:
            raise ConnectionError("broker down")
        self.sent.append((channel, json.loads(payload)))


async def test_other_channel_contact_is_handed_over_once_not_dialled(tmp_path: Path) -> None:
    store = await make_store(tmp_path, [SMS, VOICE])
    broker = Broker()
    picker = ContactPicker(store, campaign())
    picker.handoffs.publish = broker.publish
    picked = await picker.next_contact("progressive", NOW)
    assert picked is not None and not isinstance(picked, bool)
    assert picked.number == VOICE.number  # ann is not dialled
    [(channel, event)] = broker.sent
    assert channel == "sms"  # the link publishes it on {prefix}/handoff/sms
    assert (event["campaign"], event["number"], event["channel"]) == ("c1", SMS.number, "sms")
    assert "prefers sms" in str(event["reason"])
    [row] = await store.handoffs.all("c1")
    assert row.published_at is not None and "prefers sms" in row.reason
    ann = await store.contacts.get(int(str(event["contact_id"])))
    assert ann is not None and ann.status == "done"
    await store.close()


async def test_hand_off_is_idempotent_across_a_restart(tmp_path: Path) -> None:
    store = await make_store(tmp_path, [SMS])
    [ann] = await store.contacts.due("c1", NOW, 10)
    down = Broker(fail=True)
    desk = HandoffDesk(store, "c1", down.publish)
    assert await desk.hand_over(ann, "prefers sms", NOW) is True  # recorded, not published
    assert [h.published_at for h in await store.handoffs.unpublished("c1")] == [None]
    await store.close()

    # the engine restarts: same file, new desk; a second pick of ann records nothing
    store = await Store.open(tmp_path / "s.sqlite3")
    broker = Broker()
    desk = HandoffDesk(store, "c1", broker.publish)
    assert await desk.hand_over(ann, "prefers sms", NOW + 5) is False
    assert broker.sent == []
    assert await desk.publish_pending(NOW + 6) == 1  # the one the crash left unpublished
    assert await desk.publish_pending(NOW + 7) == 0
    assert len(broker.sent) == 1 and len(await store.handoffs.all("c1")) == 1
    assert await store.handoffs.unpublished("c1") == []
    await store.close()


async def test_unpublished_hand_offs_are_retried_by_the_picker_at_most_every_30_s(
    tmp_path: Path,
) -> None:
    store = await make_store(tmp_path, [SMS, VOICE])
    broker = Broker(fail=True)
    picker = ContactPicker(store, campaign())
    picker.handoffs.publish = broker.publish
    await picker.next_contact("progressive", NOW)  # ann recorded; the broker is down
    assert broker.sent == [] and len(await store.handoffs.unpublished("c1")) == 1
    broker.fail = False
    assert await picker.handoffs.retry_pending(NOW + 1) == 0  # the pick just looked
    assert await picker.handoffs.retry_pending(NOW + 31) == 1
    assert len(broker.sent) == 1 and await store.handoffs.unpublished("c1") == []
    assert await picker.handoffs.retry_pending(NOW + 62) == 0  # nothing left
    await store.close()
