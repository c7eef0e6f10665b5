"""Contact selection: only a contact every rule allows is picked; refusals are recorded."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from dialguard.config import CampaignConfig, parse_campaign
from dialguard.engine.selection import Blocked, ContactPicker
from dialguard.law import NATIONAL_LIST_REGION
from dialguard.store import NewContact, Store

# Monday 2026-11-16 15:00 UTC: 10:00 in New York, 07:00 in Los Angeles (TCPA: 08–21).
NOW = dt.datetime(2026, 11, 16, 15, 0, tzinfo=dt.UTC).timestamp()
NY, LA = ("America/New_York",), ("America/Los_Angeles",)


def campaign(**extra: object) -> CampaignConfig:
    return parse_campaign({"id": "c1", "name": "C1", "caller_id": "+12025550123", **extra})


async def make_store(tmp_path: Path, contacts: list[NewContact], **extra: object) -> Store:
    store = await Store.open(tmp_path / "s.sqlite3")
    cfg = campaign(**extra)
    await store.campaigns.upsert("c1", "C1", cfg.model_dump_json(), state="active")
    await store.contacts.insert("c1", contacts, now=NOW - 10)
    return store


async def test_picks_highest_priority_allowed_and_records_skips(tmp_path: Path) -> None:
    store = await make_store(
        tmp_path,
        [
            NewContact(number="+12025550001", region="US", timezones=NY, priority=1),
            NewContact(number="+12025550002", region="US", timezones=NY, priority=9),
            NewContact(number="+13105550003", region="US", timezones=LA, priority=5),
        ],
    )
    await store.dnc.add(["+12025550002"], "internal", None, now=NOW - 100)
    picker = ContactPicker(store, campaign())
    got = await picker.next_contact("progressive", NOW)
    assert not isinstance(got, Blocked) and got is not None
    assert got.number == "+12025550001"  # 9 is on the DNC list, 5 is at 07:00 local
    assert (await store.contacts.get(got.id)).status == "in_progress"
    skips = {s.rule: s for s in await store.skips.between("c1", 0, NOW + 1)}
    assert set(skips) == {"dnc_internal", "calling_window"}
    ids = {c.number: c for c in [await store.contacts.get(i) for i in (1, 2, 3)] if c}
    assert ids["+12025550002"].status == "dnc"
    la = ids["+13105550003"]
    assert la.status == "pending"
    # parked until 08:00 in Los Angeles = 16:00 UTC
    assert la.next_attempt_at == NOW + 3600
    # nothing else is callable now; the in-progress contact is not offered twice
    assert await picker.next_contact("progressive", NOW) is None
    await store.close()


async def test_stale_national_list_blocks_the_whole_campaign(tmp_path: Path) -> None:
    store = await make_store(
        tmp_path,
        [NewContact(number="+12025550001", region="US", timezones=NY)],
        dnc={"lists": ["usdnc"]},
    )
    await store.dnc.record_list("usdnc", "2026-09-01", 10, now=NOW - 86400 * 60)
    picker = ContactPicker(store, campaign(dnc={"lists": ["usdnc"]}))
    got = await picker.next_contact("progressive", NOW)
    assert isinstance(got, Blocked) and got.rule == "dnc_list_stale"
    assert (await store.contacts.get(1)).status == "pending"
    await store.close()


async def test_settle_schedules_retry_or_closes(tmp_path: Path) -> None:
    store = await make_store(
        tmp_path,
        [NewContact(number=f"+1202555000{i}", region="US", timezones=NY) for i in range(1, 5)],
    )
    cfg = campaign()
    picker = ContactPicker(store, cfg)
    await picker.settle(1, "busy", NOW)
    await picker.settle(2, "connected", NOW)
    await picker.settle(3, "abandoned", NOW, opted_out=True)
    await picker.settle(4, "invalid", NOW)
    c = [await store.contacts.get(i) for i in range(1, 5)]
    assert c[0] is not None and c[0].status == "pending"
    assert c[0].next_attempt_at == NOW + cfg.retry.busy.delay_s
    assert [x.status for x in c if x] == ["pending", "done", "dnc", "exhausted"]
    assert all(x is not None and x.attempts == 1 for x in c)
    await store.close()


async def test_settle_of_a_claimed_contact_uses_its_claim_record(tmp_path: Path) -> None:
    """A call's contact is settled from the record claimed for it (the contact stayed
    in_progress since), not read again: the attempt count comes from that record."""
    store = await make_store(
        tmp_path, [NewContact(number="+12025550001", region="US", timezones=NY)]
    )
    cfg = campaign()
    picker = ContactPicker(store, cfg)
    got = await picker.next_contact("progressive", NOW)
    assert not isinstance(got, Blocked) and got is not None and got.attempts == 0
    # as if claimed after three earlier attempts: a re-read would count from 0 again
    await picker.settle(dataclasses.replace(got, attempts=3), "busy", NOW)
    c = await store.contacts.get(got.id)
    assert c is not None and c.status == "pending" and c.attempts == 4
    assert c.next_attempt_at == NOW + cfg.retry.busy.delay_s
    await store.close()


async def test_abandoned_number_locked_out_72h_unless_guaranteed(tmp_path: Path) -> None:
    store = await make_store(
        tmp_path, [NewContact(number="+12025550001", region="US", timezones=NY)]
    )
    aid = await store.attempts.open(
        campaign_id="c1", contact_id=1, number="+12025550001", mode="predictive", now=NOW - 7200
    )
    await store.attempts.mark_invited(aid, NOW - 7200, "call-1")
    await store.attempts.mark_answered(aid, NOW - 7190)
    await store.attempts.mark_abandoned(aid, "no_agent")
    await store.attempts.settle(aid, "abandoned", ended_at=NOW - 7180, ended_by="remote")
    # make the retry delay irrelevant: the lock-out is what is tested
    cfg = campaign(retry={"abandoned": {"delay_s": 259200, "max_attempts": 3}})
    picker = ContactPicker(store, cfg)
    assert await picker.next_contact("predictive", NOW) is None
    [skip] = await store.skips.between("c1", 0, NOW + 1)
    assert skip.rule in {"retry_delay", "abandon_lockout"}
    await store.close()


async def test_concurrent_picks_never_return_the_same_contact(tmp_path: Path) -> None:
    store = await make_store(
        tmp_path,
        [NewContact(number=f"+1202555000{i}", region="US", timezones=NY) for i in range(1, 7)],
    )
    picker = ContactPicker(store, campaign())
    got = await asyncio.gather(*(picker.next_contact("progressive", NOW) for _ in range(8)))
    numbers = [c.number for c in got if c is not None and not isinstance(c, Blocked)]
    assert len(numbers) == 6 and len(set(numbers)) == 6
    assert got.count(None) == 2
    await store.close()


async def test_a_number_on_the_us_registry_is_never_picked_with_a_gb_default_region(
    tmp_path: Path,
) -> None:
    """Issue 17 item 1: the list imported with the shipped default_region = "GB" stored
    212-736-3100 as +442127363100, and the contact +12127363100 was picked."""
    from dialguard.importing import import_dnc

    store = await make_store(
        tmp_path,
        [NewContact(number="+12127363100", region="US", timezones=NY)],
        dnc={"lists": ["usdnc"]},
    )
    await import_dnc(store, [b"212-736-3100\n"], "usdnc", "2026-11-10", "GB")
    picker = ContactPicker(store, campaign(dnc={"lists": ["usdnc"]}))
    assert await picker.next_contact("progressive", NOW) is None
    contact = await store.contacts.get(1)
    assert contact is not None and contact.status == "dnc"
    assert [s.rule for s in await store.skips.between("c1", 0, NOW + 1)] == ["dnc_usdnc"]
    await store.close()


@pytest.mark.parametrize(
    ("regime", "listed_on", "writing", "numbers", "zone", "now"),
    [
        # 16:00 in Paris on Monday 16 November 2026
        ("france", "bloctel", "01 42 68 53 00", ("+33142685300", "+33142685301"),
         "Europe/Paris", NOW),
        # 10:00 in Sydney on Monday 16 November 2026 (23:00 UTC the day before)
        ("australia", "dncr", "(02) 9374 4000", ("+61293744000", "+61293744001"),
         "Australia/Sydney", NOW - 16 * 3600),
    ],
)  # fmt: skip
async def test_a_number_on_its_regimes_national_list_is_never_picked_with_a_gb_default_region(
    tmp_path: Path,
    regime: str,
    listed_on: str,
    writing: str,
    numbers: tuple[str, str],
    zone: str,
    now: float,
) -> None:
    """Bloctel and the Do Not Call Register, imported in their national writing under
    the shipped default_region = "GB": the listed contact is closed as DNC, the other
    one (same regime, same hour) is picked."""
    from dialguard.importing import import_dnc

    extra: dict[str, object] = {"calling_window": {"regime": regime}, "dnc": {"lists": [listed_on]}}
    region = NATIONAL_LIST_REGION[listed_on]
    store = await make_store(
        tmp_path,
        [NewContact(number=n, region=region, timezones=(zone,), priority=9 - i)
         for i, n in enumerate(numbers)],
        **extra,
    )  # fmt: skip
    report = await import_dnc(store, [writing.encode() + b"\n"], listed_on, "2026-11-10", "GB")
    assert (report.region, report.imported) == (region, 1)
    picker = ContactPicker(store, campaign(**extra))
    got = await picker.next_contact("progressive", now)
    assert got is not None and not isinstance(got, Blocked) and got.number == numbers[1]
    contact = await store.contacts.get(1)
    assert contact is not None and contact.status == "dnc"
    assert [s.rule for s in await store.skips.between("c1", 0, now + 1)] == [f"dnc_{listed_on}"]
    await store.close()


async def test_a_batch_is_claimed_and_checked_at_once_and_the_rest_given_back(
    tmp_path: Path,
) -> None:
    numbers = [f"+120255501{n:02d}" for n in range(8)]
    store = await make_store(
        tmp_path, [NewContact(number=n, region="US", timezones=NY) for n in numbers]
    )
    await store.dnc.add([numbers[1]], "internal", None, now=NOW - 100)
    picker = ContactPicker(store, campaign())
    # four launches at once: one refill claims a batch for all of them
    got = await asyncio.gather(*(picker.next_contact("progressive", NOW) for _ in range(4)))
    picked = [g.number for g in got if g is not None and not isinstance(g, Blocked)]
    assert len(set(picked)) == 4 and numbers[1] not in picked
    assert picker.prefetched >= 1  # claimed and allowed, waiting for the next launch
    waiting = picker.prefetched
    in_progress = await store.contacts.count("c1", "in_progress")
    assert in_progress == 4 + waiting
    # a pause gives the prefetched ones back
    await picker.release_prefetched()
    assert picker.prefetched == 0
    assert await store.contacts.count("c1", "in_progress") == 4
    # a prefetched contact older than its check is given back, not dialled
    more = await picker.next_contact("progressive", NOW)
    assert more is not None and not isinstance(more, Blocked)
    assert picker.prefetched == 1  # one launch waiting: a batch of two
    later = await picker.next_contact("progressive", NOW + 60)
    assert later is not None and not isinstance(later, Blocked) and later.id != more.id
    # the stale one went back to pending (and may have been claimed afresh): nothing leaks
    assert await store.contacts.count("c1", "in_progress") == 6 + picker.prefetched
    await store.close()


async def test_a_prefetched_contact_is_checked_again_when_dialled(tmp_path: Path) -> None:
    """Claimed and allowed at 20:59:59.5 in New York, it is not dialled at 21:00:00.5:
    the calling window closed between the check and the dial (TCPA 08–21)."""
    before_close = dt.datetime(2026, 11, 17, 1, 59, 59, 500000, tzinfo=dt.UTC).timestamp()
    numbers = ["+12025550001", "+12025550002", "+12025550003"]
    store = await make_store(
        tmp_path, [NewContact(number=n, region="US", timezones=NY) for n in numbers]
    )
    picker = ContactPicker(store, campaign())
    first = await picker.next_contact("progressive", before_close)
    assert first is not None and not isinstance(first, Blocked)
    assert picker.prefetched == 1  # one launch waiting: a batch of two
    late = await picker.next_contact("progressive", before_close + 1.0)
    assert late is None or isinstance(late, Blocked), late  # no one is called after 21:00
    assert picker.prefetched == 0
    # given back and parked until the window opens, not left in progress
    assert await store.contacts.count("c1", "in_progress") == 1  # only the first
    await store.close()
