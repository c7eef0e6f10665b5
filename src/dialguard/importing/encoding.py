"""Which text encoding a CSV file is in: given by the operator, or detected.

Spreadsheet exports on Windows are usually Windows-1252 (or 1250/1251 in Central and
Eastern Europe), not UTF-8: read as UTF-8, every row with an accented name is refused.
Detection has to tell two cases apart that look alike at the byte level:

- a **UTF-8 file with a stray byte** in one name (a CRM that pasted Latin-1 into one
  field): keep UTF-8, so the other rows' accents stay right and that one row is
  rejected with its line and byte;
- a **file in a single-byte code page**: no valid multi-byte UTF-8 sequence anywhere,
  and bytes above 0x7f that UTF-8 refuses.

So: a byte-order mark or a sample that decodes as UTF-8 (or has UTF-8 multi-byte
sequences in it) means UTF-8; otherwise charset-normalizer chooses among the common
single-byte code pages (by language statistics, which is why it is a library and not a
table here). The reader decodes line by line, so only encodings in which ``\\n``, ``,``,
``;`` and the digits are the ASCII bytes work; UTF-16 (Excel's "Unicode text") is
refused with what to do instead.
"""

from __future__ import annotations

import codecs
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from dialguard.importing.records import LineSource

__all__ = [
    "SAMPLE_BYTES",
    "Encoding",
    "EncodingError",
    "check_encoding",
    "choose_encoding",
    "detect_encoding",
]

SAMPLE_BYTES: Final = 4 * 1024 * 1024
"""How much of a file detection reads (the import then reads it all, line by line)."""

_CODE_PAGES: Final = (
    "cp1252",
    "cp1250",
    "cp1251",
    "cp1253",
    "cp1254",
    "cp1257",
    "iso8859_15",
    "iso8859_2",
    "mac_roman",
    "cp850",
)
"""What detection chooses from when the file is not UTF-8: the spreadsheet code pages."""

_CLEARLY: Final = 0.05
"""How much better (charset-normalizer's chaos or coherence, 0–1) another code page must
read than Windows-1252 to be chosen instead."""

_UTF8_MULTIBYTE: Final = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)
_BOMS: Final = {
    codecs.BOM_UTF8: "utf-8",
    codecs.BOM_UTF16_LE: "utf-16",
    codecs.BOM_UTF16_BE: "utf-16",
}


class EncodingError(ValueError):
    """An encoding this reader cannot use, or one Python does not know."""


@dataclass(frozen=True, slots=True)
class Encoding:
    """The encoding to read with, and how it was chosen (shown to the operator)."""

    name: str  # Python's canonical codec name, e.g. "utf-8", "cp1252"
    how: str  # "given", "byte-order mark", "valid UTF-8", "detected (…)"

    @property
    def label(self) -> str:
        """How the operator would write it: ``windows-1252`` rather than ``cp1252``."""
        if self.name.startswith("cp125"):
            return f"windows-{self.name[2:]}"
        return self.name


def check_encoding(name: str) -> str:
    """Python's name for ``name`` if the line reader can use it; else EncodingError."""
    try:
        info = codecs.lookup(name)
    except LookupError:
        raise EncodingError(
            f"--encoding {name}: not an encoding Python knows (try utf-8, cp1252, latin-1)"
        ) from None
    probe = "\n\r,;\t|+0123456789abcXYZ"
    try:
        ascii_compatible = probe.encode(info.name) == probe.encode("ascii")
    except UnicodeError:
        ascii_compatible = False
    if not ascii_compatible:
        raise EncodingError(
            f"--encoding {name}: cannot read CSV line by line in {info.name}"
            " (separators and digits are not single ASCII bytes); save the file as"
            " UTF-8 (in Excel: CSV UTF-8)"
        )
    return "utf-8" if info.name == "utf-8" else info.name


def choose_encoding(source: LineSource, given: str | None) -> Encoding:
    """The operator's ``--encoding`` if given (checked), else detected from the file;
    lines passed in memory are read as UTF-8 (str lines need no decoding at all)."""
    if given is not None:
        return Encoding(check_encoding(given), "given")
    if isinstance(source, str | os.PathLike):
        return detect_encoding(Path(source))
    return Encoding("utf-8", "default")


def detect_encoding(path: Path) -> Encoding:
    """Guess the encoding of the file at ``path`` from its first :data:`SAMPLE_BYTES`.

    Raises EncodingError for a UTF-16 file, OSError if it cannot be read."""
    with path.open("rb") as f:
        sample = f.read(SAMPLE_BYTES)
    try:
        return detect_in(sample)
    except EncodingError as e:
        raise EncodingError(f"{path}: {e}") from None


def detect_in(sample: bytes) -> Encoding:
    """:func:`detect_encoding` on bytes already read (the start of the file)."""
    for bom, name in _BOMS.items():
        if sample.startswith(bom):
            if name != "utf-8":
                raise EncodingError(
                    "the file is UTF-16 (Excel's 'Unicode text'); save it as CSV UTF-8,"
                    " or convert it: iconv -f UTF-16 -t UTF-8"
                )
            return Encoding("utf-8", "byte-order mark")
    try:
        sample.decode("utf-8")
        return Encoding("utf-8", "valid UTF-8")
    except UnicodeDecodeError as e:
        if e.start >= len(sample) - 3:  # the sample cut a character in two
            return Encoding("utf-8", "valid UTF-8")
    if _UTF8_MULTIBYTE.search(sample):
        # UTF-8 with stray bytes: reading it as a code page would garble every accent
        return Encoding("utf-8", "UTF-8 with invalid bytes (those rows are rejected)")
    from charset_normalizer import from_bytes  # imported here: only imports need it

    matches = list(from_bytes(sample, cp_isolation=list(_CODE_PAGES)))
    if not matches:
        return Encoding("cp1252", "not UTF-8; assumed")
    # Short samples fit several code pages (é is 0xe9 in 1250 and 1252 alike) and the
    # library's ranking is then a toss-up: Windows-1252, by far the commonest, stands
    # unless another page reads clearly better (less noise, or a language it fits).
    # (a match stands for every page that reads the sample the same: could_be_from_charset)
    usual = next(
        (
            m
            for m in matches
            if "cp1252" in {codecs.lookup(c).name for c in m.could_be_from_charset}
        ),
        None,
    )
    if usual is not None:
        clearer = [
            m
            for m in matches
            if m.chaos < usual.chaos - _CLEARLY or m.coherence > usual.coherence + _CLEARLY
        ]
        if not clearer:
            return Encoding("cp1252", "detected")
        return Encoding(codecs.lookup(clearer[0].encoding).name, "detected")
    return Encoding(codecs.lookup(matches[0].encoding).name, "detected")
