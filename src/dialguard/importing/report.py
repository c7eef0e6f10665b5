"""What an import did: rows read, stored, already there, and every rejected row with why.

The same report serves the terminal summary, the ``--rejects`` file and tests, so every
reject carries the physical line number an editor shows, the exact reason, and the line
as read (undecodable bytes shown as ``\\xe9``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from dialguard.spreadsheet import SafeCsvWriter

__all__ = ["ImportReport", "Reject", "write_rejects"]


@dataclass(frozen=True, slots=True)
class Reject:
    line: int
    reason: str
    raw: str


@dataclass
class ImportReport:
    """Counts of one import. ``read`` counts data rows (not the header, not blank lines)."""

    read: int = 0
    imported: int = 0
    duplicates_in_store: int = 0
    rejects: list[Reject] = field(default_factory=list)
    encoding: str = "utf-8"  # the file was read in this encoding (see importing/encoding)
    encoding_how: str = "default"  # given, byte-order mark, valid UTF-8, detected, …
    region: str = ""  # numbers without +country were read as this country's (DNC lists)
    region_how: str = ""  # why that region: the list's country, or the configured default

    @property
    def rejected(self) -> int:
        return len(self.rejects)

    def counts(self) -> dict[str, int]:
        """The figures without the rejects, for the audit trail and logs."""
        return {
            "read": self.read,
            "imported": self.imported,
            "already_present": self.duplicates_in_store,
            "rejected": self.rejected,
        }


def write_rejects(path: Path, rejects: Iterable[Reject]) -> int:
    """Write rejects as CSV (line, reason, raw) to ``path``; the number written.

    The raw column holds the rejected line as read, so the file can be fixed and
    re-imported (the import is idempotent). Cells that a spreadsheet would run as a
    formula get a leading ``'`` (:mod:`dialguard.spreadsheet`): strip it before re-import.
    """
    n = 0
    with path.open("w", encoding="utf-8", newline="") as f:
        w = SafeCsvWriter(f)
        w.writerow(["line", "reason", "raw"])
        for r in rejects:
            w.writerow([r.line, r.reason, r.raw])
            n += 1
    return n
