"""The agent roster: the people the engine may give calls to, and what each may serve.

Anyone with a broker login can publish on an agent's state topic if the ACL lets them,
so the engine does not believe a state message about itself alone: the agent must be
on the roster. The roster, not the message, says which campaigns or groups an agent
serves and where their calls are transferred. A state message from an id not on the
roster is ignored (counted and logged once).

The file (``engine.agents_file``, TOML, re-read on SIGHUP with the campaigns)::

    [[agent]]
    id = "agent-001"
    groups = ["default"]              # campaigns whose agent_group is listed
    campaigns = ["spring"]            # and/or campaigns by id
    sip_uri = "sip:1001@pbx.example"  # optional: else trunk.agent_uri_template
    skills = ["fr"]                   # optional, for the desktop and reports

No file configured means an empty roster: every agent is refused (fail closed); the
daemon and ``config check`` warn about it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from dialguard.config.engine import TOPIC_LEVEL_PATTERN
from dialguard.config.errors import ConfigError, _shown, describe_validation_error

Level = Annotated[str, Field(pattern=TOPIC_LEVEL_PATTERN)]


class RosterEntry(BaseModel):
    """One agent the engine knows."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Level
    groups: tuple[Level, ...] = ("default",)
    campaigns: tuple[Level, ...] = ()
    sip_uri: str | None = None
    skills: tuple[Annotated[str, Field(min_length=1, max_length=64)], ...] = ()

    @field_validator("sip_uri")
    @classmethod
    def _uri(cls, v: str | None) -> str | None:
        if v is not None and (not v.startswith(("sip:", "sips:")) or len(v) < 6 or " " in v):
            raise ValueError("must be a sip: or sips: URI, e.g. sip:1001@pbx.example")
        return v

    def may_serve(self, campaign_id: str, agent_group: str) -> bool:
        return campaign_id in self.campaigns or agent_group in self.groups


@dataclass(frozen=True, slots=True)
class Roster:
    """Agents by id. Immutable: a reload builds a new one."""

    entries: dict[str, RosterEntry] = field(default_factory=dict)

    @classmethod
    def of(cls, ids: Iterable[str], groups: Iterable[str] = ("default",)) -> Roster:
        """A roster of ``ids`` all serving ``groups`` (the demo's, and tests')."""
        g = tuple(groups)
        return cls({i: RosterEntry(id=i, groups=g) for i in ids})

    def get(self, agent: str) -> RosterEntry | None:
        return self.entries.get(agent)

    def __contains__(self, agent: object) -> bool:
        return agent in self.entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)


def parse_roster(data: dict[str, Any], source: Path | str | None = None) -> Roster:
    """Validate a roster's data; every problem reported with its agent's place."""
    where = _shown(source)
    unknown = sorted(k for k in data if k != "agent")
    problems = [f"{where}: {k}: unknown table (use [[agent]])" for k in unknown]
    items = data.get("agent", [])
    if not isinstance(items, list):
        raise ConfigError([*problems, f"{where}: agent: must be [[agent]] tables"])
    entries: dict[str, RosterEntry] = {}
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            problems.append(f"{where}: agent[{i}]: must be a table")
            continue
        try:
            entry = RosterEntry.model_validate(item)
        except ValidationError as e:
            problems.extend(
                p.replace(f"{where}: ", f"{where}: agent[{i}].", 1)
                for p in describe_validation_error(e, source).problems
            )
            continue
        if entry.id in entries:
            problems.append(f"{where}: agent[{i}].id = {entry.id}: listed twice")
            continue
        entries[entry.id] = entry
    if problems:
        raise ConfigError(problems)
    return Roster(entries)
