"""`dialguard config check`: validate engine and campaign files without starting anything."""

from __future__ import annotations

from pathlib import Path

from cyclopts import App

from dialguard.cli._common import (
    DEFAULT_CONFIG,
    EXIT_BAD_INPUT,
    EXIT_OK,
    console,
    err_console,
)
from dialguard.cli._startup import check_startup
from dialguard.config import ConfigError, EngineConfig, load_campaigns, load_engine_config
from dialguard.config.loading import campaigns_dir_of

app = App(name="config", help="Check configuration files.")


@app.command
def check(config: Path | None = None) -> int:
    """Validate the engine config and every campaign file; list each problem found.

    Parameters
    ----------
    config
        Engine config file (default: config/dialguard.toml if present, else built-in defaults).
    """
    path = config if config is not None or not DEFAULT_CONFIG.exists() else DEFAULT_CONFIG
    problems: list[str] = []
    cfg: EngineConfig | None = None
    try:
        cfg = load_engine_config(path)
        campaigns_dir: Path | None = cfg.engine.campaigns_dir
    except ConfigError as e:
        # Go on to the campaign files: every problem at once, not one file per run.
        problems.extend(e.problems)
        campaigns_dir = campaigns_dir_of(path)
    campaigns = []
    if campaigns_dir is not None:
        try:
            campaigns = load_campaigns(campaigns_dir)
        except ConfigError as e:
            problems.extend(e.problems)
    warnings: list[str] = []
    roster_size = 0
    if cfg is not None:
        startup = check_startup(cfg, campaigns)
        problems.extend(startup.problems)
        warnings.extend(startup.warnings)
        roster_size = len(startup.roster)
    for w in warnings:
        err_console.print(f"[yellow]config warning:[/] {w}", highlight=False)
    if problems or cfg is None:
        for p in problems:
            err_console.print(f"[red]config error:[/] {p}", highlight=False)
        n = len(problems)
        err_console.print(f"{n} problem{'s' if n != 1 else ''} found", highlight=False)
        return EXIT_BAD_INPUT
    console.print(
        f"config ok: broker {cfg.broker.host}:{cfg.broker.port}, trunk "
        f"{cfg.trunk.host}:{cfg.trunk.port}, store {cfg.store.path}, "
        f"{len(campaigns)} campaign(s) in {cfg.engine.campaigns_dir}, "
        f"{roster_size} agent(s) on the roster",
        highlight=False,
        soft_wrap=True,
    )
    from dialguard.rules.imposed import what_is_imposed

    for c in campaigns:
        console.print(f"  {c.id}: {c.name} ({c.pacing.mode}, cap {c.pacing.abandon_cap:.1%})")
        for line in what_is_imposed(c):
            console.print(f"    {line}", highlight=False, soft_wrap=True)
    return EXIT_OK
