"""Fixtures of the store's tests: a store with one campaign, on a hand-set clock, on each
backend — the SQLite file and a PostgreSQL database of its own (``pg_url``) — so one
suite is the contract both keep.

PostgreSQL is skipped, saying why, only when nothing answers on ``DIALGUARD_TEST_PG``
(default ``postgresql://postgres@127.0.0.1:5432/postgres``); a test that is about SQLite
itself (its file, WAL, locks) is marked ``sqlite_only``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from dialguard.store import Store
from tests.store.helpers import FakeClock
from tests.support.postgres import scratch_database

BACKENDS = ["sqlite", "postgresql"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sqlite_only: about the SQLite file itself")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    if name != "sqlite" and request.node.get_closest_marker("sqlite_only"):
        pytest.skip("about the SQLite file itself")
    return name


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database, dropped after the test."""
    with scratch_database() as url:
        yield url


@pytest.fixture
def location(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Path | str:
    """Where the test's store is: a file, or a scratch PostgreSQL database."""
    if backend == "sqlite":
        return tmp_path / "store.sqlite3"
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
async def store(location: Path | str, clock: FakeClock) -> AsyncIterator[Store]:
    async with await Store.open(location, clock=clock) as s:
        await s.campaigns.upsert("spring", "Spring renewals", '{"id": "spring"}')
        yield s
