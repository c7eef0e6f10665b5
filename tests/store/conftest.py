"""Fixtures of the store's tests: a store file with one campaign, on a hand-set clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from dialguard.store import Store
from tests.store.helpers import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def store(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Store]:
    async with await Store.open(tmp_path / "store.sqlite3", clock=clock) as s:
        await s.campaigns.upsert("spring", "Spring renewals", '{"id": "spring"}')
        yield s
