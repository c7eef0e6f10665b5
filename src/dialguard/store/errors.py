"""Errors the store raises, each naming the store file or the record concerned."""

from __future__ import annotations

import sqlite3

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
    violation or a programming error: no (retrying would block every later write)."""
    if isinstance(error, sqlite3.IntegrityError | sqlite3.ProgrammingError):
        return False
    return isinstance(error, sqlite3.OperationalError | sqlite3.DatabaseError | OSError)
