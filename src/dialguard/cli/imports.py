"""`dialguard import contacts|dnc`: load a contact list or a do-not-call list from CSV.

A thin shell over :mod:`dialguard.importing`: it finds the store and default region in
the engine config, makes sure the campaign exists (taking it from the campaigns
directory if the store does not have it yet), shows progress on a terminal, and prints
what was stored and every reject with its line and reason.

Exit codes: 0 all rows stored; 1 the import ran but rejected some rows; 2 bad input
(unknown campaign, missing file, bad option, unusable header: refused before any row is
stored) or a store / I/O failure (batches stored before it stay; re-running is safe).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import getpass
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated

import structlog
from cyclopts import App, Parameter
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table
from rich.text import Text

from dialguard.cli._common import (
    EXIT_BAD_INPUT,
    EXIT_OK,
    EXIT_PROBLEM,
    BadInput,
    console,
    err_console,
    load_config_or_exit,
)
from dialguard.config import ConfigError, EngineConfig, load_campaigns
from dialguard.importing import ColumnError, ImportReport, import_contacts, import_dnc
from dialguard.importing import Progress as ProgressCallback
from dialguard.importing.encoding import EncodingError, check_encoding
from dialguard.importing.report import write_rejects
from dialguard.logs import configure_logging
from dialguard.phone import InvalidNumber, check_region
from dialguard.store import Store, StoreError, check_list_date

app = App(name="import", help="Import contact lists and do-not-call lists.")

REJECTS_SHOWN = 20
"""Rejects listed on the terminal; ``--rejects FILE`` has them all."""


def _actor() -> str:
    """Who ran the import, for the audit trail."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no login name in some containers
        return "cli"


def _setup(config: Path | None, region: str | None) -> tuple[EngineConfig, str]:
    cfg = load_config_or_exit(config)
    configure_logging(cfg.logging.level, cfg.logging.format)
    try:
        default_region = check_region(region or cfg.engine.default_region)
    except InvalidNumber as e:
        raise BadInput(f"--region: {e.reason}") from None
    return cfg, default_region


def _check_paths(file: Path, rejects: Path | None) -> None:
    """Refuse before touching the store: a missing input, or a rejects file we cannot write."""
    if not file.exists():
        raise BadInput(f"{file}: file not found")
    if not file.is_file():
        raise BadInput(f"{file}: not a file")
    if rejects is not None and not rejects.parent.is_dir():
        raise BadInput(f"--rejects {rejects}: directory {rejects.parent} does not exist")


def _run(work: Callable[[], int]) -> int:
    """Run a command; turn input and store problems into one clear line and exit 2."""
    try:
        return work()
    except BadInput as e:
        _error("error", str(e))
    except ColumnError as e:
        _error("error", f"{e}; nothing was imported")
    except EncodingError as e:
        _error("error", f"{e}; nothing was imported")
    except (StoreError, sqlite3.Error) as e:
        _error("store error", str(e))
    except OSError as e:
        _error("error", f"{e.filename or ''}: {e.strerror}")
    return EXIT_BAD_INPUT


def _check_encoding(name: str | None) -> None:
    if name is not None:
        try:
            check_encoding(name)
        except EncodingError as e:
            raise BadInput(str(e)) from None


def _error(kind: str, message: str) -> None:
    # Messages quote file contents (headers, paths): escape them so "[x]" is not markup.
    err_console.print(f"[red]{kind}:[/] {escape(message)}", highlight=False, soft_wrap=True)


def _progress_bar() -> tuple[Progress | None, ProgressCallback | None]:
    """A byte-based progress bar when stdout is a terminal; nothing otherwise."""
    if not console.is_terminal:
        return None, None
    bar = Progress(
        TextColumn("importing"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )
    task = bar.add_task("import", total=None)

    def update(done: int, total: int | None) -> None:
        bar.update(task, completed=done, total=total)

    return bar, update


class _AboveTheBar:
    """A log stream that prints through the progress bar's console: a log line written
    straight to the terminal ran into the bar (issue 12 item 6); printed through the
    bar's console, it goes above it, whole. structlog prints a line and its newline in
    two writes, so text is held until the newline."""

    def __init__(self, bar: Progress) -> None:
        self._console = bar.console
        self._held = ""

    def write(self, text: str) -> int:
        self._held += text
        while "\n" in self._held:
            line, self._held = self._held.split("\n", 1)
            self._console.print(Text.from_ansi(line), highlight=False, soft_wrap=True)
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return True


@contextlib.contextmanager
def _showing(bar: Progress | None, level: str) -> Iterator[None]:
    """Show ``bar`` with the logs routed above it, then give logging back its stream
    (no bar: nothing to show, logging left as it is)."""
    if bar is None:
        yield
        return
    saved = structlog.get_config()
    configure_logging(level, "console", stream=_AboveTheBar(bar))
    try:
        with bar:
            yield
    finally:
        structlog.configure(**saved)


def _print_report(report: ImportReport, rejects_file: Path | None, what: str) -> int:
    summary = Table(show_header=False, box=None, pad_edge=False)
    summary.add_column(justify="left")
    summary.add_column(justify="right")
    summary.add_row("rows read", f"{report.read:,}")
    summary.add_row(f"{what} imported", f"{report.imported:,}")
    summary.add_row("already present", f"{report.duplicates_in_store:,}")
    summary.add_row("rejected", f"{report.rejected:,}")
    console.print(summary)
    console.print(f"read as {report.encoding} ({report.encoding_how})", highlight=False)
    if not report.rejects:
        if rejects_file is not None:
            # Written even when empty, so a script never reads a stale file from a past run.
            write_rejects(rejects_file, [])
        return EXIT_OK
    table = Table(title="rejected rows", title_justify="left")
    table.add_column("line", justify="right")
    table.add_column("reason", min_width=28)
    table.add_column("row", overflow="ellipsis", max_width=40, no_wrap=True)
    for r in report.rejects[:REJECTS_SHOWN]:
        table.add_row(str(r.line), Text(r.reason), Text(r.raw))
    console.print(table, highlight=False)
    more = report.rejected - REJECTS_SHOWN
    if rejects_file is not None:
        n = write_rejects(rejects_file, report.rejects)
        tail = f"…and {more:,} more; " if more > 0 else ""
        console.print(
            f"{tail}all {n:,} rejects written to {rejects_file}", highlight=False, soft_wrap=True
        )
    elif more > 0:
        console.print(f"…and {more:,} more; see --rejects FILE.csv for all of them")
    return EXIT_PROBLEM


async def _ensure_campaign(store: Store, cfg: EngineConfig, campaign_id: str) -> None:
    """The campaign must be in the store, or defined in the campaigns dir (then stored)."""
    if await store.campaigns.get(campaign_id) is not None:
        return
    directory = cfg.engine.campaigns_dir
    try:
        campaigns = load_campaigns(directory)
    except ConfigError as e:
        for p in e.problems:
            _error("config error", p)
        raise BadInput(
            f"campaign {campaign_id!r} is not in the store and {directory} has errors"
        ) from None
    for camp in campaigns:
        if camp.id == campaign_id:
            await store.campaigns.upsert(camp.id, camp.name, camp.model_dump_json(), actor=_actor())
            console.print(
                f"campaign {camp.id} added to the store from {directory} (state: paused)",
                highlight=False,
                soft_wrap=True,
            )
            return
    known = sorted({c.id for c in await store.campaigns.all()} | {c.id for c in campaigns})
    raise BadInput(
        f"campaign {campaign_id!r} is not in the store nor defined in {directory}"
        f" (known: {', '.join(known) if known else 'none'})"
    )


@app.command
def contacts(
    file: Path,
    /,
    *,
    campaign: str,
    config: Path | None = None,
    region: str | None = None,
    rejects: Path | None = None,
    encoding: str | None = None,
) -> int:
    """Import a contacts CSV into a campaign; bad rows are listed, good ones stored.

    The header must name the number column (number, phone, phone_number, telephone,
    msisdn or mobile); name, priority, consent, preferred_channel, preferred_hours
    (18:00-20:00) and region are understood; other columns are kept as custom fields.
    Importing the same file again adds nothing. See docs/import.md.

    Parameters
    ----------
    file
        The CSV file (UTF-8, or see --encoding; a byte-order mark is fine).
    campaign
        Campaign id; must be in the store or defined in the campaigns directory.
    config
        Engine config file (default: config/dialguard.toml if present).
    region
        Region for numbers written without +country code (default: engine.default_region).
    rejects
        Write every rejected row (line, reason, raw) to this CSV file.
    encoding
        The file's text encoding, e.g. cp1252 (Windows spreadsheet exports), latin-1,
        utf-8. Default: detected, and shown in the summary.
    """

    async def job(cfg: EngineConfig, default_region: str) -> int:
        async with await Store.open(cfg.store.location, password=cfg.store.secret) as store:
            await _ensure_campaign(store, cfg, campaign)
            bar, update = _progress_bar()
            with _showing(bar, cfg.logging.level):
                report = await import_contacts(
                    store, file, campaign, default_region, update, actor=_actor(),
                    encoding=encoding,
                )  # fmt: skip
            listed = await store.dnc.listed_contacts(campaign)
        code = _print_report(report, rejects, "contacts")
        if listed:
            shown = ", ".join(f"{source} {n:,}" for source, n in listed.items())
            console.print(
                f"contacts of {campaign} on do-not-call lists: {shown}"
                " (kept; never dialled while listed)",
                highlight=False,
                soft_wrap=True,
            )
        return code

    def work() -> int:
        cfg, default_region = _setup(config, region)
        _check_paths(file, rejects)
        _check_encoding(encoding)
        return asyncio.run(job(cfg, default_region))

    return _run(work)


@app.command
def dnc(
    file: Path,
    /,
    *,
    source: Annotated[str, Parameter(help="internal, tps, ctps, usdnc, bloctel or dncr")],
    list_date: str | None = None,
    config: Path | None = None,
    region: str | None = None,
    rejects: Path | None = None,
    encoding: str | None = None,
) -> int:
    """Import a do-not-call list (one number a line, header optional) with its date.

    National lists (tps, ctps, usdnc, bloctel, dncr) need --list-date, the date the list
    was issued; the engine refuses to dial for a campaign whose list is older than the
    law allows (it must be less than 28 days old for TPS/CTPS, 31 for the US registry,
    30 for Bloctel and Australia's register, counted from 00:00 UTC of its date).
    Internal entries default to today.

    Parameters
    ----------
    file
        The CSV file: a number column, one number per line.
    source
        Which list: internal, tps, ctps, usdnc, bloctel or dncr.
    list_date
        Date of the list, YYYY-MM-DD (required except for internal).
    config
        Engine config file (default: config/dialguard.toml if present).
    region
        Region for internal-list numbers written without +country code (default:
        engine.default_region). National lists are read in their own country (tps,
        ctps: GB; usdnc: US; bloctel: FR; dncr: AU), and entries of another country are
        rejected.
    rejects
        Write every rejected row (line, reason, raw) to this CSV file.
    encoding
        The file's text encoding (default: detected, and shown in the summary).
    """

    def work() -> int:
        cfg, default_region = _setup(config, region)
        _check_encoding(encoding)
        kind = source.lower()  # TPS, tps: the same list
        lists = cfg.national_lists()  # built in, and declared in [[dnc_list]]
        known = ("internal", *lists)
        if kind not in known:
            raise BadInput(
                f"--source {source!r}: must be one of {', '.join(known)}"
                " (declare another national list in the engine config's [[dnc_list]])"
            )
        terms = lists.get(kind)
        own = terms.region if terms is not None else None
        if region is not None and own is not None and default_region != own:
            raise BadInput(
                f"--region {region}: the {kind} list holds {own} numbers; its entries are"
                f" always read as {own} numbers (leave --region out)"
            )
        date = list_date
        today = dt.datetime.now(dt.UTC).date()
        if date is None:
            if kind != "internal":
                raise BadInput(f"--list-date is required for a {kind} list (YYYY-MM-DD)")
            date = today.isoformat()
        try:
            check_list_date(date)
        except ValueError as e:
            raise BadInput(f"--list-date: {e}") from None
        day = dt.date.fromisoformat(date)
        if day > today:
            raise BadInput(f"--list-date {date} is in the future")
        _check_paths(file, rejects)
        code = asyncio.run(job(cfg, default_region, kind, date))
        limit = terms.max_age_days if terms is not None else None
        age = (today - day).days
        if limit is not None and age >= limit:
            err_console.print(
                f"[yellow]warning:[/] this {kind} list is {age} days old; campaigns that"
                f" screen against {kind} will not dial until a list less than {limit} days"
                " old is imported",
                highlight=False,
                soft_wrap=True,
            )
        return code

    async def job(cfg: EngineConfig, default_region: str, kind: str, date: str) -> int:
        async with await Store.open(cfg.store.location, password=cfg.store.secret) as store:
            bar, update = _progress_bar()
            with _showing(bar, cfg.logging.level):
                report = await import_dnc(
                    store, file, kind, date, default_region, update, actor=_actor(),
                    encoding=encoding, lists=cfg.national_lists(),
                )  # fmt: skip
        console.print(
            f"numbers without +country read as {report.region} ({report.region_how})",
            highlight=False,
            soft_wrap=True,
        )
        return _print_report(report, rejects, f"{kind} numbers")

    return _run(work)
