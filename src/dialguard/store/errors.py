"""Errors the store raises, each naming the store file or the record concerned."""

from __future__ import annotations

import sqlite3
import sys

__all__ = ["SchemaTooNew", "StoreError", "UnknownRecord", "is_transient"]


class StoreError(Exception):
    """The store cannot do what was asked; the message says what and where."""


class SchemaTooNew(StoreError):
    """The file was written by a newer dialguard; writing to it could corrupt it."""

    def __init__(self, path: str, found: int, known: int) -> None:
        self.found = found
        self.known = known
        super().__init__(
            f"{path}: store schema version {found} is newer than this dialguard knows "
            f"({known}); upgrade dialguard or point store.path at another file"
        )


class UnknownRecord(StoreError, LookupError):
    """A campaign, contact or attempt id that is not in the store."""


def is_transient(error: BaseException) -> bool:
    """Could the same write succeed later? A full disk, a locked or unreachable file, an
    I/O error: yes (the engine retries and dials nothing new meanwhile). A constraint
    violation or a programming error: no (retrying would block every later write).

    On PostgreSQL, psycopg's ``OperationalError`` is the transient kind (a lost
    connection, the pool timing out, a full disk, a server shutting down, a deadlock or
    serialization failure); its integrity and programming errors are not. psycopg is
    looked up only if already imported: an SQLite store never loads it."""
    if isinstance(error, sqlite3.IntegrityError | sqlite3.ProgrammingError):
        return False
    if isinstance(error, sqlite3.OperationalError | sqlite3.DatabaseError | OSError):
        return True
    psycopg = sys.modules.get("psycopg")
    return psycopg is not None and isinstance(error, psycopg.OperationalError)
