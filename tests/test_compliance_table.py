"""docs/compliance.md's proof table names tests that exist (issue 17, "Done when").

The table "Every rule, per regime: source, configuration, proof" is what an auditor
reads to find the test behind each legal rule. A renamed or deleted test would leave
it pointing at nothing while still looking complete, so this reads the table and
checks that every test it names is a test function in that file, that every regime
of ``calling_window.regime`` has its section, and that every rule row names a test.
"""

from __future__ import annotations

import ast
import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import get_args

import pytest

from dialguard.config.campaign import Regime

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "compliance.md"
TABLE_HEADING = "## Every rule, per regime: source, configuration, proof"

# `tests/x/test_y.py::test_z`, `tests/x/test_y.py` or `::test_z` (the file named last)
_CELL_EDGE = re.compile(r"(?<!\\)\|")  # a cell may hold an escaped pipe, `24h\|30d`
_REF = re.compile(r"`(?P<file>tests/[\w/]+\.py)?(?:::(?P<name>\w+))?`")


@dataclass(frozen=True)
class Row:
    section: str  # the regime heading's text, e.g. "`france`"
    line: int  # 1-based, in docs/compliance.md
    rule: str
    proof: str


@dataclass(frozen=True)
class Ref:
    row: Row
    file: str
    name: str | None  # None: the whole file is named


def table_rows(text: str) -> list[Row]:
    """The rule rows of every per-regime table (header and rule lines left out)."""
    lines = text.splitlines()
    try:
        start = lines.index(TABLE_HEADING)
    except ValueError:
        raise AssertionError(f"docs/compliance.md has no heading {TABLE_HEADING!r}") from None
    rows: list[Row] = []
    section = ""
    for i, line in enumerate(lines[start + 1 :], start=start + 2):
        if line.startswith("## "):
            break  # the next chapter
        if line.startswith("### "):
            section = line[4:].strip()
            continue
        if not line.startswith("|") or set(line) <= set("|-: "):
            continue
        cells = [c.strip() for c in _CELL_EDGE.split(line.strip().strip("|"))]
        if cells[0] == "rule":
            continue  # the header
        if len(cells) != 4:
            raise AssertionError(f"docs/compliance.md:{i}: {len(cells)} cells, not 4: {line}")
        rows.append(Row(section, i, cells[0], cells[3]))
    return rows


def proof_refs(row: Row) -> list[Ref]:
    """The tests one row's proof cell names; ``::name`` continues the file named last."""
    refs: list[Ref] = []
    current: str | None = None
    for m in _REF.finditer(row.proof):
        file, name = m.group("file"), m.group("name")
        if file is not None:
            current = file
        if current is None:
            raise AssertionError(
                f"docs/compliance.md:{row.line}: `::{name}` names no file before it"
            )
        refs.append(Ref(row, current, name))
    return refs


def defined_tests(path: Path) -> set[str]:
    """Names of the test functions of a test module (module level or in a class)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith(
            "test"
        ):
            found.add(node.name)
    return found


def missing(refs: list[Ref], root: Path) -> list[str]:
    """Each named test (or file) that does not exist, as ``docs line: reference``."""
    out = []
    for ref in refs:
        where = f"docs/compliance.md:{ref.row.line} ({ref.row.rule})"
        path = root / ref.file
        if not path.is_file():
            out.append(f"{where}: {ref.file} does not exist")
        elif ref.name is not None and ref.name not in defined_tests(path):
            out.append(f"{where}: {ref.file} has no test {ref.name}")
    return out


@functools.cache
def doc_rows() -> list[Row]:
    return table_rows(DOC.read_text(encoding="utf-8"))


def test_every_test_the_table_names_exists() -> None:
    refs = [r for row in doc_rows() for r in proof_refs(row)]
    assert len(refs) >= 40  # the table was read, not skipped
    assert missing(refs, ROOT) == []


def test_every_rule_row_names_a_test_function() -> None:
    bare = [f"docs/compliance.md:{r.line} ({r.rule})" for r in doc_rows() if not proof_refs(r)]
    assert bare == []
    assert all(any(ref.name for ref in proof_refs(r)) for r in doc_rows())


def test_every_regime_has_its_section() -> None:
    sections = {r.section for r in doc_rows()}
    for regime in get_args(Regime):
        assert any(f"`{regime}`" in s for s in sections), f"no table for regime {regime!r}"
    assert "Every regime" in sections


# --- the checker's own tests ---------------------------------------------------------------

SAMPLE = f"""intro
{TABLE_HEADING}

### `tcpa`

| rule | source | configuration | proof |
|---|---|---|---|
| a | s | c | `tests/test_compliance_table.py::test_every_regime_has_its_section`, `::nope` |
| b \\| c | s | c | `tests/none_such.py::test_x` |

## Next chapter
| x | y | z | `tests/ignored.py::test_q` |
"""


def test_the_checker_finds_a_test_that_is_gone_and_a_file_that_is_gone() -> None:
    rows = table_rows(SAMPLE)
    assert [(r.section, r.rule) for r in rows] == [("`tcpa`", "a"), ("`tcpa`", "b \\| c")]
    refs = [r for row in rows for r in proof_refs(row)]
    assert [(r.file, r.name) for r in refs] == [
        ("tests/test_compliance_table.py", "test_every_regime_has_its_section"),
        ("tests/test_compliance_table.py", "nope"),
        ("tests/none_such.py", "test_x"),
    ]
    assert missing(refs, ROOT) == [
        "docs/compliance.md:8 (a): tests/test_compliance_table.py has no test nope",
        "docs/compliance.md:9 (b \\| c): tests/none_such.py does not exist",
    ]


def test_a_continuation_without_a_file_is_an_error() -> None:
    row = Row("`tcpa`", 3, "a", "`::test_x`")
    with pytest.raises(AssertionError, match="names no file before it"):
        proof_refs(row)
