"""`dialguard config check`: validate engine and campaign files without starting anything."""

from __future__ import annotations

from pathlib import Path

from cyclopts import App

from dialguard.cli._common import (
    EXIT_BAD_INPUT,
    EXIT_OK,
    console,
    err_console,
    load_config_or_exit,
)
from dialguard.config import ConfigError, load_campaigns

app = App(name="config", help="Check configuration files.")


@app.command
def check(config: Path | None = None) -> int:
    """Validate the engine config and every campaign file; list each problem found.

    Parameters
    ----------
    config
        Engine config file (default: config/dialguard.toml if present, else built-in defaults).
    """
    cfg = load_config_or_exit(config)
    try:
        campaigns = load_campaigns(cfg.engine.campaigns_dir)
    except ConfigError as e:
        for p in e.problems:
            err_console.print(f"[red]config error:[/] {p}", highlight=False)
        return EXIT_BAD_INPUT
    console.print(
        f"config ok: broker {cfg.broker.host}:{cfg.broker.port}, trunk "
        f"{cfg.trunk.host}:{cfg.trunk.port}, store {cfg.store.path}, "
        f"{len(campaigns)} campaign(s) in {cfg.engine.campaigns_dir}",
        highlight=False,
    )
    for c in campaigns:
        console.print(f"  {c.id}: {c.name} ({c.pacing.mode}, cap {c.pacing.abandon_cap:.1%})")
    return EXIT_OK
