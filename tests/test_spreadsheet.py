"""The CSV injection rule, cell by cell, and through both writers."""

from __future__ import annotations

import csv
import io

import pytest

from dialguard.spreadsheet import SafeCsvWriter, SafeDictWriter, safe_cell


@pytest.mark.parametrize(
    "cell", ["=cmd|' /C calc'!A0", "+44 20 7946", "-2+3", "@SUM(A1:A2)", "\tx", "\rx"]
)
def test_formula_leading_text_is_quoted(cell: str) -> None:
    assert safe_cell(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["Alice", "", "a=b", " =x", "'=x", 0, -0.5, 12, None])
def test_other_cells_are_unchanged(cell: object) -> None:
    assert safe_cell(cell) == cell


def test_both_writers_escape_every_cell() -> None:
    out = io.StringIO()
    SafeCsvWriter(out, lineterminator="\n").writerow(["=1+1", -1, "ok"])
    d = SafeDictWriter(out, ["a", "b"], lineterminator="\n")
    d.writerow({"a": "@SUM(A1)", "b": "fine"})
    assert list(csv.reader(io.StringIO(out.getvalue()))) == [
        ["'=1+1", "-1", "ok"],
        ["'@SUM(A1)", "fine"],
    ]
