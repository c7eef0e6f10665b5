"""Load and validate TOML configuration, reporting every problem with its file and field."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_settings import SettingsError

from dialguard.config.campaign import CampaignConfig
from dialguard.config.engine import EngineConfig
from dialguard.config.errors import ConfigError, _shown, describe_validation_error
from dialguard.config.roster import Roster, parse_roster


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError([f"{path}: file not found"]) from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError([f"{_shown(path)}: not valid TOML: {e}"]) from None
    except UnicodeDecodeError as e:
        raise ConfigError([f"{_shown(path)}: not UTF-8 text ({e.reason})"]) from None


ENV_PREFIX = "DIALGUARD_"


def _env_source(loc: tuple[str | int, ...], environ: Mapping[str, str]) -> str | None:
    """The environment variable that set the field at ``loc``, if one did (the
    environment wins over the file, so a bad value there is the variable's fault)."""
    names = {k.upper() for k in environ}
    for depth in range(len(loc), 0, -1):
        name = ENV_PREFIX + "__".join(str(p) for p in loc[:depth]).upper()
        if name in names:
            return name
    return None


def _env_settings_problem(err: SettingsError, environ: Mapping[str, str]) -> ConfigError:
    """pydantic-settings could not even parse a variable (a list or tuple field such as
    ``DIALGUARD_TRUNK__RTP_PORT_RANGE`` is read as JSON): name the variables concerned."""
    given = sorted(k for k in environ if k.upper().startswith(ENV_PREFIX))
    bad = [k for k in given if "__" in k] or given
    shown = ", ".join(bad) or "DIALGUARD_*"
    return ConfigError(
        [f"environment {shown}: cannot be parsed ({err}); lists are JSON, e.g. [20000, 20999]"]
    )


def load_engine_config(path: Path | None, environ: Mapping[str, str] | None = None) -> EngineConfig:
    """Engine config from ``path`` (or embedded defaults when None), env overriding.

    Each problem names its source: the file, or the ``DIALGUARD_…`` variable that set
    the field (``environ`` defaults to the process environment and is only read here to
    say which; pydantic-settings reads the real one)."""
    env = os.environ if environ is None else environ
    data = _read_toml(path) if path is not None else {}
    try:
        cfg = EngineConfig(**data)
    except SettingsError as e:
        raise _env_settings_problem(e, env) from None
    except ValidationError as e:
        raise describe_validation_error(
            e, path, source_of=lambda loc: _env_source(loc, env)
        ) from None
    if path is not None:
        # Relative paths in the file are relative to the file, not to the cwd.
        base = path.parent
        engine = cfg.engine
        if not engine.campaigns_dir.is_absolute():
            engine = engine.model_copy(update={"campaigns_dir": base / engine.campaigns_dir})
        if engine.agents_file is not None and not engine.agents_file.is_absolute():
            engine = engine.model_copy(update={"agents_file": base / engine.agents_file})
        store = cfg.store
        if not store.path.is_absolute():
            store = store.model_copy(update={"path": base / store.path})
        cfg = cfg.model_copy(update={"engine": engine, "store": store})
    return cfg


def campaigns_dir_of(path: Path | None) -> Path | None:
    """Where the campaigns of the engine config at ``path`` are, even when that config
    does not validate (so ``config check`` can still report every campaign's problems);
    None if the file cannot be read or names no usable directory."""
    default = EngineConfig.model_fields["engine"].default.campaigns_dir
    if path is None:
        return Path(default)
    try:
        data = _read_toml(path)
    except ConfigError:
        return None
    engine = data.get("engine")
    given = engine.get("campaigns_dir", default) if isinstance(engine, dict) else default
    if not isinstance(given, str | Path):
        return None
    where = Path(given)
    return where if where.is_absolute() else path.parent / where


def parse_campaign(data: dict[str, Any], source: Path | str | None = None) -> CampaignConfig:
    """Validate one campaign's data (from a file, a control message or a test)."""
    try:
        return CampaignConfig.model_validate(data)
    except ValidationError as e:
        raise describe_validation_error(e, source) from None


def load_campaign(path: Path) -> CampaignConfig:
    camp = parse_campaign(_read_toml(path), path)
    if camp.information_message is not None and not camp.information_message.is_absolute():
        camp = camp.model_copy(
            update={"information_message": path.parent / camp.information_message}
        )
    return camp


def load_campaigns(directory: Path) -> list[CampaignConfig]:
    """All ``*.toml`` campaigns in ``directory``; every bad file is reported, none half-loaded."""
    problems: list[str] = []
    campaigns: list[CampaignConfig] = []
    seen: dict[str, Path] = {}
    if not directory.is_dir():
        return []
    for path in sorted(directory.glob("*.toml")):
        try:
            camp = load_campaign(path)
        except ConfigError as e:
            problems.extend(e.problems)
            continue
        if camp.id in seen:
            problems.append(
                f"{_shown(path)}: id = {camp.id}: already used by {_shown(seen[camp.id])}"
            )
            continue
        seen[camp.id] = path
        campaigns.append(camp)
    if problems:
        raise ConfigError(problems)
    return campaigns


def load_roster(path: Path | None) -> Roster:
    """The agent roster in ``path`` (config/roster.py); an empty roster, which refuses
    every agent, when no file is configured."""
    if path is None:
        return Roster()
    return parse_roster(_read_toml(path), path)
