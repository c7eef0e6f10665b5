"""Configuration errors that name the file, the field, the value and the rule broken.

Operators read these at 3 a.m. from a refusing daemon, so each problem is one line:
``campaigns/spring.toml: pacing.ring_timeout_s = 10: must be ≥ 15 s (minimum ring time)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

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


SECRET_SHOWN = "***"
_SECRET_FIELDS = frozenset({"password"})


def _value(v: Any) -> str:
    if isinstance(v, str):
        v = _without_credentials(v)
        return repr(v) if (" " in v or not v) else v
    if isinstance(v, dict | list):
        return "{…}" if isinstance(v, dict) else "[…]"
    return str(v)


def _without_credentials(v: str) -> str:
    """A URL with its password replaced, so an error line never shows one."""
    if "@" not in v or "://" not in v:
        return v
    try:
        parts = urlsplit(v)
    except ValueError:
        return SECRET_SHOWN
    if parts.password is None:
        return v
    netloc = parts.netloc.replace(f":{parts.password}@", f":{SECRET_SHOWN}@", 1)
    return parts._replace(netloc=netloc).geturl()


def describe_validation_error(
    err: ValidationError,
    path: Path | str | None,
    *,
    source_of: Callable[[tuple[str | int, ...]], str | None] | None = None,
) -> ConfigError:
    """Turn a pydantic ValidationError into a ConfigError with one line per problem.

    ``source_of`` names where a field's value came from when it was not the file (the
    environment variable); secrets are never shown, whatever their source."""
    lines = []
    for e in err.errors(include_url=False):
        env = source_of(e["loc"]) if source_of is not None else None
        where = f"environment {env}" if env is not None else _shown(path)
        loc = ".".join(str(x) for x in e["loc"]) or "(top level)"
        secret = any(part in _SECRET_FIELDS for part in e["loc"])
        msg = e["msg"]
        for p in _PREFIXES:
            if msg.startswith(p):
                msg = msg[len(p) :]
        if e["type"] == "missing":
            lines.append(f"{where}: {loc}: required field is missing")
        elif e["type"] == "extra_forbidden":
            lines.append(f"{where}: {loc}: unknown field (check the spelling)")
        else:
            shown = SECRET_SHOWN if secret else _value(e.get("input"))
            lines.append(f"{where}: {loc} = {shown}: {msg}")
    return ConfigError(lines)
