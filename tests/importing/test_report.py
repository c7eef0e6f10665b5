"""The rejects file: every reject, with line, reason and raw text, readable back as CSV."""

from __future__ import annotations

import csv
from pathlib import Path

from dialguard.importing import ImportReport, Reject, write_rejects


def test_rejects_file_round_trips(tmp_path: Path) -> None:
    rejects = [
        Reject(4, "bad number: too short", 'Bob,"12",0'),
        Reject(5, "not valid UTF-8 (byte 0xe9 at column 4)", "Caf\\xe9,1"),
        Reject(13, "malformed CSV (x)", "two\nlines"),
    ]
    path = tmp_path / "rejects.csv"
    assert write_rejects(path, rejects) == 3
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["line", "reason", "raw"]
    assert [Reject(int(a), b, c) for a, b, c in rows[1:]] == rejects


def test_rejected_counts_the_rejects() -> None:
    report = ImportReport(read=3, imported=1, rejects=[Reject(2, "x", ""), Reject(3, "y", "")])
    assert report.rejected == 2


def test_rejects_file_escapes_formula_cells(tmp_path: Path) -> None:
    """A contact list could carry a formula into the supervisor's spreadsheet."""
    rejects = [Reject(2, "bad number: =cmd", '=cmd|" /C calc"!A0,1'), Reject(3, "x", "@SUM(A1)")]
    path = tmp_path / "rejects.csv"
    write_rejects(path, rejects)
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[1] == ["2", "bad number: =cmd", "'" + '=cmd|" /C calc"!A0,1']
    assert rows[2][2] == "'@SUM(A1)"
