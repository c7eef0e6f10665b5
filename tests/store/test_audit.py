"""The audit trail and the skips: append-only, values stored as given."""

from __future__ import annotations

from dialguard.store import Store
from tests.store.helpers import FakeClock, contact_id


async def test_skips_and_audit(store: Store, clock: FakeClock) -> None:
    cid = await contact_id(store)
    await store.skips.record("spring", cid, "calling_window", "21:05 in America/New_York")
    [s] = await store.skips.between("spring", 0, clock.now + 1)
    assert (s.contact_id, s.rule, s.reason, s.ts) == (
        cid,
        "calling_window",
        "21:05 in America/New_York",
        clock.now,
    )
    await store.audit.record(
        "supervisor:bo", "pacing.set", campaign_id="spring", old={"mode": "a"}, new={"mode": "b"}
    )
    last = (await store.audit.events("spring"))[-1]
    assert (last.action, last.old, last.new) == ("pacing.set", {"mode": "a"}, {"mode": "b"})
