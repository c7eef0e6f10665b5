"""The ``dialguard`` command line.

Each command group lives in its own module and is imported only when used, so
``dialguard --help`` stays fast and a broken optional dependency (say, matplotlib for
plots) cannot stop the daemon from starting.
"""

from __future__ import annotations

import os
import sys

from cyclopts import App

from dialguard import __version__

app = App(
    name="dialguard",
    help="An outbound dialler whose default pacing never leaves an answered call waiting.",
    version=__version__,
)

app.command(
    "dialguard.cli.demo:demo",
    name="demo",
    help="Run a whole contact centre on this machine for a few minutes (no set-up).",
)
app.command("dialguard.cli.run:run", name="run", help="Run the daemon.")
app.command("dialguard.cli.status:status", name="status", help="Live view of campaigns and agents.")
app.command(
    "dialguard.cli.campaign:app",
    name="campaign",
    help="Supervisor controls: list, start, pause, resume, stop, set-pacing.",
)
app.command(
    "dialguard.cli.report:app",
    name="report",
    help=(
        "Reports from the store: compliance, attempts, contacts (who is called next),"
        " audit (who changed what)."
    ),
)
app.command(
    "dialguard.cli.imports:app", name="import", help="Import contact lists and do-not-call lists."
)
app.command(
    "dialguard.cli.simulate:simulate",
    name="simulate",
    help="Simulate a contact-centre day in virtual time to compare pacing modes.",
)
app.command(
    "dialguard.cli.agents:app",
    name="agents",
    help="Simulated agent desktops on the daemon's broker (for trying a set-up).",
)
app.command("dialguard.cli.trunk:app", name="trunk", help="Check a SIP trunk (test calls).")
app.command(
    "dialguard.cli.sim_trunk:sim_trunk", name="sim-trunk", help="Run the SIP trunk simulator."
)
app.command(
    "dialguard.cli.console:app",
    name="console",
    help="The supervisor web console: floor, controls, reports (add-user creates users).",
)
app.command("dialguard.cli.config_cmd:app", name="config", help="Validate configuration files.")


EXIT_BROKEN_PIPE = 141
"""Exit status when the reader of our output went away (``… | head``): that of a process
ended by SIGPIPE, so shell pipelines see what they expect."""


def main() -> None:
    """Console-script entry point."""
    try:
        result = app(sys.argv[1:])
        sys.stdout.flush()
    except BrokenPipeError:
        # `dialguard report attempts --format json | head`: the reader has what it wanted.
        # Point stdout at /dev/null so the interpreter's final flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(EXIT_BROKEN_PIPE)
    if isinstance(result, int):
        sys.exit(result)
