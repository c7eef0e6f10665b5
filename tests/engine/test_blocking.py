"""A campaign's blocking reasons (engine.blocking): each one the store can show — no
list imported, a list too old, nobody to call, everybody outside their calling window,
nobody due yet — and each one only the engine knows, in words that say what to do."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dialguard.config import CampaignConfig, parse_campaign
from dialguard.engine.blocking import live_reasons, store_reasons
from dialguard.store import NewContact, Store

NOW = 1_800_000_000.0  # 2027-01-15
DAY = 86400.0


def _campaign(**extra: Any) -> CampaignConfig:
    return parse_campaign(
        {
            "id": "spring",
            "name": "Spring",
            "caller_id": "+442079460000",
            "calling_window": {"regime": "none"},
            **extra,
        }
    )


async def _store(tmp_path: Path) -> Store:
    store = await Store.open(tmp_path / "s.sqlite3")
    await store.campaigns.upsert("spring", "Spring", "{}")
    return store


async def test_a_tps_list_never_imported_and_no_contacts(tmp_path: Path) -> None:
    async with await _store(tmp_path) as store:
        reasons = await store_reasons(store, _campaign(dnc={"lists": ["tps"]}), NOW)
    assert [r.code for r in reasons] == ["dnc_list_missing", "no_contacts"]
    assert "TPS list was never imported" in reasons[0].message
    assert "dialguard import dnc FILE --source tps" in reasons[0].message
    assert "dialguard import contacts FILE --campaign spring" in reasons[1].message


async def test_a_stale_list_is_named_with_its_age(tmp_path: Path) -> None:
    async with await _store(tmp_path) as store:
        await store.dnc.record_list("tps", "2026-12-01", 10, now=NOW)
        await store.contacts.insert("spring", [NewContact(number="+442079460101", region="GB")])
        reasons = await store_reasons(store, _campaign(dnc={"lists": ["tps"]}), NOW)
        await store.dnc.record_list("tps", "2027-01-10", 10, now=NOW)
        fresh = await store_reasons(store, _campaign(dnc={"lists": ["tps"]}), NOW)
    assert [r.code for r in reasons] == ["dnc_list_stale"]
    assert "days old" in reasons[0].message
    assert fresh == []


async def test_everyone_outside_their_window_or_not_yet_due(tmp_path: Path) -> None:
    async with await _store(tmp_path) as store:
        await store.contacts.insert(
            "spring",
            [NewContact(number=f"+4420794601{n:02d}", region="GB") for n in range(2)],
        )
        contacts = {c.number: c.id for c in await store.contacts.due("spring", NOW, 10)}
        first, second = contacts.values()
        await store.contacts.defer(first, NOW + 3600)
        await store.contacts.defer(second, NOW + 7200)
        await store.skips.record("spring", first, "calling_window", "before 08:00", now=NOW)
        window = await store_reasons(store, _campaign(), NOW)
        await store.skips.record("spring", first, "retry_delay", "busy 15 min ago", now=NOW)
        later = await store_reasons(store, _campaign(), NOW)
        await store.contacts.close(first, "done")
        await store.contacts.close(second, "exhausted")
        spent = await store_reasons(store, _campaign(), NOW)
    assert [r.code for r in window] == ["outside_calling_window"]
    assert "next of 2 contacts may be called from 2027-01-15 09:00 UTC" in window[0].message
    assert [r.code for r in later] == ["nothing_due"]
    assert "(retry_delay)" in later[0].message
    assert [r.code for r in spent] == ["no_contacts"]
    assert "all 2 are done" in spent[0].message


def test_what_only_the_engine_knows() -> None:
    prompt = Path(__file__).resolve().parents[2] / "src/dialguard/demo/prompts/info-example.wav"
    c = _campaign(pacing={"mode": "predictive"}, information_message=str(prompt))
    clear = live_reasons(
        c,
        agents_in_group=3,
        agents_synced=True,
        store_writes_ok=True,
        trunk_paused=None,
        governor="open",
    )
    assert clear == []
    held = live_reasons(
        c,
        agents_in_group=0,
        agents_synced=True,
        store_writes_ok=False,
        trunk_paused="503 storm",
        governor="spent",
    )
    assert [r.code for r in held] == [
        "no_agents",
        "store_not_writable",
        "trunk_paused",
        "abandon_cap_spent",
    ]
    assert "group 'default'" in held[0].message and "503 storm" in held[2].message
    unsynced = live_reasons(
        c,
        agents_in_group=0,
        agents_synced=False,
        store_writes_ok=True,
        trunk_paused=None,
        governor="open",
    )
    assert [r.code for r in unsynced] == ["agents_not_synced"]
