"""One definition per vocabulary and per legal number (issue 14, item 4).

Each vocabulary is imported from its one home and the law's numbers from
:mod:`dialguard.law`; then every module of ``src/dialguard`` is read with :mod:`ast` to
prove nobody else defines the same vocabulary again (by name or by its set of values) or
writes one of the law's figures as a literal in code. Docstrings and comments may say
"15 s" or "3 %": they are not code, and the scan never looks at strings.

The legal checks are precise on purpose: ``0.03`` and the 72 h lock-out are flagged
wherever they appear as numbers; 15, 2 and 3 are common numbers, so they are flagged
only where the name they are bound to or compared with says what they are (ring time,
connect time, dial ratio). The checker's own tests below show what it flags.
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

import pytest

import dialguard
from dialguard import law
from dialguard.config import PacingMode as ConfigPacingMode
from dialguard.engine import calls, engine, runner, selection
from dialguard.mqtt import contract
from dialguard.pacing.events import AGENT_STATES, AgentState
from dialguard.pacing.params import MODES, PacingMode
from dialguard.rules.types import DIAL_MODE_OF, DIAL_MODES, DialMode
from dialguard.store.records import ATTEMPT_OUTCOMES, AttemptOutcome, CampaignState

SRC = Path(dialguard.__file__).parent


@dataclass(frozen=True)
class Vocabulary:
    name: str
    home: str  # module path relative to src/dialguard
    values: frozenset[str]


VOCABULARIES = (
    Vocabulary("AttemptOutcome", "store/records.py", frozenset(get_args(AttemptOutcome))),
    Vocabulary("CampaignState", "store/records.py", frozenset(get_args(CampaignState))),
    Vocabulary("AgentState", "pacing/events.py", frozenset(get_args(AgentState))),
    Vocabulary("PacingMode", "pacing/params.py", frozenset(get_args(PacingMode))),
    Vocabulary("DialMode", "rules/types.py", frozenset(get_args(DialMode))),
    Vocabulary("AbandonWindow", "law.py", frozenset(get_args(law.AbandonWindow))),
)


def _word(words: str) -> re.Pattern[str]:
    """One of ``words`` as a whole part of a snake_case name (``ring`` in
    ``MIN_RING_S`` and ``ring_timeout_s``, not in ``string`` or ``during``)."""
    return re.compile(rf"(?:^|[_\s])(?:{words})(?:$|[_\s])", re.I)


@dataclass(frozen=True)
class LegalNumber:
    name: str
    value: float
    bound_to: re.Pattern[str] | None  # None: flagged wherever the number appears


LEGAL_NUMBERS = (
    LegalNumber("ABANDON_LOCKOUT_S", law.ABANDON_LOCKOUT_S, None),
    LegalNumber("MAX_ABANDON_CAP", law.MAX_ABANDON_CAP, _word("cap|abandon")),
    LegalNumber("MIN_RING_TIMEOUT_S", law.MIN_RING_TIMEOUT_S, _word("ring")),
    LegalNumber("CONNECT_DEADLINE_S", law.CONNECT_DEADLINE_S, _word("connect")),
    LegalNumber("MAX_DIAL_RATIO", law.MAX_DIAL_RATIO, _word("ratio")),
)

PENDING: set[str] = set()
"""Literals known and owned by someone; the test below fails once one is fixed, so an
entry cannot outlive its literal."""


# --- the checker -----------------------------------------------------------------------


def _is_literal(node: ast.expr) -> bool:
    target = node.value if isinstance(node, ast.Subscript) else None
    return (isinstance(target, ast.Name) and target.id == "Literal") or (
        isinstance(target, ast.Attribute) and target.attr == "Literal"
    )


def _strings(node: ast.expr) -> frozenset[str] | None:
    """The string values a Literal[...] or a tuple/set/frozenset of strings spells."""
    if isinstance(node, ast.Subscript) and _is_literal(node):
        node = node.slice
    elif (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in {"frozenset", "set", "tuple"}
        and len(node.args) == 1
    ):
        node = node.args[0]
    if not isinstance(node, ast.Tuple | ast.List | ast.Set):
        return None
    values = [e.value for e in node.elts if isinstance(e, ast.Constant)]
    if len(values) != len(node.elts) or not all(isinstance(v, str) for v in values):
        return None
    return frozenset(values)


def _assigned(tree: ast.AST) -> Iterator[tuple[str, ast.expr | None, int]]:
    """(name, value, line) of every assignment to a plain name, and every enum class."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for t in node.targets:
                if isinstance(t, ast.Name):
                    yield t.id, node.value, node.lineno
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            yield node.target.id, node.value, node.lineno
        elif isinstance(node, ast.ClassDef) and any(
            _name_of(b).endswith("Enum") for b in node.bases
        ):
            yield node.name, None, node.lineno  # an enum is a vocabulary too


def vocabulary_repeats(tree: ast.AST, where: str) -> list[str]:
    """Definitions in ``tree`` that repeat a vocabulary outside its home: a named one
    (an assignment, an enum), or a ``Literal[...]`` spelt inline in an annotation (a
    parameter, a field) with the same set of values."""
    found = []
    named: set[int] = set()  # Literal nodes already reported as an assignment's value
    for name, value, line in _assigned(tree):
        values = _strings(value) if value is not None else None
        named.add(id(value))
        for v in VOCABULARIES:
            if where == v.home:
                continue
            defines_name = name == v.name and (value is None or _is_literal(value))
            if defines_name or values == v.values:
                found.append(f"{where}:{line}: {name} repeats {v.name} (home: {v.home})")
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Subscript) and _is_literal(node)) or id(node) in named:
            continue
        values = _strings(node)
        for v in VOCABULARIES:
            if where != v.home and values == v.values:
                found.append(
                    f"{where}:{node.lineno}: an inline Literal repeats {v.name} (home: {v.home})"
                )
    return found


_FOLD: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Mult: operator.mul,
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Div: operator.truediv,
}


def _number(node: ast.AST) -> float | None:
    """The value of a numeric literal, or of arithmetic on literals only (``72 * 3600``)."""
    if isinstance(node, ast.Constant):
        v = node.value
        return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None
    if isinstance(node, ast.BinOp) and type(node.op) in _FOLD:
        left, right = _number(node.left), _number(node.right)
        if left is not None and right is not None:
            try:
                return float(_FOLD[type(node.op)](left, right))
            except ZeroDivisionError:
                return None
    return None


def _numbers(node: ast.AST) -> Iterator[tuple[float, int]]:
    """Numbers in ``node``, each folded expression once (not also its parts). A literal
    operand of arithmetic on a variable (``deadline_s / 2``) is a factor, not a figure."""
    value = _number(node)
    if value is not None:
        yield value, getattr(node, "lineno", 0)
        return
    for child in ast.iter_child_nodes(node):
        if isinstance(node, ast.BinOp) and isinstance(child, ast.Constant):
            continue
        yield from _numbers(child)


def _name_of(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def _bindings(tree: ast.AST) -> Iterator[tuple[str, ast.AST]]:
    """(name, expression) pairs: what a number in the expression is bound to or compared
    with — assignment targets, keyword arguments, parameter defaults, comparisons."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for t in node.targets:
                yield _name_of(t), node.value
        elif isinstance(node, ast.AnnAssign | ast.AugAssign) and node.value is not None:
            yield _name_of(node.target), node.value
        elif isinstance(node, ast.keyword) and node.arg is not None:
            yield node.arg, node.value
        elif isinstance(node, ast.arguments):
            positional = node.posonlyargs + node.args
            for arg, default in zip(
                positional[len(positional) - len(node.defaults) :], node.defaults, strict=True
            ):
                yield arg.arg, default
            for arg, kw_default in zip(node.kwonlyargs, node.kw_defaults, strict=True):
                if kw_default is not None:
                    yield arg.arg, kw_default
        elif isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            names = " ".join(_name_of(o) for o in operands)
            for o in operands:
                yield names, o


def legal_literals(tree: ast.AST, where: str) -> list[str]:
    """Places in ``tree`` that write one of the law's numbers instead of importing it."""
    found: set[str] = set()
    for law_number in LEGAL_NUMBERS:
        if law_number.bound_to is None:
            for value, line in _numbers(tree):
                if value == law_number.value:
                    found.add(f"{where}:{line}: {value:g} is law.{law_number.name}")
    for name, expr in _bindings(tree):
        for law_number in LEGAL_NUMBERS:
            if law_number.bound_to is None or not law_number.bound_to.search(name):
                continue
            for value, line in _numbers(expr):
                if value == law_number.value:
                    found.add(f"{where}:{line}: {name} = {value:g} is law.{law_number.name}")
    return sorted(found)


def _modules() -> list[tuple[str, ast.Module]]:
    return [
        (path.relative_to(SRC).as_posix(), ast.parse(path.read_text(), str(path)))
        for path in sorted(SRC.rglob("*.py"))
    ]


# --- the homes -------------------------------------------------------------------------


def test_each_vocabulary_has_its_home_and_others_use_that_object() -> None:
    assert tuple(get_args(AgentState)) == AGENT_STATES
    assert contract.AgentStateName is AgentState
    assert contract.AGENT_STATES is AGENT_STATES
    assert get_args(PacingMode) == MODES
    assert ConfigPacingMode is PacingMode
    assert runner.CampaignState is CampaignState is engine.CampaignState
    assert get_args(DialMode) == DIAL_MODES
    assert get_args(AttemptOutcome) == ATTEMPT_OUTCOMES


def test_every_pacing_mode_maps_to_one_dial_mode() -> None:
    assert set(DIAL_MODE_OF) == set(get_args(PacingMode))
    assert set(DIAL_MODE_OF.values()) == set(get_args(DialMode))
    assert DIAL_MODE_OF["predictive"] == "predictive"


def test_engine_outcomes_are_attempt_outcomes() -> None:
    outcomes = set(get_args(AttemptOutcome))
    codes = [None, 200, 404, 408, 480, 486, 487, 500, 503, 600, 603, 604, 699]
    assert {calls.classify_failure(code)[0] for code in codes} <= outcomes
    assert set(selection.RETRY_KEY) <= outcomes
    assert set(selection.FINAL_OUTCOMES) <= outcomes


def test_the_law_module_holds_each_number() -> None:
    assert law.MIN_RING_TIMEOUT_S == 15.0
    assert law.MAX_ABANDON_CAP == 0.03
    assert law.CONNECT_DEADLINE_S == 2.0
    assert law.ABANDON_LOCKOUT_S == 72 * 3600
    assert law.MAX_DIAL_RATIO == 3.0
    assert law.ABANDON_WINDOW_S == {"24h": 86_400.0, "30d": 30 * 86_400.0}
    assert set(law.ABANDON_WINDOW_S) == set(get_args(law.AbandonWindow))
    assert law.NATIONAL_LIST_REGION == {
        "tps": "GB", "ctps": "GB", "usdnc": "US", "bloctel": "FR", "dncr": "AU"
    }  # fmt: skip
    assert law.MAX_LIST_AGE_DAYS == {"tps": 28, "ctps": 28, "usdnc": 31, "bloctel": 30, "dncr": 30}
    assert law.REGIME_NATIONAL_LIST == {"france": "bloctel", "australia": "dncr"}
    assert law.REGIME_HOLIDAY_COUNTRY == {"france": "FR", "australia": "AU"}
    assert law.REGIME_MAX_CALLS == {"france": {"per_30_days": 4}}


def test_the_governor_and_the_compliance_report_measure_the_same_windows() -> None:
    """Both read the law's table (each kept its own copy once: pacing.params.WINDOWS_S
    and reports.compliance.WINDOW_SECONDS)."""
    from dialguard.config.campaign import AbandonWindow as ConfigAbandonWindow
    from dialguard.pacing import params
    from dialguard.reports import compliance

    assert ConfigAbandonWindow is law.AbandonWindow
    assert params.ABANDON_WINDOW_S is law.ABANDON_WINDOW_S
    assert compliance.ABANDON_WINDOW_S is law.ABANDON_WINDOW_S
    assert not hasattr(params, "WINDOWS_S") and not hasattr(compliance, "WINDOW_SECONDS")
    assert params.PacingParams(abandon_window="30d").window_s == 30 * 86_400.0


def test_list_ages_and_regime_caps_are_used_from_the_law_module() -> None:
    from dialguard.rules import dnc

    assert {k: v // 86400 for k, v in dnc.MAX_LIST_AGE_S.items()} == law.MAX_LIST_AGE_DAYS
    assert set(law.NATIONAL_LIST_REGION) == set(law.MAX_LIST_AGE_DAYS)
    assert set(law.REGIME_NATIONAL_LIST.values()) <= set(law.NATIONAL_LIST_REGION)


# --- the scan over src/dialguard -------------------------------------------------------


def test_no_module_defines_a_vocabulary_again() -> None:
    found = [f for where, tree in _modules() for f in vocabulary_repeats(tree, where)]
    assert found == []


def test_no_module_writes_a_legal_number_as_a_literal() -> None:
    found = {
        f for where, tree in _modules() if where != "law.py" for f in legal_literals(tree, where)
    }
    assert found - PENDING == set()
    assert PENDING - found == set(), "fixed: drop these from PENDING"


# --- the checker finds what it should, and only that -----------------------------------


@pytest.mark.parametrize(
    "code",
    [
        'CampaignState = Literal["active", "paused", "stopped"]',
        'RunState = Literal["stopped", "active", "paused"]',  # same values, other name
        'STATES = frozenset({"ready", "busy", "wrap", "paused", "offline"})',
        "class DialMode(enum.Enum): pass",
        'AgentState: TypeAlias = Literal["ready"]',
        'def f(mode: Literal["preview", "progressive", "predictive"] | None = None): pass',
        'class C:\n    state: Literal["active", "paused", "stopped"]',
    ],
)
def test_checker_flags_a_repeated_vocabulary(code: str) -> None:
    assert vocabulary_repeats(ast.parse(code), "engine/x.py") != []


@pytest.mark.parametrize(
    "code",
    [
        'CampaignState = Literal["active", "paused", "stopped"]',  # its home may
        'Mode = Literal["progressive", "predictive"]',  # a subset is another vocabulary
        "class AgentState(BaseModel): pass",  # a pydantic model of that name (item 5)
        "from dialguard.store import CampaignState",
    ],
)
def test_checker_leaves_other_definitions_alone(code: str) -> None:
    assert vocabulary_repeats(ast.parse(code), "store/records.py") == []


@pytest.mark.parametrize(
    "code",
    [
        "def f(cap: float = 0.03): pass",
        "if not 0 < cap <= 0.03: pass",
        "summarise(days, abandon_cap=0.03)",
        "LOCKOUT = 72 * 3600",
        "LOCKOUT = 3 * 86400.0",
        "ring_timeout_s: float = Field(default=15.0, ge=15)",
        "if call.ring_timeout_s < 15: pass",
        "CONNECT_LIMIT_S = 2.0",
        "if not 0 <= self.connect_latency_s < 2.0: pass",
        "params = P(max_dial_ratio=3)",
    ],
)
def test_checker_flags_a_legal_literal(code: str) -> None:
    assert legal_literals(ast.parse(code), "x.py") != []


@pytest.mark.parametrize(
    "code",
    [
        '"""Ring at least 15 s; abandon at most 3 % (0.03)."""',
        "RETRY_MAX_S = 2.0",
        "OPT_OUT_WAIT_S = 3.0",
        "keepalive_s: int = Field(default=15, ge=5)",
        "ADAPT_EVERY_S = 15.0",
        "cap = MAX_ABANDON_CAP",
    ],
)
def test_checker_allows_docs_and_unrelated_numbers(code: str) -> None:
    assert legal_literals(ast.parse(code), "x.py") == []
