"""CSV cells a spreadsheet will not run: the one rule for every CSV dialguard writes.

A supervisor opens import rejects and reports in a spreadsheet. A cell that starts with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read there as a formula
(``=HYPERLINK(…)``, ``@SUM(…)``), so a contact list could make the supervisor's
spreadsheet run what its author wrote (CSV injection). Following the OWASP rule, such a
text cell is written with a leading single quote, which spreadsheets show as text and
which a reader can strip to get the value back. Numbers (``int``, ``float``) are written
as they are: ``-0.5`` is a value, not a formula, and stays one.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from typing import IO, Any, Final

FORMULA_LEADS: Final = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """``value`` as a CSV cell no spreadsheet evaluates (text only; numbers unchanged)."""
    if isinstance(value, str) and value.startswith(FORMULA_LEADS):
        return "'" + value
    return value


def safe_row(row: Iterable[Any]) -> list[Any]:
    return [safe_cell(v) for v in row]


class SafeCsvWriter:
    """``csv.writer`` whose every cell passes through :func:`safe_cell`."""

    def __init__(self, out: IO[str], **fmt: Any) -> None:
        self._w = csv.writer(out, **fmt)

    def writerow(self, row: Sequence[Any]) -> None:
        self._w.writerow(safe_row(row))


class SafeDictWriter:
    """``csv.DictWriter`` whose every cell passes through :func:`safe_cell`."""

    def __init__(self, out: IO[str], fields: Sequence[str], **fmt: Any) -> None:
        self._w = csv.DictWriter(out, fields, **fmt)

    def writeheader(self) -> None:
        self._w.writeheader()

    def writerow(self, row: Mapping[str, Any]) -> None:
        self._w.writerow({k: safe_cell(v) for k, v in row.items()})
