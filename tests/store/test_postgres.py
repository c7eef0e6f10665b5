"""The PostgreSQL database under the repositories: placeholders translated without
touching string literals, rows by index and by name, concurrent transactions apart,
and a password never taken from the URL."""

from __future__ import annotations

import asyncio

import pytest

from dialguard.config.engine import StoreConfig
from dialguard.store import Store
from dialguard.store.postgres import PgRow, translate
from tests.store.helpers import contact


def test_placeholders_are_translated_outside_string_literals() -> None:
    assert translate("SELECT ? WHERE a = '?' AND b LIKE 'x%' AND c % 2 = ?") == (
        "SELECT %s WHERE a = '?' AND b LIKE 'x%%' AND c %% 2 = %s"
    )


def test_a_row_answers_by_index_by_name_and_unpacks() -> None:
    row = PgRow((1, "spring"), {"id": 0, "campaign_id": 1})
    assert (row[0], row["campaign_id"], row.keys(), tuple(row)) == (
        1,
        "spring",
        ["id", "campaign_id"],
        (1, "spring"),
    )


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_two_stores_on_one_database_see_each_others_commits(
    store: Store, location: str
) -> None:
    async with await Store.open(location) as other:
        await other.contacts.insert("spring", [contact("+442079460000")])
    assert await store.contacts.count("spring") == 1


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_concurrent_transactions_each_commit_their_own_rows(store: Store) -> None:
    async def dial(i: int) -> int:
        return await store.attempts.open(
            campaign_id="spring", contact_id=None, number="+442079460000", mode="p", now=float(i)
        )

    ids = await asyncio.gather(*(dial(i) for i in range(40)))
    assert len(set(ids)) == 40
    assert await store.attempts.count("spring") == 40


def test_a_password_in_the_store_url_is_refused() -> None:
    with pytest.raises(ValueError, match="DIALGUARD_STORE__PASSWORD"):
        StoreConfig(url="postgresql://dialguard:s3cret@db:5432/dialguard")


def test_the_user_name_is_added_to_the_url_and_the_password_kept_apart() -> None:
    cfg = StoreConfig(url="postgresql://db:5432/dialguard", username="dg", password="s3cret")  # type: ignore[arg-type]
    assert cfg.location == "postgresql://dg@db:5432/dialguard"
    assert cfg.secret == "s3cret" and "s3cret" not in str(cfg.location)
