"""Reading CSV records from bytes: line numbers, bad UTF-8 per line, blanks, bad quoting."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dialguard.importing.records import BadRecord, CsvRecords, Record, opened, sniff_delimiter


def read(data: bytes) -> list[Record | BadRecord]:
    return list(CsvRecords(data.splitlines(keepends=True)))


def test_records_carry_their_physical_line_numbers() -> None:
    out = read(b"a,b\n1,2\n\n3,4\n")
    assert out == [
        Record(1, ["a", "b"], "a,b"),
        Record(2, ["1", "2"], "1,2"),
        Record(4, ["3", "4"], "3,4"),
    ]


def test_blank_lines_and_rows_of_empty_cells_are_skipped() -> None:
    out = read(b"a,b\n\n   \n,,\n\r\n1,2\n")
    assert [r.line for r in out] == [1, 6]


def test_utf8_bom_is_removed_and_crlf_accepted() -> None:
    out = read(b"\xef\xbb\xbfnumber,name\r\n+442079460000,Zo\xc3\xab\r\n")
    assert out == [
        Record(1, ["number", "name"], "number,name"),
        Record(2, ["+442079460000", "Zoë"], "+442079460000,Zoë"),
    ]


def test_invalid_utf8_is_reported_with_byte_and_character_column() -> None:
    # "Zoë" is 4 bytes but 3 characters: the column counts characters, from 1.
    out = read(b"name,number\nZo\xc3\xab Caf\xe9,0207\nok,1\n")
    assert out[1] == BadRecord(2, "not valid UTF-8 (byte 0xe9 at column 8)", "Zoë Caf\\xe9,0207")
    assert out[2] == Record(3, ["ok", "1"], "ok,1")


def test_windows_1252_line_reports_the_first_bad_byte() -> None:
    out = read(b"h\n\x93quoted\x94\n")
    assert out[1] == BadRecord(2, "not valid UTF-8 (byte 0x93 at column 1)", "\\x93quoted\\x94")


def test_quoted_field_spanning_lines_keeps_numbering_right() -> None:
    out = read(b'name,n\n"two\nlines",1\nnext,2\n')
    assert out[1] == Record(2, ["two\nlines", "1"], '"two\nlines",1')
    assert out[2] == Record(4, ["next", "2"], "next,2")


def test_bad_byte_inside_a_multiline_record_names_its_own_line() -> None:
    out = read(b'name,n\n"two\nli\xffnes",1\nnext,2\n')
    assert out[1] == BadRecord(3, "not valid UTF-8 (byte 0xff at column 3)", '"two\nli\\xffnes",1')
    assert out[2].line == 4


def test_text_after_closing_quote_is_reported_and_reading_continues() -> None:
    out = read(b'a,b\n"x"y,1\n2,3\n')
    assert out[1] == BadRecord(
        2, "malformed CSV (text after a closing quote; quote the whole field)", '"x"y,1'
    )
    assert out[2] == Record(3, ["2", "3"], "2,3")


def test_unterminated_quote_is_reported_at_its_line() -> None:
    out = read(b'a,b\n1,2\n"open,3\n4,5\n')
    assert out[:2] == [Record(1, ["a", "b"], "a,b"), Record(2, ["1", "2"], "1,2")]
    assert out[2] == BadRecord(
        3, "unterminated quoted field (runs from line 3 to the end of file)", '"open,3\n4,5'
    )


def test_str_lines_are_accepted_too() -> None:
    out = list(CsvRecords(["\ufeffnumber\n", "+442079460000\n"]))
    assert out == [Record(1, ["number"], "number"), Record(2, ["+442079460000"], "+442079460000")]


def test_bytes_read_reaches_the_file_size(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(b"a,b\n1,2\n3,4")
    with opened(path) as (lines, total):
        records = CsvRecords(lines)
        assert len(list(records)) == 3
        assert records.bytes_read == total == 11


def test_semicolon_and_tab_files_are_recognised_from_the_first_line() -> None:
    assert read(b"name;number\nAnn;020 7946 0000\n")[1] == Record(
        2, ["Ann", "020 7946 0000"], "Ann;020 7946 0000"
    )
    assert read(b"name\tnumber\nAnn\t1\n")[1].fields == ["Ann", "1"]  # type: ignore[union-attr]
    # A comma anywhere in the first line keeps the comma, even if ';' is also there.
    assert read(b"name,note\nAnn,a;b\n")[1].fields == ["Ann", "a;b"]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("first", "expected"),
    [("a,b", ","), ("a;b;c", ";"), ("a\tb", "\t"), ("a|b", "|"), ("number", ","), ("", ",")],
)
def test_sniff_delimiter(first: str, expected: str) -> None:
    assert sniff_delimiter(first) == expected


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=40), max_size=12))
def test_any_bytes_are_read_without_raising_and_in_line_order(chunks: list[bytes]) -> None:
    lines = [c.replace(b"\n", b"") + b"\n" for c in chunks]
    out = list(CsvRecords(lines))
    numbers = [r.line for r in out]
    assert numbers == sorted(set(numbers))
    assert all(1 <= n <= len(lines) for n in numbers)
    for r in out:
        r.raw.encode("utf-8")  # always printable / writable, bad bytes escaped
