"""Small things every command shares: the console, exit codes, config loading."""

from __future__ import annotations

from pathlib import Path

from rich import box
from rich.console import Console
from rich.table import Table

from dialguard.config import ConfigError, EngineConfig, load_engine_config

# Exit codes: 0 ok, 1 the job ran and found a problem, 2 bad input or config,
# 3 the daemon (or a peer it needs) is not reachable.
EXIT_OK = 0
EXIT_PROBLEM = 1
EXIT_BAD_INPUT = 2
EXIT_UNREACHABLE = 3

console = Console()
err_console = Console(stderr=True, soft_wrap=True)
"""Errors are never wrapped mid-sentence (piped into a log or grep, each stays one line).
(``console`` keeps wrapping: the live view renders through it.)"""

DEFAULT_CONFIG = Path("config/dialguard.toml")


class BadInput(Exception):
    """A problem with the command's own input: printed as one line, exit 2."""


def compact(table: Table) -> Table:
    """Tables that fit an 80-column terminal as far as they can: no vertical rules."""
    table.box = box.SIMPLE_HEAD
    table.pad_edge = False
    table.collapse_padding = True
    table.title_justify = "left"
    return table


def load_config_or_exit(path: Path | None) -> EngineConfig:
    """Load engine config; on error print each problem and exit 2."""
    if path is None and DEFAULT_CONFIG.exists():
        path = DEFAULT_CONFIG
    try:
        return load_engine_config(path)
    except ConfigError as e:
        for p in e.problems:
            err_console.print(f"[red]config error:[/] {p}", highlight=False)
        raise SystemExit(EXIT_BAD_INPUT) from None
