"""No SQL outside the store (issue 14, item 3).

The store's repositories are the only code that knows the tables: the engine, the
importers, the reports and the CLI ask them named questions. So a PostgreSQL store can
take SQLite's place behind the same methods, and a schema change is made in one package.

This test parses every module under ``src/dialguard`` except ``store/`` and fails naming
``file:line`` for a string constant that reads as SQL, a call of ``.execute(``-like
methods (``execute``, ``executemany``, ``executescript``) or any use of an attribute
called ``connection`` (the raw database handle ``Store.connection`` used to hand out).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "dialguard"
STORE = SRC / "store"

# A statement keyword, then the word that must follow it somewhere in a statement:
# SELECT … FROM, INSERT … INTO, UPDATE … SET, DELETE FROM. Case-insensitive, as SQL is.
_SQL = re.compile(
    r"\bSELECT\b.+\bFROM\b|\bINSERT\b.+\bINTO\b|\bUPDATE\b.+\bSET\b|\bDELETE\s+FROM\b"
    r"|\bCREATE\s+(TABLE|INDEX)\b|\bPRAGMA\s+\w+",
    re.IGNORECASE | re.DOTALL,
)
_EXECUTE = frozenset({"execute", "executemany", "executescript"})
_RAW = frozenset({"connection"})


def looks_like_sql(text: str) -> bool:
    return _SQL.search(text) is not None


def leaks(tree: ast.AST, where: str) -> list[str]:
    """Every place in ``tree`` that speaks SQL or touches a raw connection."""
    out: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if looks_like_sql(node.value):
                out.append(f"{where}:{node.lineno}: SQL string {node.value[:40]!r}")
        elif isinstance(node, ast.JoinedStr):
            text = "".join(
                v.value
                for v in node.values
                if isinstance(v, ast.Constant) and isinstance(v.value, str)
            )
            if looks_like_sql(text):
                out.append(f"{where}:{node.lineno}: SQL f-string {text[:40]!r}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in _EXECUTE:
                out.append(f"{where}:{node.lineno}: .{node.func.attr}( call")
        elif isinstance(node, ast.Attribute) and node.attr in _RAW:
            out.append(f"{where}:{node.lineno}: .{node.attr} (a raw database handle)")
    return out


def _modules_outside_store() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if STORE not in p.parents)


def test_there_are_modules_to_check() -> None:
    mods = _modules_outside_store()
    assert len(mods) > 40
    assert SRC / "reports" / "compliance.py" in mods
    assert not any(STORE in p.parents for p in mods)


def test_no_sql_and_no_raw_connection_outside_the_store() -> None:
    found: list[str] = []
    for path in _modules_outside_store():
        where = str(path.relative_to(SRC.parent))
        found += leaks(ast.parse(path.read_text(encoding="utf-8"), str(path)), where)
    assert found == [], "SQL belongs in dialguard.store:\n" + "\n".join(found)


def test_the_store_has_no_connection_attribute() -> None:
    from dialguard.store import Store

    assert not hasattr(Store, "connection")


# --- the checker finds what it should, and only that -----------------------------------


@pytest.mark.parametrize(
    "code",
    [
        'q = "SELECT id FROM contacts WHERE campaign_id = ?"',
        'q = "select count(*)\\n from attempts"',
        'q = "INSERT INTO audit (ts) VALUES (?)"',
        'q = "UPDATE contacts SET status = ?"',
        'q = "DELETE FROM skips"',
        'q = f"SELECT {col} FROM attempts"',
        "await db.execute(q)",
        "db.executemany(q, rows)",
        "rows = store.connection",
    ],
)
def test_checker_flags_sql_and_raw_handles(code: str) -> None:
    assert leaks(ast.parse(code), "x.py") != []


@pytest.mark.parametrize(
    "code",
    [
        'msg = "update the settings"',  # UPDATE without SET
        'msg = "insert the card"',
        'help = "the attempts to update"',
        "n = await store.attempts.count('spring')",
        "executor.submit(job)",
    ],
)
def test_checker_leaves_prose_and_store_calls_alone(code: str) -> None:
    assert leaks(ast.parse(code), "x.py") == []
