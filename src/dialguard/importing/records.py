"""CSV records from a file of bytes, each with its line number, bad bytes caught per line.

Contact lists arrive from spreadsheets, CRMs and other diallers; some are in Windows-1252,
some have a UTF-8 byte-order mark, some have a stray Latin-1 byte in one name. One bad
line must not stop an import, and the operator needs to find it, so this reader:

- decodes each physical line on its own, in UTF-8 unless told another encoding (see
  ``importing/encoding.py`` for how the import chooses one); a line that does not decode
  is reported as ``not valid UTF-8 (byte 0xe9 at column 12)`` (column counted in
  characters, from 1) and the rest of the file is read normally;
- parses CSV with the standard library (RFC 4180 quoting, quoted fields may span lines),
  and numbers each record by the physical line it starts on, so the reported line is the
  one an editor shows;
- takes the field separator from the first line (``;`` and tab files are common);
- skips blank lines (and rows whose fields are all empty, as spreadsheets export them);
- reports a malformed record (say, a stray quote) and carries on with the next line;
- counts bytes read, for a progress bar.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "BadRecord",
    "CsvRecords",
    "LineSource",
    "Record",
    "describe_source",
    "opened",
    "sniff_delimiter",
]

_BOM = b"\xef\xbb\xbf"

LineSource = Path | str | os.PathLike[str] | Iterable[bytes | str]
"""A file path, or lines (bytes or str) already in memory, e.g. in tests."""


@dataclass(frozen=True, slots=True)
class Record:
    """One CSV record: its fields, the line it starts on, and its text as read."""

    line: int
    fields: list[str]
    raw: str


@dataclass(frozen=True, slots=True)
class BadRecord:
    """A record that could not be read as text or CSV, and why."""

    line: int
    reason: str
    raw: str


class _Lines:
    """Physical lines as str for the csv module, remembering numbers and decoding faults."""

    def __init__(self, raw_lines: Iterator[bytes | str], encoding: str) -> None:
        self._raw = raw_lines
        self._encoding = encoding
        self.lineno = 0
        self.bytes_read = 0
        # Lines handed to the csv reader for the record being read: (number, text).
        self.pending: list[tuple[int, str]] = []
        # Line number → (offending byte, 1-based character column) for undecodable lines.
        self.faults: dict[int, tuple[int, int]] = {}
        self._peeked: tuple[int, str] | None = None

    def __iter__(self) -> _Lines:
        return self

    def peek(self) -> str:
        """The next line without consuming it ("" at the end)."""
        if self._peeked is None:
            try:
                self._peeked = self._read()
            except StopIteration:
                return ""
        return self._peeked[1]

    def __next__(self) -> str:
        if self._peeked is not None:
            line = self._peeked
            self._peeked = None
        else:
            line = self._read()
        self.pending.append(line)
        return line[1]

    def _read(self) -> tuple[int, str]:
        item = next(self._raw)
        self.lineno += 1
        if isinstance(item, str):
            self.bytes_read += len(item)
            text = item.removeprefix("\ufeff") if self.lineno == 1 else item
        else:
            self.bytes_read += len(item)
            enc = self._encoding
            if self.lineno == 1 and enc == "utf-8" and item.startswith(_BOM):
                item = item[len(_BOM) :]
            try:
                text = item.decode(enc)
            except UnicodeDecodeError as e:
                column = len(item[: e.start].decode(enc)) + 1
                self.faults[self.lineno] = (item[e.start], column)
                # Keep reading the record's structure; the record is rejected later.
                text = item.decode(enc, "surrogateescape")
        return self.lineno, text


_DELIMITERS = (",", ";", "\t", "|")


def sniff_delimiter(first_line: str) -> str:
    """The field separator of a file from its first line: a comma unless it has none and
    another separator is there (spreadsheets in many European locales export ``;``)."""
    if "," in first_line:
        return ","
    counts = {d: first_line.count(d) for d in _DELIMITERS[1:]}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _shown(text: str) -> str:
    """Text as it can be written to a terminal or a UTF-8 file (bad bytes as \\xe9)."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


class CsvRecords:
    """Iterate the records of a CSV text, numbered by physical line; bad ones as BadRecord.

    The separator is ``delimiter`` if given, else sniffed from the first line (``,``,
    ``;``, tab or ``|``). Byte lines are decoded in ``encoding`` (a name
    :func:`~dialguard.importing.encoding.check_encoding` accepted). Bad content never
    raises; only I/O errors propagate.
    ``bytes_read`` tells a progress bar how far the reader has got.
    """

    def __init__(
        self, lines: Iterable[bytes | str], delimiter: str | None = None, encoding: str = "utf-8"
    ) -> None:
        self._source = _Lines(iter(lines), encoding)
        self._encoding_label = "UTF-8" if encoding == "utf-8" else encoding
        self._delimiter = delimiter
        self.delimiter = delimiter or ","

    @property
    def bytes_read(self) -> int:
        return self._source.bytes_read

    def __iter__(self) -> Iterator[Record | BadRecord]:
        source = self._source
        if self._delimiter is None:
            self.delimiter = sniff_delimiter(source.peek())
        reader = csv.reader(source, delimiter=self.delimiter, strict=True)
        while True:
            source.pending.clear()
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as e:
                yield _malformed(source.pending, e)
                continue
            first = source.pending[0][0]
            raw = "".join(t for _, t in source.pending).rstrip("\r\n")
            fault = next((n for n, _ in source.pending if n in source.faults), None)
            if fault is not None:
                byte, column = source.faults[fault]
                reason = f"not valid {self._encoding_label} (byte 0x{byte:02x} at column {column})"
                yield BadRecord(fault, reason, _shown(raw))
                continue
            if not any(f.strip() for f in fields):
                continue  # blank line, or a row of empty cells
            yield Record(first, fields, raw)


def _malformed(pending: list[tuple[int, str]], error: csv.Error) -> BadRecord:
    first = pending[0][0] if pending else 0
    raw = _shown("".join(t for _, t in pending)).rstrip("\r\n")
    if str(error).startswith("unexpected end of data"):
        return BadRecord(
            first, f"unterminated quoted field (runs from line {first} to the end of file)", raw
        )
    message = str(error)
    if message.startswith("',' expected after '\"'"):
        message = "text after a closing quote; quote the whole field"
    return BadRecord(first, f"malformed CSV ({message})", raw)


def describe_source(source: LineSource) -> str:
    """How to name ``source`` in the audit trail: its path, or ``<lines>``."""
    return str(source) if isinstance(source, str | os.PathLike) else "<lines>"


@contextmanager
def opened(source: LineSource) -> Iterator[tuple[Iterable[bytes | str], int | None]]:
    """The lines of ``source`` and its size in bytes (None when not a file).

    Raises OSError (FileNotFoundError, IsADirectoryError…) for a path that cannot be read.
    """
    if isinstance(source, str | os.PathLike):
        with Path(source).open("rb") as f:
            yield f, os.fstat(f.fileno()).st_size
    else:
        yield source, None
