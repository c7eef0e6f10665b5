"""The console's reports: the same store reads and CSV as ``dialguard report``.

Each report is the command line's own code (:mod:`dialguard.cli.report`): the same
queries, the same compliance figures and breaches, and the same CSV through
:mod:`dialguard.spreadsheet`, so a cell a contact list planted as ``=HYPERLINK(…)``
downloads as text. The console only adds the filters of the attempts page and the
campaign settings the controls and the what-if panel start from. The store is read,
never written.
"""

from __future__ import annotations

import dataclasses
import sqlite3
import time
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlencode

from dialguard.cli import report as cli
from dialguard.cli._common import BadInput
from dialguard.config import ConfigError, PacingConfig, StoreConfig, parse_campaign
from dialguard.law import ABANDON_WINDOW_S
from dialguard.reports.compliance import ComplianceReport
from dialguard.store import AttemptRecord, AuditRecord, Store, StoreError

ATTEMPT_ROWS: Final = 500
"""Attempts shown on the page (newest); the CSV has them all."""


class ReportError(Exception):
    """The store cannot be read (a message for the page, not a crash)."""


@dataclass(frozen=True, slots=True)
class Query:
    """A report's parameters, as in the page's query string."""

    campaign: str
    window: str = "24h"
    from_: str | None = None
    to: str | None = None
    outcome: str | None = None
    agent: str | None = None

    def with_campaign(self, campaign: str) -> Query:
        return dataclasses.replace(self, campaign=campaign)

    def link(self, path: str) -> str:
        params = {
            "campaign": self.campaign,
            "window": self.window,
            "from": self.from_ or "",
            "to": self.to or "",
            "outcome": self.outcome or "",
            "agent": self.agent or "",
        }
        return f"{path}?{urlencode({k: v for k, v in params.items() if v})}"

    def span(self, default_s: float) -> tuple[float, float]:
        return cli._span(self.from_, self.to, default_s, time.time())


@dataclass(frozen=True, slots=True)
class CampaignSettings:
    """A campaign as the store has it: its state and its pacing with live changes."""

    id: str
    name: str
    state: str
    pacing: PacingConfig | None  # None: the stored config no longer parses


async def campaign_settings(where: StoreConfig) -> list[CampaignSettings]:
    """Every campaign in the store, with the pacing the engine runs it with (the file's,
    then the fields a supervisor changed live). Empty when there is no store yet."""
    if where.url is None and not where.path.exists():
        return []
    try:
        async with await Store.open(where.location, password=where.secret) as store:
            out = []
            for rec in await store.campaigns.all():
                overrides = await store.campaigns.pacing_overrides(rec.id)
                try:
                    pacing = parse_campaign(rec.config, f"store campaign {rec.id}").pacing
                    live = {k: o.value for k, o in overrides.items()}
                    pacing = PacingConfig.model_validate({**pacing.model_dump(), **live})
                except (ConfigError, ValueError):
                    pacing = None
                out.append(CampaignSettings(rec.id, rec.name, rec.state, pacing))
            return out
    except (StoreError, sqlite3.Error) as e:
        raise ReportError(f"store error: {e}") from None


@dataclass(frozen=True, slots=True)
class Compliance:
    report: ComplianceReport
    start: str
    end: str
    figures: list[tuple[str, str, list[tuple[str, bool]]]]
    """(label, rule, [(value, is a breach) per period])."""


async def _compliance_report(where: StoreConfig, q: Query) -> tuple[ComplianceReport, float, float]:
    window = next((w for w in ABANDON_WINDOW_S if w == q.window), None)
    if window is None:
        raise BadInput(f"window {q.window!r}: must be 24h or 30d")
    start, end = q.span(ABANDON_WINDOW_S[window])
    try:
        report = await cli._compliance(cli._require_store(where), q.campaign, window, start, end)
    except (StoreError, sqlite3.Error) as e:
        raise ReportError(f"store error: {e}") from None
    return report, start, end


async def compliance(where: StoreConfig, q: Query) -> Compliance:
    report, start, end = await _compliance_report(where, q)
    cap = report.cap
    rows: list[tuple[str, str, list[tuple[str, bool]]]] = []
    for p_label, rule, value, breach in _figure_lines(cap):
        rows.append((p_label, rule, [(value(p), breach(p)) for p in report.periods]))
    return Compliance(report, cli._iso(start, "seconds"), cli._iso(end, "seconds"), rows)


def _figure_lines(cap: float) -> list[tuple[str, str, Any, Any]]:
    """The compliance figures with their rule and when a value breaks it."""

    def never(_p: Any) -> bool:
        return False

    def count(name: str) -> Any:
        return lambda p: str(getattr(p, name))

    def nonzero(name: str) -> Any:
        return lambda p: getattr(p, name) != 0

    def secs(v: float | None) -> str:
        return "—" if v is None else f"{v:.2f} s"

    return [
        ("attempts", "", count("attempts"), never),
        ("live answers", "", count("live_answers"), never),
        ("answered by a machine", "not live", count("machine_answers"), never),
        ("connected to an agent", "", count("connects"), never),
        ("abandoned", "", count("abandoned"), never),
        (
            "abandon rate (abandoned ÷ live)",
            f"≤ {cap:.1%}".replace("%", " %"),
            lambda p: f"{p.abandon_rate:.2%}".replace("%", " %"),
            lambda p: p.abandon_rate > cap,
        ),
        ("information messages played", "", count("messages_played"), never),
        (
            "slowest answer → agent",
            "≤ 2 s",
            lambda p: secs(p.max_answer_to_agent_s),
            lambda p: p.max_answer_to_agent_s is not None and p.max_answer_to_agent_s > 2.0,
        ),
        (
            "cancelled before 15 s ringing",
            "must be 0",
            count("cancelled_before_15s"),
            nonzero("cancelled_before_15s"),
        ),
        (
            "dialled outside calling hours",
            "must be 0",
            count("outside_window"),
            nonzero("outside_window"),
        ),
        ("do-not-call numbers dialled", "must be 0", count("dnc_hits"), nonzero("dnc_hits")),
        ("opted out", "", count("opt_outs"), never),
    ]


async def compliance_csv(where: StoreConfig, q: Query) -> str:
    report, _, _ = await _compliance_report(where, q)
    return cli._report_csv(report)


@dataclass(frozen=True, slots=True)
class Attempts:
    rows: list[AttemptRecord]
    total: int
    start: str
    end: str
    outcomes: list[str]


async def _attempt_rows(where: StoreConfig, q: Query) -> tuple[list[AttemptRecord], float, float]:
    start, end = q.span(86400.0)
    try:
        rows = await cli._attempts(cli._require_store(where), q.campaign, start, end)
    except (StoreError, sqlite3.Error) as e:
        raise ReportError(f"store error: {e}") from None
    return rows, start, end


def _filtered(rows: list[AttemptRecord], q: Query) -> list[AttemptRecord]:
    """The page's filters: an outcome ("open" = not settled yet) and an agent."""
    if q.outcome:
        want = None if q.outcome == "open" else q.outcome
        rows = [a for a in rows if a.outcome == want]
    if q.agent:
        rows = [a for a in rows if a.agent_id == q.agent]
    return rows


async def attempts(where: StoreConfig, q: Query) -> Attempts:
    rows, start, end = await _attempt_rows(where, q)
    outcomes: list[str] = sorted({a.outcome or "open" for a in rows})
    chosen = _filtered(rows, q)
    return Attempts(
        chosen[-ATTEMPT_ROWS:][::-1],
        len(chosen),
        cli._iso(start, "seconds"),
        cli._iso(end, "seconds"),
        outcomes,
    )


async def attempts_csv(where: StoreConfig, q: Query) -> str:
    rows, _, _ = await _attempt_rows(where, q)
    return cli._attempts_csv(_filtered(rows, q))


@dataclass(frozen=True, slots=True)
class Audit:
    rows: list[dict[str, Any]]
    start: str
    end: str


async def _audit_events(where: StoreConfig, q: Query) -> tuple[list[AuditRecord], float, float]:
    start, end = q.span(30 * 86400.0)
    try:
        events = await cli._audit(cli._require_store(where), q.campaign, start, end)
    except (StoreError, sqlite3.Error) as e:
        raise ReportError(f"store error: {e}") from None
    return events, start, end


async def audit(where: StoreConfig, q: Query) -> Audit:
    events, start, end = await _audit_events(where, q)
    rows = []
    for e, row in zip(events, cli._audit_rows(events), strict=True):
        changes = [
            f"{k}: {cli._value(o)} → {cli._value(n)}" for k, o, n in cli._changes(e.old, e.new)
        ]
        row["changes"] = changes
        row["refused"] = e.action.endswith(".refused")
        rows.append(row)
    return Audit(rows[::-1], cli._iso(start, "seconds"), cli._iso(end, "seconds"))


async def audit_csv(where: StoreConfig, q: Query) -> str:
    events, _, _ = await _audit_events(where, q)
    return cli._audit_csv(events)
