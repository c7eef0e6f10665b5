"""Who owns a campaign's settings: the campaign file, a supervisor's live change, the store.

Before issue 12 a restart copied the file over whatever a supervisor had changed live,
so a cap tightened to 2 % quietly went back to 3 %. The rule now (docs/supervisor.md
"Who owns a campaign's settings"):

1. The campaign file owns every setting, except the pacing fields a supervisor has
   changed live (``campaign set-pacing``). The store keeps each such field as a
   :class:`~dialguard.store.PacingOverride`: the value, who, when, and what the file said
   at that moment.
2. At every start and SIGHUP each override is settled against the file as it is now:

   ======================================  ==============================  ===========
   the file's value for the field          in force                        outcome
   ======================================  ==============================  ===========
   as it was when the supervisor changed   the supervisor's value          ``kept``
   it (the file was not edited since)
   now equal to the supervisor's value     that value, owned by the file   ``agreed``
   again (override dropped)
   something else (edited since)           the file's: the newer           ``conflict``
                                           deliberate change wins, and it
                                           is reported, never silent
   ======================================  ==============================  ===========

   An override the current file makes invalid (a field that no longer exists, a
   combination the law refuses) is dropped as a ``conflict`` too: the file is what
   validated.
3. A supervisor who sets a field back to the file's value hands it back to the file.

Every outcome is audited (``settings.kept`` / ``settings.agreed`` /
``settings.conflict``, actor ``file``), so ``report audit`` says which source won;
``config check`` shows the same settlement before a restart. Pure functions: the engine
reads and writes the overrides, this module only decides.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError

from dialguard.config import PacingConfig
from dialguard.store import PacingOverride

SettlementKind = Literal["kept", "agreed", "conflict"]


@dataclass(frozen=True, slots=True)
class Settlement:
    """What became of one override when the file was (re)loaded."""

    override: PacingOverride
    file_value: Any
    outcome: SettlementKind

    @property
    def winner(self) -> Literal["supervisor", "file"]:
        return "supervisor" if self.outcome == "kept" else "file"

    def sentence(self) -> str:
        """For the log, the audit's detail and ``config check``."""
        o = self.override
        field, who = o.field, f"{o.actor} on {_day(o.ts)}"
        if self.outcome == "kept":
            return (
                f"{field}: {_v(o.value)} set live by {who} stays in force over the campaign "
                f"file's {_v(self.file_value)} (the file has not changed it since)"
            )
        if self.outcome == "agreed":
            return f"{field}: the campaign file now says {_v(o.value)} too, as {who} set it live"
        return (
            f"{field}: the campaign file was changed from {_v(o.file_value)} to "
            f"{_v(self.file_value)} after {who} set it live to {_v(o.value)}; the file's "
            "newer value is in force"
        )


@dataclass(frozen=True, slots=True)
class Resolution:
    """The pacing in force and the overrides that stay, after settling against a file."""

    pacing: PacingConfig
    overrides: dict[str, PacingOverride]
    settlements: list[Settlement]


def _v(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _day(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def resolve(
    file_pacing: PacingConfig,
    overrides: Mapping[str, PacingOverride],
    check: Callable[[PacingConfig], None] = lambda _p: None,
) -> Resolution:
    """Settle ``overrides`` against the file's pacing (rule 2 above). ``check`` raises
    ValueError for a pacing the campaign cannot run (predictive with no message)."""
    from_file = file_pacing.model_dump()
    kept: dict[str, PacingOverride] = {}
    settlements = []
    for field, o in sorted(overrides.items()):
        now_says = from_file.get(field)
        if field not in from_file or now_says not in (o.file_value, o.value):
            settlements.append(Settlement(o, now_says, "conflict"))
        elif now_says == o.value:
            settlements.append(Settlement(o, now_says, "agreed"))
        else:
            settlements.append(Settlement(o, now_says, "kept"))
            kept[field] = o
    try:
        pacing = PacingConfig.model_validate({**from_file, **{f: o.value for f, o in kept.items()}})
        check(pacing)
    except (ValidationError, ValueError):
        settlements = [
            s if s.outcome != "kept" else Settlement(s.override, s.file_value, "conflict")
            for s in settlements
        ]
        return Resolution(file_pacing, {}, settlements)
    return Resolution(pacing, kept, settlements)


def after_live_change(
    overrides: Mapping[str, PacingOverride],
    file_pacing: PacingConfig,
    changed: Mapping[str, Any],
    actor: str,
    ts: float,
) -> dict[str, PacingOverride]:
    """The overrides once a supervisor changed ``changed`` (field → new value) live
    (rule 3: a field set back to the file's value is the file's again)."""
    from_file = file_pacing.model_dump()
    out = dict(overrides)
    for field, value in changed.items():
        if value == from_file.get(field):
            out.pop(field, None)
        else:
            out[field] = PacingOverride(field, value, from_file.get(field), actor, ts)
    return out
