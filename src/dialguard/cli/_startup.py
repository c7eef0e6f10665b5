"""What the daemon checks before it starts, in one place: ``dialguard run`` refuses to
start on any of it and ``dialguard config check`` reports all of it, so a set that
passes the check does not then fail at start (issue 11, "one validator")."""

from __future__ import annotations

from dataclasses import dataclass, field

from dialguard.config import CampaignConfig, ConfigError, EngineConfig, Roster, load_roster


@dataclass(slots=True)
class StartupCheck:
    roster: Roster = field(default_factory=Roster)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def check_startup(cfg: EngineConfig, campaigns: list[CampaignConfig]) -> StartupCheck:
    """The roster and every campaign's information message, beyond the config models."""
    from dialguard.sip.prompt import PromptError, load_prompt

    out = StartupCheck()
    try:
        out.roster = load_roster(cfg.engine.agents_file)
    except ConfigError as e:
        out.problems.extend(e.problems)
    else:
        if not out.roster:
            out.warnings.append(
                "engine.agents_file: no agent roster configured (or it lists nobody): "
                "every agent's state will be ignored and nothing dialled"
            )
    known = cfg.national_lists()
    for c in campaigns:
        for name in c.dnc.lists:
            if name not in known:
                out.problems.append(
                    f"campaign {c.id}: dnc.lists: {name!r} is neither a built-in list"
                    f" ({', '.join(known)}) nor declared in the engine config's [[dnc_list]]"
                )
        if c.information_message is None:
            continue
        try:
            load_prompt(c.information_message)
        except PromptError as e:
            out.problems.append(f"campaign {c.id}: information_message: {e}")
    return out
