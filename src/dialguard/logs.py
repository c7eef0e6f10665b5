"""Structured logging: JSON for machines, console for people, phone numbers masked.

Call records are personal data. Every log event passes through :func:`mask_pii`, which
keeps only the last three digits of anything that looks like a phone number (in any
string value, keys included) and drops values of secret-looking keys. It runs last
before rendering, so no call site can forget it.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any, Literal

import structlog

# A phone number: optional +, then 7–15 digits possibly split by spaces, dots, dashes or
# brackets. Matches E.164 (+441632960000), national (020 7946 0000) and sip URIs' users.
_PHONE = re.compile(r"(?<![\w.])(?!\d{4}-\d\d-\d\d)\+?\d(?:[\s().-]{0,2}\d){6,14}(?![\w]|\.\d)")
_SECRET_KEYS = re.compile(r"pass(word)?|secret|token|authorization|api_?key", re.I)
MASK = "***"


def mask_number(text: str) -> str:
    """``+441632960123`` → ``+*********123``: enough to correlate, not enough to call."""

    def repl(m: re.Match[str]) -> str:
        s = m.group(0)
        digits = [i for i, c in enumerate(s) if c.isdigit()]
        keep = set(digits[-3:])
        return "".join(c if (not c.isdigit() or i in keep) else "*" for i, c in enumerate(s))

    return _PHONE.sub(repl, text)


def _mask_value(key: str, value: Any) -> Any:
    if _SECRET_KEYS.search(key):
        return MASK if value is not None else None
    if isinstance(value, str):
        return mask_number(value)
    if isinstance(value, Mapping):
        return {k: _mask_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mask_value(key, v) for v in value]
    return value


def mask_pii(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: mask phone numbers in every value and hide secrets."""
    return {k: _mask_value(k, v) for k, v in event_dict.items()}


def configure_logging(
    level: str = "info", fmt: Literal["auto", "json", "console"] = "auto", stream: Any = None
) -> None:
    """Configure structlog once for the process (the CLI and the daemon call this)."""
    stream = _Tolerant(stream or sys.stderr)
    if fmt == "auto":
        fmt = "console" if getattr(stream, "isatty", lambda: False)() else "json"
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=False)
        if fmt == "console"
        else structlog.processors.JSONRenderer(ensure_ascii=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            mask_pii,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            getattr(logging, level.upper(), logging.INFO)
        ),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )


class _Tolerant:
    """A log stream that survives its terminal: after a hang-up, writes to the dead tty
    raise EIO (or EPIPE for a closed pipe). Logging must never stop the daemon, so such
    writes are dropped and counted (there is nowhere left to say so)."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.dropped = 0

    def write(self, text: str) -> int:
        try:
            return int(self._stream.write(text))
        except (OSError, ValueError):  # ValueError: the stream was closed
            self.dropped += 1
            return 0

    def flush(self) -> None:
        try:
            self._stream.flush()
        except (OSError, ValueError):
            self.dropped += 1

    def isatty(self) -> bool:
        try:
            return bool(self._stream.isatty())
        except (OSError, ValueError):
            return False


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
