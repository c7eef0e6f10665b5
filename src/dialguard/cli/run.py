"""`dialguard run`: the daemon.

Validates all configuration before touching anything and refuses to start with one line
per problem; logs the effective configuration with secrets masked; stops gracefully on
SIGTERM/SIGINT (no new dials, calls in progress finish or are hung up after the grace
period, records flushed); on SIGHUP re-reads the campaign files and applies pacing
changes to running campaigns — a bad file is rejected and the running config kept.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from pathlib import Path

from dialguard.cli._common import (
    EXIT_BAD_INPUT,
    EXIT_OK,
    EXIT_PROBLEM,
    err_console,
    load_config_or_exit,
)
from dialguard.cli._startup import check_startup
from dialguard.config import CampaignConfig, ConfigError, EngineConfig, Roster, load_campaigns
from dialguard.logs import configure_logging, get_logger
from dialguard.store import StoreError
from dialguard.tasks import TaskSet

log = get_logger("dialguard.daemon")

STOP_BEYOND_GRACE_S = 30.0
"""After SIGTERM, the daemon gets shutdown_grace_s plus this (the 15 s ring floor for
calls still ringing, the trunk's last BYEs, the store) before it exits regardless."""
THREAD_JOIN_S = 5.0
"""After the loop ends, how long library threads (aiosqlite, the SIP stack) get to
finish before the process exits anyway: a stop must never hang in threading._shutdown."""


def run(config: Path | None = None, *, log_level: str | None = None) -> int:
    """Run the dialler daemon until SIGTERM or Ctrl-C.

    Parameters
    ----------
    config
        Engine config file (default: config/dialguard.toml if present, else built-in defaults).
    log_level
        Override the configured log level (debug, info, warning, error).
    """
    cfg = load_config_or_exit(config)
    try:
        campaigns = load_campaigns(cfg.engine.campaigns_dir)
    except ConfigError as e:
        for p in e.problems:
            err_console.print(f"[red]config error:[/] {p}", highlight=False)
        return EXIT_BAD_INPUT
    startup = check_startup(cfg, campaigns)
    if startup.problems:
        for p in startup.problems:
            err_console.print(f"[red]config error:[/] {p}", highlight=False)
        return EXIT_BAD_INPUT
    if log_level is not None and log_level not in ("debug", "info", "warning", "error"):
        err_console.print(f"--log-level {log_level!r}: use debug, info, warning or error")
        return EXIT_BAD_INPUT
    configure_logging(log_level or cfg.logging.level, cfg.logging.format)
    for what, fields in effective_configuration(cfg, campaigns):
        log.info("effective configuration", part=what, settings=fields)
    if not campaigns:
        log.warning("no campaign files found", campaigns_dir=str(cfg.engine.campaigns_dir))
    for w in startup.warnings:
        log.warning(w)
    loop_factory = None
    if cfg.engine.use_uvloop:
        try:
            import uvloop

            loop_factory = uvloop.new_event_loop
        except ImportError:
            log.info("uvloop not installed; using the standard event loop")
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        code = runner.run(_serve(cfg, campaigns, startup.roster))
    _exit_despite_threads(code)
    return code


def effective_configuration(
    cfg: EngineConfig, campaigns: list[CampaignConfig]
) -> list[tuple[str, dict[str, object]]]:
    """The configuration to log at start, one entry per engine section and per campaign
    section, so each log line is short enough to read (it was one 2,000-character line).
    Secrets are masked by the models (SecretStr dumps as ``**********``)."""
    parts: list[tuple[str, dict[str, object]]] = []
    for section, fields in cfg.model_dump(mode="json").items():
        parts.append((section, fields if isinstance(fields, dict) else {"value": fields}))
    for c in campaigns:
        data = c.model_dump(mode="json")
        top = {k: v for k, v in data.items() if not isinstance(v, dict)}
        parts.append((f"campaign {c.id}", top))
        for section, fields in data.items():
            if isinstance(fields, dict):
                parts.append((f"campaign {c.id} {section}", fields))
    return parts


def _exit_after(seconds: float) -> None:
    """Backstop for a stop that hangs (a library thread, a peer that never answers):
    a daemon thread ends the process ``seconds`` after SIGTERM whatever the loop does."""

    def kill() -> None:
        log.error("stop took too long; exiting now", limit_s=seconds)
        os._exit(EXIT_PROBLEM)

    timer = threading.Timer(seconds, kill)
    timer.daemon = True
    timer.start()


def _exit_despite_threads(code: int) -> None:
    """Give leftover non-daemon threads a moment, then exit whatever they do."""
    deadline = THREAD_JOIN_S
    for t in threading.enumerate():
        if t is threading.main_thread() or t.daemon:
            continue
        t.join(deadline)
        if t.is_alive():
            log.error("thread still running at exit; exiting anyway", thread=t.name, code=code)
            os._exit(code)


async def _serve(cfg: EngineConfig, campaigns: list[CampaignConfig], roster: Roster) -> int:
    from dialguard.engine.engine import Engine
    from dialguard.sip import SippyTrunk

    t = cfg.trunk
    trunk = SippyTrunk(
        t.host,
        t.port,
        local_host=t.local_host,
        local_port=t.local_port,
        username=t.username,
        password=t.password.get_secret_value() if t.password else None,
        register=t.registration,
        rtp_host=t.local_host,
        rtp_ports=t.rtp_port_range,
    )
    engine = Engine(cfg, campaigns, trunk, roster=roster)
    loop = asyncio.get_running_loop()
    limit = cfg.engine.shutdown_grace_s + STOP_BEYOND_GRACE_S

    def stop() -> None:
        engine.request_stop()
        _exit_after(limit)

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop)
    reloads = TaskSet("SIGHUP reload")

    def reload() -> None:
        reloads.spawn(engine.reload_campaigns(), name="reload")

    loop.add_signal_handler(signal.SIGHUP, reload)
    try:
        await engine.run()
    except StoreError as e:  # at start: another engine holds it, schema too new, …
        log.error("daemon cannot start", error=str(e))
        err_console.print(f"[red]cannot start:[/] {e}", highlight=False)
        return EXIT_PROBLEM
    except Exception:
        # A crashed part (logged where it crashed): exit non-zero so the supervisor
        # restarts the daemon and recovery closes what was left open.
        log.error("daemon exiting after a crash", crashed=engine.crashed)
        return EXIT_PROBLEM
    finally:
        await reloads.close()
    return EXIT_OK
