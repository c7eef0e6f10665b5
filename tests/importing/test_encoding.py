"""Choosing the encoding of a CSV file: given, or detected, telling a Windows export
apart from a UTF-8 file with one stray byte."""

from __future__ import annotations

import codecs
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from dialguard.importing import import_contacts
from dialguard.importing.encoding import (
    Encoding,
    EncodingError,
    check_encoding,
    choose_encoding,
    detect_in,
)
from dialguard.store import Store


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with await Store.open(tmp_path / "store.sqlite3") as s:
        await s.campaigns.upsert("c1", "C1", "{}")
        yield s


NAMES = "name,number\nZoë Brontë,020 7946 0000\nJosé Núñez,020 7946 0001\nAnn,020 7946 0002\n"


def test_a_windows_1252_export_is_detected() -> None:
    chosen = detect_in(NAMES.encode("cp1252"))
    assert chosen.name == "cp1252" and chosen.label == "windows-1252"
    assert chosen.how == "detected"


@pytest.mark.parametrize(
    ("name", "page"),
    [
        ("Иван Петрович Сидоров", "cp1251"),
        ("Příliš žluťoučký kůň úpěl ďábelské ódy", "cp1250"),
        ("Ζωή Παπαδοπούλου", "cp1253"),
        ("Müller Straße Groß", "cp1252"),
        ("José", "cp1252"),  # reads the same in 1250: the commoner page stands
    ],
)
def test_other_code_pages_are_told_apart(name: str, page: str) -> None:
    text = "name,number\n" + "".join(f"{name} {n},020 7946 00{n:02d}\n" for n in range(5))
    assert detect_in(text.encode(page)).name == page


@pytest.mark.parametrize(
    ("data", "how"),
    [
        (NAMES.encode(), "valid UTF-8"),
        (codecs.BOM_UTF8 + NAMES.encode(), "byte-order mark"),
        (b"name,number\nAnn,020 7946 0000\n", "valid UTF-8"),  # plain ASCII
        (NAMES.encode()[:-2] + "é".encode()[:1], "valid UTF-8"),  # sample cut mid-character
    ],
)
def test_utf8_is_recognised(data: bytes, how: str) -> None:
    assert detect_in(data) == Encoding("utf-8", how)


def test_utf8_with_one_stray_latin1_byte_stays_utf8() -> None:
    """Reading it as a code page would garble every other accent in the file."""
    data = NAMES.encode() + b"Caf\xe9 Owner,020 7946 0003\n"
    chosen = detect_in(data)
    assert chosen.name == "utf-8" and "invalid bytes" in chosen.how


def test_utf16_is_refused_with_what_to_do() -> None:
    with pytest.raises(EncodingError, match=r"UTF-16.*CSV UTF-8"):
        detect_in(codecs.BOM_UTF16_LE + NAMES.encode("utf-16-le"))


@pytest.mark.parametrize(
    ("name", "expected"),
    [("cp1252", "cp1252"), ("windows-1252", "cp1252"), ("Latin-1", "iso8859-1"), ("UTF8", "utf-8")],
)
def test_given_encodings_are_normalised(name: str, expected: str) -> None:
    assert check_encoding(name) == expected
    assert choose_encoding([b"x"], name) == Encoding(expected, "given")


@pytest.mark.parametrize(
    ("name", "why"), [("klingon", "not an encoding Python knows"), ("utf-16", "line by line")]
)
def test_unusable_encodings_are_refused(name: str, why: str) -> None:
    with pytest.raises(EncodingError, match=why):
        check_encoding(name)


async def test_a_windows_export_imports_with_its_accents(store: Store, tmp_path: Path) -> None:
    """Before: every row with an accent was rejected as "not valid UTF-8"."""
    path = tmp_path / "leads.csv"
    path.write_bytes(NAMES.encode("cp1252"))
    report = await import_contacts(store, path, "c1", "GB")
    assert (report.imported, report.rejected) == (3, 0), report.rejects
    assert (report.encoding, report.encoding_how) == ("windows-1252", "detected")
    names = {c.name for c in await store.contacts.due("c1", 1e12, 10)}
    assert names == {"Zoë Brontë", "José Núñez", "Ann"}


async def test_a_byte_undefined_in_the_given_encoding_is_rejected_by_line(
    store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "leads.csv"
    path.write_bytes(b"name,number\nAnn,020 7946 0000\nB\x81b,020 7946 0001\n")
    report = await import_contacts(store, path, "c1", "GB", encoding="cp1252")
    assert report.imported == 1
    [reject] = report.rejects
    assert (reject.line, reject.reason) == (3, "not valid cp1252 (byte 0x81 at column 2)")
