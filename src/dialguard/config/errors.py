"""Configuration errors that name the file, the field, the value and the rule broken.

Operators read these at 3 a.m. from a refusing daemon, so each problem is one line:
``campaigns/spring.toml: pacing.ring_timeout_s = 10: must be ≥ 15 s (minimum ring time)``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

_PREFIXES = ("Value error, ", "Assertion failed, ")


class ConfigError(Exception):
    """One or more problems found while loading configuration; ``problems`` lists them."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


def _shown(path: Path | str | None) -> str:
    if path is None:
        return "<config>"
    p = Path(path)
    # "campaigns/spring.toml" reads better than an absolute path and still locates it.
    return f"{p.parent.name}/{p.name}" if p.parent.name else p.name


def _value(v: Any) -> str:
    if isinstance(v, str):
        return repr(v) if (" " in v or not v) else v
    if isinstance(v, dict | list):
        return "{…}" if isinstance(v, dict) else "[…]"
    return str(v)


def describe_validation_error(err: ValidationError, path: Path | str | None) -> ConfigError:
    """Turn a pydantic ValidationError into a ConfigError with one line per problem."""
    where = _shown(path)
    lines = []
    for e in err.errors(include_url=False):
        loc = ".".join(str(x) for x in e["loc"]) or "(top level)"
        msg = e["msg"]
        for p in _PREFIXES:
            if msg.startswith(p):
                msg = msg[len(p) :]
        if e["type"] == "missing":
            lines.append(f"{where}: {loc}: required field is missing")
        elif e["type"] == "extra_forbidden":
            lines.append(f"{where}: {loc}: unknown field (check the spelling)")
        else:
            lines.append(f"{where}: {loc} = {_value(e.get('input'))}: {msg}")
    return ConfigError(lines)
