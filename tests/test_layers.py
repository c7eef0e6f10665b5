"""The import rule of docs/architecture.md, enforced.

Every module under ``src/dialguard`` is parsed with :mod:`ast` (nothing is imported, so a
module with a broken optional dependency is still checked) and each ``dialguard.*``
import it makes is checked against :data:`MAY_IMPORT`, the table the architecture page
shows. Counted are top-level imports, imports inside functions (the CLI's lazy ones),
relative imports, and imports under ``if TYPE_CHECKING:`` too: a type-only upward
import still ties a lower layer to a higher one's names, and mypy follows it.

A package the table does not know fails the test: a new layer is a decision to write
down here and on the architecture page, not something that happens by accident.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import dialguard

SRC = Path(dialguard.__file__).resolve().parent
"""The tree under test: the one the interpreter imports (a worktree's, under PYTHONPATH)."""

ROOT = ""
"""The unit of ``dialguard/__init__.py`` itself (it holds ``__version__``)."""

LEAVES = frozenset({ROOT, "law", "phone", "logs", "tasks", "spreadsheet"})
"""Modules of ours that import nothing of ours; anyone may import them."""

_BELOW_ENGINE = frozenset({"pacing", "propensity", "config", "rules", "store", "sip", "mqtt"})

MAY_IMPORT: dict[str, frozenset[str]] = {
    # unit: the units it may import besides itself and the leaves
    ROOT: frozenset(),
    "law": frozenset(),
    "phone": frozenset(),
    "logs": frozenset(),
    "tasks": frozenset(),
    "spreadsheet": frozenset(),
    "pacing": frozenset(),  # sans-I/O core: the law's numbers and nothing else
    "propensity": frozenset(),  # sans-I/O answer model and contact ordering score
    "config": frozenset({"pacing", "propensity"}),  # config.pacing_map builds pacing parameters
    "rules": frozenset({"config"}),  # pure compliance checks over campaign settings
    "store": frozenset(),
    "sip": frozenset(),  # the trunk adapter; its contract is sip.api
    "sip.simulator": frozenset({"sip"}),  # the test/demo trunk, never the engine's
    # the MQTT contract and its client helpers: where the engine and its front ends meet
    "mqtt": frozenset({"pacing", "config", "store"}),
    "importing": frozenset({"config", "rules", "store", "propensity"}),
    "engine": _BELOW_ENGINE,
    "reports": frozenset({"config", "rules", "store", "propensity"}),
    "sim": frozenset({"pacing", "propensity", "config", "rules"}),  # virtual time: no I/O layer
    "demo": _BELOW_ENGINE | {"sip.simulator", "engine", "importing", "reports", "sim"},
    "cli": _BELOW_ENGINE
    | {"sip.simulator", "engine", "importing", "reports", "sim", "demo", "console"},
    # the web console: a front end beside the CLI, sending the CLI's own requests and
    # judging status and reports with the CLI's code (so the two cannot disagree); it
    # reaches the engine only over the broker, through mqtt, never by importing it
    "console": _BELOW_ENGINE | {"reports", "sim", "cli"},
    "__main__": frozenset({"cli"}),
}

ENGINE_USERS = frozenset({"engine", "cli", "demo"})
"""Issue 14's wording, kept apart from the table so that widening the table cannot
quietly widen it: nothing outside engine/ imports from engine except the CLI and demo.
The web console talks to the engine over the broker, with :mod:`dialguard.mqtt`."""

MQTT_USERS = frozenset({"mqtt", "engine", "cli", "demo", "console"})
"""Who speaks MQTT: the engine and its front ends. A lower layer (the pacer, the store,
the rules, the simulator, the reports) that imported the contract would have grown a
wire format it should not know about."""


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, dotted
    line: int
    target: str  # the imported dialguard module, dotted


def unit_of(module: str) -> str | None:
    """The table's unit for a dotted ``dialguard`` module: its longest known prefix."""
    parts = module.split(".")[1:]
    if not parts:
        return ROOT
    for n in range(len(parts), 0, -1):
        candidate = ".".join(parts[:n])
        if candidate in MAY_IMPORT:
            return candidate
    return None


def module_name(path: Path, src: Path) -> str:
    rel = path.relative_to(src.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(module: str, source: str, *, is_package: bool, known: set[str]) -> list[Import]:
    """Every ``dialguard`` import in ``source``, wherever it sits in the module.

    ``from dialguard.x import y`` counts as an import of ``dialguard.x.y`` when that is a
    module in ``known``, else of ``dialguard.x``; relative imports are resolved against
    ``module``'s package."""
    found: list[Import] = []
    package = module.split(".") if is_package else module.split(".")[:-1]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                stem = ".".join([*base, *([node.module] if node.module else [])])
            else:
                stem = node.module or ""
            targets = [
                f"{stem}.{alias.name}" if f"{stem}.{alias.name}" in known else stem
                for alias in node.names
            ]
        else:
            continue
        for target in targets:
            if target == "dialguard" or target.startswith("dialguard."):
                found.append(Import(module, node.lineno, target))
    # one entry per edge and line: ``from x import a, b`` is one import of x, not two
    return sorted(dict.fromkeys(found), key=lambda imp: imp.line)


def all_imports(src: Path = SRC) -> list[Import]:
    files = sorted(src.rglob("*.py"))
    known = {module_name(p, src) for p in files}
    found: list[Import] = []
    for path in files:
        found += imports_of(
            module_name(path, src),
            path.read_text(encoding="utf-8"),
            is_package=path.name == "__init__.py",
            known=known,
        )
    return found


def violations(found: list[Import]) -> list[str]:
    """One line per import the table forbids: module, line and the forbidden edge."""
    out: list[str] = []
    for imp in found:
        here, there = unit_of(imp.module), unit_of(imp.target)
        if here is None or there is None:
            unknown = imp.module if here is None else imp.target
            out.append(
                f"{imp.module}:{imp.line}: {unknown} belongs to no layer; add its package to "
                "MAY_IMPORT in tests/test_layers.py and to docs/architecture.md"
            )
        elif there != here and there not in LEAVES and there not in MAY_IMPORT[here]:
            out.append(
                f"{imp.module}:{imp.line}: imports {imp.target}: "
                f"{here or 'dialguard'} → {there} is not allowed"
            )
    return out


def test_every_import_follows_the_layer_table() -> None:
    found = all_imports()
    assert len(found) > 100, "the scan found almost no imports: is SRC right?"
    assert violations(found) == []


def test_nothing_outside_engine_imports_engine_but_the_cli_and_the_demo() -> None:
    bad = [
        f"{imp.module}:{imp.line}: imports {imp.target}"
        for imp in all_imports()
        if (imp.target == "dialguard.engine" or imp.target.startswith("dialguard.engine."))
        and unit_of(imp.module) not in ENGINE_USERS
    ]
    assert bad == []


def test_the_table_allows_engine_to_no_one_else() -> None:
    assert {u for u, allowed in MAY_IMPORT.items() if "engine" in allowed} <= ENGINE_USERS


def test_the_console_does_not_import_the_engine() -> None:
    """The console runs beside a daemon, possibly on another host: what it needs of the
    engine is the wire contract, and that lives in dialguard.mqtt."""
    assert "engine" not in MAY_IMPORT["console"]


def test_the_table_allows_mqtt_to_its_speakers_only() -> None:
    assert {u for u, allowed in MAY_IMPORT.items() if "mqtt" in allowed} | {"mqtt"} == MQTT_USERS


# --- the page shows the table the test enforces

DOC = SRC.parents[1] / "docs" / "architecture.md"


def _units(cell: str) -> set[str]:
    """``"`law`, `dialguard` (root)"`` → {"law", ""}; backticks and notes dropped."""
    out = set()
    for part in cell.split(","):
        name = part.strip().split()[0].strip("`") if part.strip() else ""
        out.add(ROOT if name == "dialguard" else name)
    return out


def documented_table(text: str) -> dict[str, frozenset[str]]:
    """The "may import" column of the page's package table, by unit. ``—`` is nothing
    but the leaves; ``everything`` is every package of the table (not ``__main__``)."""
    rows: dict[str, frozenset[str]] = {}
    everything = set(MAY_IMPORT) - LEAVES - {"__main__"}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[0].startswith("`"):
            continue
        may = cells[1]
        if may.startswith("—"):
            allowed: set[str] = set()
        elif may == "everything":
            allowed = set(everything)
        else:
            allowed = {name.strip().strip("`") for name in may.split(",")}
        for unit in _units(cells[0]):
            rows[unit] = frozenset(allowed - {unit})
    return rows


def test_the_architecture_page_shows_the_enforced_table() -> None:
    """Each row of docs/architecture.md's table says what MAY_IMPORT says (a unit may
    import itself and the leaves besides), and every unit has its row."""
    shown = documented_table(DOC.read_text(encoding="utf-8"))
    assert set(shown) == set(MAY_IMPORT)
    differ = {
        unit: (sorted(shown[unit]), sorted(MAY_IMPORT[unit] - {unit}))
        for unit in MAY_IMPORT
        if shown[unit] != MAY_IMPORT[unit] - {unit}
    }
    assert differ == {}, "page row vs test row"


def test_the_page_reader_reads_each_form_of_row() -> None:
    text = textwrap.dedent(
        """\
        | `law`, `dialguard` (root) | — (leaves) | x |
        | `rules` | config | x |
        | `cli` | everything | x |
        | `demo` | `engine`, sim | x |
        """
    )
    rows = documented_table(text)
    assert rows["law"] == rows[ROOT] == frozenset()
    assert rows["rules"] == {"config"}
    assert rows["demo"] == {"engine", "sim"}
    assert "cli" not in rows["cli"] and {"engine", "console", "demo"} <= rows["cli"]


def test_every_package_is_in_the_table() -> None:
    units = {unit_of(module_name(p, SRC)) for p in SRC.rglob("*.py")}
    assert None not in units
    assert units == set(MAY_IMPORT), "a layer in the table no longer exists"


# --- the checker itself, on made-up modules, so that it is known to be able to fail


def _check(module: str, source: str, *, is_package: bool = False) -> list[str]:
    known = {"dialguard.engine.runner", "dialguard.pacing.events", "dialguard.sip.simulator"}
    return violations(
        imports_of(module, textwrap.dedent(source), is_package=is_package, known=known)
    )


def test_checker_names_module_line_and_edge_of_an_upward_import() -> None:
    source = """\
        import asyncio

        from dialguard.law import MIN_RING_S
        from dialguard.engine.runner import CampaignRunner
    """
    assert _check("dialguard.pacing.pacer", source) == [
        "dialguard.pacing.pacer:4: imports dialguard.engine.runner: pacing → engine is not allowed"
    ]


def test_checker_sees_lazy_type_checking_and_relative_imports() -> None:
    source = """\
        from typing import TYPE_CHECKING

        if TYPE_CHECKING:
            from dialguard.sim import Workload

        def f() -> None:
            import dialguard.demo.centre

        from ..sip import simulator
        from . import events
    """
    assert _check("dialguard.engine.runner", source) == [
        "dialguard.engine.runner:4: imports dialguard.sim: engine → sim is not allowed",
        "dialguard.engine.runner:7: imports dialguard.demo.centre: engine → demo is not allowed",
        "dialguard.engine.runner:9: imports dialguard.sip.simulator: engine → sip.simulator "
        "is not allowed",
    ]


def test_checker_resolves_relative_imports_inside_a_package_init() -> None:
    source = "from .events import Event\nfrom ..engine import runner\n"
    assert _check("dialguard.pacing", source, is_package=True) == [
        "dialguard.pacing:2: imports dialguard.engine.runner: pacing → engine is not allowed"
    ]


def test_checker_refuses_a_package_the_table_does_not_know() -> None:
    [problem] = _check("dialguard.engine.runner", "from dialguard.vocab import Outcome\n")
    assert problem.startswith("dialguard.engine.runner:1: dialguard.vocab belongs to no layer")


def test_daemon_imports_neither_amqtt_nor_demo_code() -> None:
    """``dialguard run`` with a configured broker must start on the runtime install alone:
    a fresh interpreter loads the CLI, the run command and every engine module, and
    neither amqtt (the ``[demo]`` extra) nor any ``dialguard.demo`` or SIP simulator
    module may have come along."""
    engine_modules = sorted(
        module_name(p, SRC) for p in (SRC / "engine").rglob("*.py") if p.name != "__main__.py"
    )
    probe = textwrap.dedent(
        f"""
        import importlib, sys
        for name in {["dialguard.cli", "dialguard.cli.run", *engine_modules]!r}:
            importlib.import_module(name)
        assert "dialguard.engine.engine" in sys.modules
        print(sorted(m for m in sys.modules
                     if m.split(".")[0] == "amqtt"
                     or m.startswith(("dialguard.demo", "dialguard.sip.simulator"))))
        """
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(SRC.parent), env.get("PYTHONPATH", "")) if p
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_a_command_run_elsewhere_imports_the_tree_under_test(tmp_path: Path) -> None:
    """Tests run `python -m dialguard …` in tmp_path; with PYTHONPATH=src relative, that
    imported the editable install's tree, not this one (tests/conftest.py makes it
    absolute), so a worktree's fix was tested against another checkout's code."""
    done = subprocess.run(
        [sys.executable, "-c", "import dialguard; print(dialguard.__file__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert Path(done.stdout.strip()).resolve().parent == SRC, done.stderr
