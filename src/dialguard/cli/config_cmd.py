"""`dialguard config check`: validate engine and campaign files without starting anything."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from pathlib import Path

from cyclopts import App
from rich.markup import escape

from dialguard.cli._common import (
    DEFAULT_CONFIG,
    EXIT_BAD_INPUT,
    EXIT_OK,
    console,
    err_console,
)
from dialguard.cli._startup import check_startup
from dialguard.config import (
    CampaignConfig,
    ConfigError,
    EngineConfig,
    load_campaigns,
    load_engine_config,
)
from dialguard.config.loading import campaigns_dir_of
from dialguard.engine.blocking import contact_reasons, list_reasons, store_reasons
from dialguard.engine.ownership import resolve
from dialguard.law import ListTerms
from dialguard.store import DueSummary, Store, StoreError

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
        for line in what_is_imposed(c, cfg.national_lists()):
            # the lines are text, not markup: "[dnc] lists" must print as written
            console.print(f"    {escape(line)}", highlight=False, soft_wrap=True)
    # Valid files can still make a campaign that dials nothing, or a restart that keeps a
    # supervisor's change over the file: say so now, as warnings (the exit stays 0).
    for line in _warnings(cfg.store.path, campaigns, cfg.national_lists()):
        err_console.print(f"[yellow]warning:[/] {line}", highlight=False)
    return EXIT_OK


def _warnings(
    store_path: Path, campaigns: list[CampaignConfig], national: Mapping[str, ListTerms]
) -> list[str]:
    now = time.time()
    if not store_path.exists():
        none = DueSummary(0, 0, None, None, None)
        return [
            f"{c.id} would dial nothing: {r.message}"
            for c in campaigns
            for r in list_reasons(c, {}, now, national) + contact_reasons(c, none, 0)
        ] + [f"no store yet at {store_path} (the daemon or an import creates it)"]
    try:
        return asyncio.run(_store_warnings(store_path, campaigns, now, national))
    except (StoreError, OSError) as e:
        return [f"store {store_path} not read: {e}"]


async def _store_warnings(
    path: Path, campaigns: list[CampaignConfig], now: float, national: Mapping[str, ListTerms]
) -> list[str]:
    out = []
    async with await Store.open(path) as store:
        for c in campaigns:
            for s in resolve(c.pacing, await store.campaigns.pacing_overrides(c.id)).settlements:
                out.append(f"{c.id} at the next start: {s.sentence()}")
            for r in await store_reasons(store, c, now, national):
                out.append(f"{c.id} would dial nothing: {r.message}")
    return out
