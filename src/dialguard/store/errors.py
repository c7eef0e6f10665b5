"""Errors the store raises, each naming the store file or the record concerned."""

from __future__ import annotations

__all__ = ["SchemaTooNew", "StoreError", "UnknownRecord"]


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
