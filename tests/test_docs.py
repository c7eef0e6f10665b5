"""The documentation holds together (issue 12 item 6): every document a file names is in
the repository, and the README has each section once.

A new user found `docs/architecture.md` and `simulate --help` pointing at a DESIGN.md
that was never committed, and the README's Configuration section twice. Help texts are
docstrings in src/, so scanning the sources covers `--help` too.
"""

from __future__ import annotations

import collections
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCANNED = ("README.md", "docs/**/*.md", "src/**/*.py", "bench/**/*.py", "tests/**/*.py",
           "scripts/*", "docker/**/*", "config/**/*", ".ci/*")  # fmt: skip
REFERENCE = re.compile(r"(?<![\w./-])((?:[\w.-]+/)*[\w-]+\.md)\b")
"""A document named in prose: ``docs/design.md``, ``DESIGN.md``, ``mqtt.md`` (relative to
the file that names it, as a Markdown link is)."""


def references(text: str) -> list[tuple[int, str]]:
    """Where ``text`` names a document, and which. A string literal that is just the name
    is a path being built in code (``"docs" / "mqtt.md"``), not a reference."""
    found = []
    for m in REFERENCE.finditer(text):
        before, after = text[m.start() - 1 : m.start()], text[m.end() : m.end() + 1]
        if (
            before in ("'", '"')
            and after == before
            and text[m.start() - 3 : m.start()] != 3 * before
        ):
            continue
        found.append((m.start(), m.group(1)))
    return found


def _files() -> list[Path]:
    found = {f for pattern in SCANNED for f in REPO.glob(pattern) if f.is_file()}
    return sorted(found - {Path(__file__).resolve()})  # this file names missing ones


def dangling_references() -> list[str]:
    missing = []
    for f in _files():
        try:
            text = f.read_text()
        except UnicodeDecodeError:
            continue
        for at, ref in references(text):
            if not (REPO / ref).is_file() and not (f.parent / ref).is_file():
                line = text.count("\n", 0, at) + 1
                missing.append(f"{f.relative_to(REPO)}:{line}: {ref}")
    return missing


def test_every_document_named_is_in_the_repository() -> None:
    assert dangling_references() == []


def test_the_scan_sees_prose_and_docstrings_not_paths_built_in_code() -> None:
    text = '"""DESIGN.md: S1"""\nx = 1  # as docs/design.md says\np = root / "mqtt.md"\n'
    assert [ref for _, ref in references(text)] == ["DESIGN.md", "docs/design.md"]


def test_the_readme_has_each_section_once() -> None:
    headings = collections.Counter(
        line.strip()
        for line in (REPO / "README.md").read_text().splitlines()
        if re.match(r"#{1,3} ", line)
    )
    assert [h for h, n in headings.items() if n > 1] == []
