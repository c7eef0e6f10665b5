"""Contact-profile columns: good values stored as their canonical form, bad rows named."""

from __future__ import annotations

from pathlib import Path

import pytest

from dialguard.importing import import_contacts
from dialguard.store import Store

HEADER = (
    "number,voice_consent,consent_date,consent_source,preferred_channel,preferred_hours,"
    "segment,propensity,offer_key\n"
)


@pytest.fixture
async def store(tmp_path: Path) -> Store:
    s = await Store.open(tmp_path / "s.sqlite3")
    await s.campaigns.upsert("spring", "Spring", '{"id": "spring"}')
    return s


async def _import(store: Store, body: str):  # type: ignore[no-untyped-def]
    return await import_contacts(store, (HEADER + body).splitlines(True), "spring", "GB")


async def test_profile_fields_are_stored_canonical(store: Store) -> None:
    report = await _import(
        store,
        "020 7946 0000,Yes,2026-03-01,web form,SMS,mon-fri 18:00-20:00; Sat 10:00-12:00,"
        "retired,0.8,renew-A\n"
        "020 7946 0001,,,,,,,,\n",
    )
    assert report.rejects == []
    a, b = await store.contacts.due("spring", 2e9, 10)
    assert (a.voice_consent, a.consent_date, a.consent_source) == ("yes", "2026-03-01", "web form")
    assert (a.preferred_channel, a.segment, a.propensity, a.offer_key) == (
        "sms", "retired", 0.8, "renew-A",
    )  # fmt: skip
    assert a.preferred_hours == {"spans": "mon,tue,wed,thu,fri 18:00-20:00; sat 10:00-12:00"}
    assert (b.voice_consent, b.preferred_channel, b.propensity) == ("unknown", None, None)
    # the higher propensity scores higher in the stored ordering score
    assert a.order_score > b.order_score
    await store.close()


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("maybe,,,,,,,", "bad voice_consent 'maybe' (expected yes, no or unknown)"),
        ("yes,01/03/2026,,,,,,", "bad consent_date '01/03/2026' (expected a date YYYY-MM-DD)"),
        ("yes,,,fax,,,,", "bad preferred_channel 'fax' (expected voice, sms, email, none)"),
        ("yes,,,,,,1.5,", "bad propensity '1.5' (must be between 0 and 1)"),
        ("yes,,,,,,high,", "bad propensity 'high' (expected a number from 0 to 1)"),
        ("yes,,,,,,nan,", "bad propensity 'nan' (must be between 0 and 1)"),
        ("yes,,,,xyz 18:00-20:00,,,", "bad preferred_hours 'xyz 18:00-20:00' ('xyz' is not a day"),
        ("yes,,,,fri-mon 18:00-20:00,,,", "(day range fri-mon is backwards)"),
        ("yes,,,,mon 20:00-18:00,,,", "(start must be before end)"),
    ],
)
async def test_bad_profile_cell_rejects_its_row_naming_the_column(
    store: Store, row: str, reason: str
) -> None:
    report = await _import(store, f"020 7946 0000,{row}\n020 7946 0001,no,,,,,,,\n")
    [reject] = report.rejects
    assert reject.line == 2
    assert reason in reject.reason
    assert report.imported == 1  # the good row still goes in
    await store.close()


async def test_legacy_consent_column_yes_no_is_voice_consent(store: Store) -> None:
    lines = ["number,consent\n", "020 7946 0000,opt-out\n", "020 7946 0001,signed 2025\n"]
    await import_contacts(store, lines, "spring", "GB")
    a, b = await store.contacts.due("spring", 2e9, 10)
    assert (a.voice_consent, a.consent) == ("no", "opt-out")
    assert (b.voice_consent, b.consent) == ("unknown", "signed 2025")
    await store.close()
