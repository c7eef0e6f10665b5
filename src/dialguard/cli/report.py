"""`dialguard report compliance|attempts`: what the regulator and the supervisor read.

Both read the store only (the daemon need not run) and print a table for people, or CSV
or JSON for scripts and spreadsheets. ``compliance`` exits 1 when any period breaks a
rule — abandon rate over the cap, a call cancelled before 15 s of ringing, a call
outside calling hours, a do-not-call number dialled — so a cron job can alert on it.
``attempts`` is the audit trail: one row per call attempt with every timestamp, the
outcome, SIP code, agent and abandon reason. Reports show phone numbers in full (they
are for the supervisor); nothing here logs them.

The campaign's rules (calling window, cap, DNC lists honoured) come from the
configuration stored with the campaign, as the daemon last ran it.

Times on the command line are ISO 8601 (``2026-11-22``, ``2026-11-22T09:00``,
``2026-11-22T09:00+01:00``); without an offset they are this machine's local time.
Times printed are ISO 8601 with the offset, in this machine's time zone.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
import sqlite3
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Annotated, Any, Literal

from cyclopts import App, Parameter
from rich.markup import escape
from rich.table import Table

from dialguard.cli import report_contacts as next_report
from dialguard.cli._common import (
    EXIT_BAD_INPUT,
    EXIT_OK,
    EXIT_PROBLEM,
    BadInput,
    compact,
    console,
    err_console,
    load_config_or_exit,
)
from dialguard.config import CampaignConfig, ConfigError, StoreConfig, parse_campaign
from dialguard.law import ABANDON_WINDOW_S, AbandonWindow
from dialguard.logs import configure_logging
from dialguard.reports.compliance import (
    ComplianceReport,
    PeriodFigures,
    compliance_report,
)
from dialguard.spreadsheet import SafeCsvWriter, SafeDictWriter
from dialguard.store import AttemptRecord, AuditRecord, Store, StoreError

app = App(name="report", help="Compliance, attempt and change reports (read from the store).")

Format = Literal["table", "csv", "json"]
Config = Annotated[
    Path | None,
    Parameter(help="Engine config (TOML) naming the store; default config/dialguard.toml."),
]
From = Annotated[
    str | None,
    Parameter(name="--from", help="Start of the report, ISO 8601 (local time without offset)."),
]
To = Annotated[
    str | None,
    Parameter(name="--to", help="End of the report (exclusive), ISO 8601; default now."),
]

TABLE_ROWS = 500
"""Attempts shown in a terminal table; CSV and JSON always have them all."""

WIDE_TERMINAL = 110
"""From this width the attempts table adds who ended the call and the disposition."""

WIDE_PERIODS = 4
"""Up to this many periods, the compliance table has a column per period."""


# --- compliance -----------------------------------------------------------------------


@app.command
def compliance(
    *,
    campaign: str,
    window: AbandonWindow = "24h",
    from_: From = None,
    to: To = None,
    format: Format = "table",
    config: Config = None,
) -> int:
    """Compliance figures per period of the regulator's window; exit 1 on any breach.

    For each 24 h (Ofcom) or 30 day (TCPA) period: attempts, live answers, connects,
    abandoned calls by reason, abandon rate against the campaign's cap, and the figures
    that must be 0 — calls cancelled before 15 s of ringing, calls outside calling
    hours, do-not-call numbers dialled — plus opt-outs. The abandon rate is also checked
    over every rolling span of the window's length inside the range, and the worst span
    is named (a breach when over the cap). Without --from/--to it covers the last
    window up to now.

    Parameters
    ----------
    campaign
        Campaign ID, as in `dialguard campaign list`.
    window
        Period length: 24h (Ofcom) or 30d (TCPA).
    format
        table for people; csv (one row per period) or json for scripts.
    """
    try:
        start, end = _span(from_, to, ABANDON_WINDOW_S[window], time.time())
        cfg = load_config_or_exit(config)
        configure_logging(cfg.logging.level, cfg.logging.format)
        report = asyncio.run(_compliance(_require_store(cfg.store), campaign, window, start, end))
    except BadInput as e:
        return _bad(str(e))
    except (StoreError, sqlite3.Error) as e:
        return _bad(f"store error: {e}")
    if format == "json":
        print(json.dumps(_report_json(report, start, end), indent=2, ensure_ascii=False))
    elif format == "csv":
        print(_report_csv(report), end="")
    else:
        _print_report(report, start, end)
    if report.breaches:
        if format != "table":  # the table lists them already
            for b in report.breaches:
                err_console.print(f"[red]breach:[/] {escape(b)}", highlight=False)
        return EXIT_PROBLEM
    return EXIT_OK


async def _compliance(
    where: StoreConfig, campaign: str, window: AbandonWindow, start: float, end: float
) -> ComplianceReport:
    async with await Store.open(where.location, password=where.secret) as store:
        config = await _campaign_config(store, campaign)
        return await compliance_report(store, config, window, start, end)


def _report_json(report: ComplianceReport, start: float, end: float) -> dict[str, Any]:
    data = report.to_dict()
    data["from"], data["to"] = _iso(start), _iso(end)
    for p in data["periods"]:
        p["start_iso"], p["end_iso"] = _iso(p["start"]), _iso(p["end"])
    return data


CSV_FIELDS = (
    "period_start",
    "period_end",
    "attempts",
    "live_answers",
    "machine_answers",
    "connects",
    "abandoned",
    "abandoned_by_reason",
    "abandon_rate",
    "abandon_cap",
    "cancelled_before_15s",
    "outside_window",
    "dnc_hits",
    "opt_outs",
    "messages_played",
    "max_answer_to_agent_s",
)


def _report_csv(report: ComplianceReport) -> str:
    out = io.StringIO()
    w = SafeCsvWriter(out, lineterminator="\n")
    w.writerow(CSV_FIELDS)
    for p in report.periods:
        w.writerow(
            [
                _iso(p.start),
                _iso(p.end),
                p.attempts,
                p.live_answers,
                p.machine_answers,
                p.connects,
                p.abandoned,
                ";".join(f"{k}={v}" for k, v in sorted(p.abandoned_by_reason.items())),
                f"{p.abandon_rate:.6f}",
                f"{report.cap:g}",
                p.cancelled_before_15s,
                p.outside_window,
                p.dnc_hits,
                p.opt_outs,
                p.messages_played,
                "" if p.max_answer_to_agent_s is None else f"{p.max_answer_to_agent_s:.3f}",
            ]
        )
    return out.getvalue()


@dataclass(frozen=True, slots=True)
class _Figure:
    """One line of the compliance table: its label, rule, and value in a period;
    ``short`` is its column heading when there is a row per period ("" = left out)."""

    label: str
    rule: str
    value: Callable[[PeriodFigures], str]
    short: str = ""


def _figures(report: ComplianceReport) -> list[_Figure]:
    reasons = sorted({r for p in report.periods for r in p.abandoned_by_reason})
    cap = report.cap

    def must_be_zero(v: int) -> str:
        return f"[red]{v}[/]" if v else "0"

    def rate(p: PeriodFigures) -> str:
        colour = "red" if p.abandon_rate > cap else "green"
        return f"[{colour}]{p.abandon_rate:.2%}[/]"

    return [
        _Figure("attempts", "", lambda p: str(p.attempts), "calls"),
        _Figure("live answers", "", lambda p: str(p.live_answers), "live"),
        _Figure("answered by a machine", "not live", lambda p: str(p.machine_answers)),
        _Figure("connected to an agent", "", lambda p: str(p.connects), "conn."),
        _Figure("abandoned", "", lambda p: str(p.abandoned), "aband."),
        *(_Figure(f"  abandoned: {r}", "", _reason_count(r)) for r in reasons),
        _Figure("abandon rate (abandoned ÷ live)", f"≤ {cap:.1%}", rate, "rate"),
        _Figure("information messages played", "", lambda p: str(p.messages_played)),
        _Figure("slowest answer → agent", "≤ 2 s", lambda p: _secs(p.max_answer_to_agent_s)),
        _Figure(
            "cancelled before 15 s ringing",
            "must be 0",
            lambda p: must_be_zero(p.cancelled_before_15s),
            "<15s",
        ),
        _Figure(
            "dialled outside calling hours",
            "must be 0",
            lambda p: must_be_zero(p.outside_window),
            "outside",
        ),
        _Figure(
            "do-not-call numbers dialled", "must be 0", lambda p: must_be_zero(p.dnc_hits), "DNC"
        ),
        _Figure("opted out", "", lambda p: str(p.opt_outs), "opt-out"),
    ]


_BRIEF_CAPTION = (
    "calls = attempts, live = live answers, conn. = connected to an agent, "
    "rate = abandoned ÷ live (cap in the title), <15s = cancelled before 15 s of ringing, "
    "outside = outside calling hours, DNC = do-not-call numbers dialled: the last three "
    "must be 0. --format csv has every figure."
)


def _reason_count(reason: str) -> Callable[[PeriodFigures], str]:
    return lambda p: str(p.abandoned_by_reason.get(reason, 0))


def _print_report(report: ComplianceReport, start: float, end: float) -> None:
    # Two lines, each narrower than the table: as one, rich wrapped it to the table's
    # width wherever it fell ("…, cap" / "3.0%").
    title = (
        f"Compliance: campaign {escape(report.campaign_id)}, {report.window} window,"
        f" cap {report.cap:.1%}\n{_iso(start, 'seconds')} → {_iso(end, 'seconds')}"
    )
    figures = _figures(report)
    if len(report.periods) <= WIDE_PERIODS:
        table = compact(Table(title=title))
        table.add_column("figure")
        table.add_column("rule")
        for p in report.periods:
            table.add_column(_short(p.start), justify="right", no_wrap=True)
        for f in figures:
            table.add_row(f.label, f.rule, *(f.value(p) for p in report.periods))
    else:
        table = compact(Table(title=title))
        table.add_column("period from", no_wrap=True)
        brief = [f for f in figures if f.short]
        for f in brief:
            table.add_column(f.short, justify="right", no_wrap=True)
        for p in report.periods:
            table.add_row(_short(p.start), *(f.value(p) for f in brief))
        table.caption = _BRIEF_CAPTION
        table.caption_justify = "left"
    console.print(table)
    breaches = report.breaches
    if breaches:
        console.print(f"[bold red]{len(breaches)} breach(es):[/]")
        for b in breaches:
            console.print(f"  [red]•[/] {escape(b)}", highlight=False)
    else:
        console.print("[green]no breaches[/]")


# --- attempts -------------------------------------------------------------------------


ATTEMPT_FIELDS = tuple(
    f.name for f in fields(AttemptRecord) if f.name not in {"campaign_id", "trunk_fault"}
)
"""The attempt row's columns, in the store record's order (the campaign is the report's
own argument; the trunk-fault flag is internal to retry accounting)."""
_TIMES = {f for f in ATTEMPT_FIELDS if f.endswith("_at")}


@app.command
def attempts(
    *,
    campaign: str,
    from_: From = None,
    to: To = None,
    format: Format = "table",
    config: Config = None,
) -> int:
    """The audit trail: every call attempt with its timestamps, outcome and agent.

    One row per attempt, oldest first: when the attempt was written, the INVITE sent,
    ringing, answered, connected to an agent and ended; the outcome and SIP code; the
    agent; whether it was abandoned and why; the disposition and opt-out. Numbers are
    shown in full. Without --from/--to it covers the last 24 hours.

    Parameters
    ----------
    campaign
        Campaign ID, as in `dialguard campaign list`.
    format
        table for people (the latest 500 rows); csv or json have every row and field.
    """
    try:
        start, end = _span(from_, to, 86400.0, time.time())
        cfg = load_config_or_exit(config)
        configure_logging(cfg.logging.level, cfg.logging.format)
        rows = asyncio.run(_attempts(_require_store(cfg.store), campaign, start, end))
    except BadInput as e:
        return _bad(str(e))
    except (StoreError, sqlite3.Error) as e:
        return _bad(f"store error: {e}")
    if format == "json":
        data = [_attempt_dict(a) for a in rows]
        print(json.dumps(data, indent=2, ensure_ascii=False))
    elif format == "csv":
        print(_attempts_csv(rows), end="")
    else:
        _print_attempts(campaign, rows, start, end)
    return EXIT_OK


async def _attempts(
    where: StoreConfig, campaign: str, start: float, end: float
) -> list[AttemptRecord]:
    async with await Store.open(where.location, password=where.secret) as store:
        await _campaign_config(store, campaign)  # an unknown id is an error, not "0 rows"
        return await store.attempts.of_campaign(campaign, start, end)


def _attempts_csv(rows: list[AttemptRecord]) -> str:
    """Every attempt, every field, as CSV (also the web console's download)."""
    out = io.StringIO()
    w = SafeDictWriter(out, ATTEMPT_FIELDS, lineterminator="\n")
    w.writeheader()
    for a in rows:
        w.writerow({k: "" if v is None else v for k, v in _attempt_dict(a).items()})
    return out.getvalue()


def _attempt_dict(a: AttemptRecord) -> dict[str, Any]:
    values = asdict(a)
    values = {k: values[k] for k in ATTEMPT_FIELDS}
    for k in _TIMES:
        if values[k] is not None:
            values[k] = _iso(values[k])
    return values


def _print_attempts(campaign: str, rows: list[AttemptRecord], start: float, end: float) -> None:
    title = (
        f"Attempts: campaign {escape(campaign)}, "
        f"{_iso(start, 'seconds')} → {_iso(end, 'seconds')}: {len(rows)}"
    )
    short = "%m-%d %H:%M:%S" if len({_day(a.created_at) for a in rows}) > 1 else "%H:%M:%S"
    wide = console.width >= WIDE_TERMINAL
    table = compact(Table(title=title))
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("INVITE at", no_wrap=True)  # the zone is in the title
    table.add_column("number", no_wrap=True)
    table.add_column("agent")
    table.add_column("outcome", min_width=9)
    table.add_column("SIP", justify="right", no_wrap=True)
    table.add_column("rang", justify="right", no_wrap=True)
    table.add_column("→agent", justify="right", no_wrap=True)
    if wide:
        table.add_column("ended by")
        table.add_column("disposition")
    shown = rows[-TABLE_ROWS:]
    for a in shown:
        at = a.dialled_at
        rang_until = a.answered_at if a.answered_at is not None else a.ended_at
        outcome = escape(a.outcome or "(open)")
        if a.abandoned:
            outcome = f"[red]{outcome}: {escape(a.abandon_reason or '?')}[/]"
        if a.opted_out:
            outcome += " (opted out)"
        cells = [
            str(a.id),
            dt.datetime.fromtimestamp(at).astimezone().strftime(short),
            escape(a.number),
            escape(a.agent_id or ""),
            outcome,
            "" if a.sip_code is None else str(a.sip_code),
            _gap(a.ringing_at, rang_until),
            _gap(a.answered_at, a.connected_at),
        ]
        if wide:
            cells += [escape(a.ended_by or ""), escape(a.disposition or "")]
        table.add_row(*cells)
    console.print(table)
    if len(rows) > len(shown):
        console.print(
            f"[dim]{len(rows) - len(shown)} earlier attempts not shown; "
            "--format csv or json has them all[/]"
        )


# --- audit: who changed what -----------------------------------------------------------


@app.command
def contacts(
    *,
    campaign: str,
    limit: int = 20,
    format: Literal["table", "json"] = "table",
    config: Config = None,
) -> int:
    """Who is called next, and why: the next due contacts in the campaign's order.

    For each: its local hour, the answer model's probability then (and the campaign,
    segment and contact levels behind it, with the tries each rests on), the propensity,
    the expected value, how long it has waited, and its best hours of the next 24 h.
    docs/contacts.md explains the score. Numbers are shown in full.

    Parameters
    ----------
    campaign
        Campaign ID, as in `dialguard campaign list`.
    limit
        How many contacts (1–1000).
    """
    if not 1 <= limit <= 1000:
        return _bad(f"--limit {limit}: must be between 1 and 1000")
    try:
        cfg = load_config_or_exit(config)
        configure_logging(cfg.logging.level, cfg.logging.format)
        now = time.time()
        order, rows = asyncio.run(_next_contacts(_require_store(cfg.store), campaign, now, limit))
    except BadInput as e:
        return _bad(str(e))
    except (StoreError, sqlite3.Error) as e:
        return _bad(f"store error: {e}")
    if format == "json":
        print(next_report.render_json(rows, order, now))
    else:
        console.print(next_report.render_table(rows, campaign, order))
        if not rows:
            console.print("no contact is due now")
    return EXIT_OK


async def _next_contacts(
    where: StoreConfig, campaign: str, now: float, limit: int
) -> tuple[str, list[next_report.NextContact]]:
    async with await Store.open(where.location, password=where.secret) as store:
        cfg = await _campaign_config(store, campaign)
        return cfg.order, await next_report.next_contacts(store, campaign, cfg.order, now, limit)


@app.command
def audit(
    *,
    campaign: str,
    from_: From = None,
    to: To = None,
    format: Format = "table",
    config: Config = None,
) -> int:
    """Who changed what, when: state changes, pacing changes (accepted and refused, with
    the engine's reason) and config updates, from the store's audit table.

    Without --from/--to it covers the last 30 days.

    Parameters
    ----------
    campaign
        Campaign ID, as in `dialguard campaign list`.
    format
        table for people (each change as field: old → new); csv or json with old and new
        as JSON.
    """
    try:
        start, end = _span(from_, to, 30 * 86400.0, time.time())
        cfg = load_config_or_exit(config)
        configure_logging(cfg.logging.level, cfg.logging.format)
        events = asyncio.run(_audit(_require_store(cfg.store), campaign, start, end))
    except BadInput as e:
        return _bad(str(e))
    except (StoreError, sqlite3.Error) as e:
        return _bad(f"store error: {e}")
    if format == "json":
        print(json.dumps(_audit_rows(events), indent=2, ensure_ascii=False))
    elif format == "csv":
        print(_audit_csv(events), end="")
    else:
        _print_audit(campaign, events, start, end)
    return EXIT_OK


AUDIT_FIELDS = ("ts", "actor", "action", "campaign_id", "old", "new", "detail")


def _audit_rows(events: list[AuditRecord]) -> list[dict[str, Any]]:
    return [
        {
            "ts": _iso(e.ts),
            "actor": e.actor,
            "action": e.action,
            "campaign_id": e.campaign_id,
            "old": e.old,
            "new": e.new,
            "detail": e.detail,
        }
        for e in events
    ]


def _audit_csv(events: list[AuditRecord]) -> str:
    """The audit trail as CSV (also the web console's download), old and new as JSON."""
    out = io.StringIO()
    w = SafeDictWriter(out, AUDIT_FIELDS, lineterminator="\n")
    w.writeheader()
    for r in _audit_rows(events):
        w.writerow(
            {
                **r,
                "old": "" if r["old"] is None else json.dumps(r["old"], sort_keys=True),
                "new": "" if r["new"] is None else json.dumps(r["new"], sort_keys=True),
                "detail": r["detail"] or "",
            }
        )
    return out.getvalue()


async def _audit(where: StoreConfig, campaign: str, start: float, end: float) -> list[AuditRecord]:
    async with await Store.open(where.location, password=where.secret) as store:
        await _campaign_config(store, campaign)
        return [e for e in await store.audit.events(campaign, start) if e.ts < end]


def _print_audit(campaign: str, events: list[AuditRecord], start: float, end: float) -> None:
    title = (
        f"Changes: campaign {escape(campaign)}, "
        f"{_iso(start, 'seconds')} → {_iso(end, 'seconds')}: {len(events)}"
    )
    table = compact(Table(title=title))
    table.add_column("at", no_wrap=True)
    table.add_column("by")
    table.add_column("action", no_wrap=True)
    table.add_column("change")
    for e in events:
        when = dt.datetime.fromtimestamp(e.ts).astimezone().strftime("%Y-%m-%d %H:%M:%S")
        lines = [f"{k}: {_value(o)} → {_value(n)}" for k, o, n in _changes(e.old, e.new)]
        if e.old is None and isinstance(e.new, dict) and "config" in e.new:
            lines = [f"created, state {e.new.get('state')} (config in --format json)"]
        if e.action.startswith("settings.") and e.detail:
            lines = [e.detail]  # which source won at a (re)load, in a sentence
        if e.action.endswith(".refused"):
            asked = ", ".join(f"{k} = {_value(v)}" for k, v in _flat(e.new).items())
            lines = [f"asked {asked}", f"[red]refused: {escape(e.detail or '')}[/]"]
        change = "\n".join(lines if e.action.endswith(".refused") else map(escape, lines))
        table.add_row(when, escape(e.actor), escape(e.action), change or "—")
    console.print(table)


def _changes(old: Any, new: Any) -> list[tuple[str, Any, Any]]:
    """Dotted keys whose value differs between two JSON documents (None = absent)."""
    a, b = _flat(old), _flat(new)
    return [(k, a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]


def _flat(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flat(v, f"{prefix}{k}."))
        return out
    return {} if not prefix else {prefix[:-1]: value}


def _value(v: Any) -> str:
    return "—" if v is None else json.dumps(v, ensure_ascii=False)


# --- shared ---------------------------------------------------------------------------


def _require_store(where: StoreConfig) -> StoreConfig:
    """A report must not create an empty store file where the daemon's should be (a
    PostgreSQL store is the database the operator named: it is opened as it is)."""
    if where.url is None and not where.path.exists():
        raise BadInput(f"no store at {where.path} (import a contact list or run the daemon first)")
    return where


async def _campaign_config(store: Store, campaign: str) -> CampaignConfig:
    record = await store.campaigns.get(campaign)
    if record is None:
        known = ", ".join(c.id for c in await store.campaigns.all()) or "none"
        raise BadInput(f"campaign {campaign!r} is not in the store {store.path} (known: {known})")
    try:
        return parse_campaign(record.config, f"store campaign {campaign}")
    except ConfigError as e:
        raise BadInput("; ".join(e.problems)) from None


def _span(from_: str | None, to: str | None, length_s: float, now: float) -> tuple[float, float]:
    """[start, end) from the options: the last ``length_s`` up to --to (or now) unless
    --from says otherwise."""
    end = _when(to, "--to") if to is not None else now
    start = _when(from_, "--from") if from_ is not None else end - length_s
    if start >= end:
        raise BadInput(f"--from {_iso(start)} is not before --to {_iso(end)}")
    return start, end


def _when(text: str, option: str) -> float:
    try:
        when = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise BadInput(
            f"{option} {text!r}: not an ISO 8601 time (e.g. 2026-11-22, 2026-11-22T09:00 "
            "or 2026-11-22T09:00+01:00)"
        ) from None
    if when.tzinfo is None:
        when = when.astimezone()  # the machine's local time
    return when.timestamp()


def _iso(ts: float, timespec: str = "milliseconds") -> str:
    return dt.datetime.fromtimestamp(ts).astimezone().isoformat(timespec=timespec)


def _short(ts: float) -> str:
    """A period's start in a table header: the full ISO times are in the title."""
    return dt.datetime.fromtimestamp(ts).astimezone().strftime("%d %b %H:%M")


def _day(ts: float) -> dt.date:
    return dt.datetime.fromtimestamp(ts).astimezone().date()


def _secs(v: float | None) -> str:
    return "—" if v is None else f"{v:.2f} s"


def _gap(a: float | None, b: float | None) -> str:
    return "" if a is None or b is None else f"{b - a:.1f} s"


def _bad(message: str) -> int:
    err_console.print(f"[red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return EXIT_BAD_INPUT
