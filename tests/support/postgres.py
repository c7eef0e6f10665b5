"""Scratch PostgreSQL databases for tests and benchmarks: one per use, dropped after.

The server is ``$DIALGUARD_TEST_PG`` (a URL of a database to connect to for CREATE and
DROP), else PostgreSQL on 127.0.0.1:5432 as ``postgres``. When nothing answers there
the test is skipped with the reason; CI (.ci/run) starts one, so it never skips there.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest

ADMIN_URL = os.environ.get("DIALGUARD_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def server_answers(url: str = ADMIN_URL) -> bool:
    parts = urlsplit(url)
    try:
        socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5432), 1).close()
    except OSError:
        return False
    return True


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


@contextlib.contextmanager
def scratch_database(prefix: str = "dialguard_test") -> Iterator[str]:
    """The URL of a new, empty database; dropped (connections and all) afterwards."""
    if not server_answers():
        pytest.skip(f"no PostgreSQL answers at {ADMIN_URL} (set DIALGUARD_TEST_PG)")
    import psycopg

    name = f"{prefix}_{secrets.token_hex(6)}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _with_database(ADMIN_URL, name)
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
