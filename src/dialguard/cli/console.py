"""`dialguard console`: the supervisor web console, and `console add-user`.

The console is its own process (not part of the daemon): it reads the same engine
config as every other command and meets the daemon only on the broker and in the store,
so it can run on a supervisor's machine, be restarted on its own, and never slow the
dialling. Users live in a JSON file (default: ``console-users.json`` beside the store)
created by ``add-user``; there is no default user or password.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import sys
from pathlib import Path
from typing import Annotated, Literal

from cyclopts import App, Parameter

from dialguard.cli._common import (
    EXIT_BAD_INPUT,
    EXIT_OK,
    EXIT_PROBLEM,
    console,
    err_console,
    load_config_or_exit,
)
from dialguard.config import EngineConfig
from dialguard.logs import configure_logging

app = App(name="console", help="The supervisor web console (and its users).")

Config = Annotated[
    Path | None,
    Parameter(help="Engine config (TOML); default config/dialguard.toml if it exists."),
]
Users = Annotated[
    Path | None,
    Parameter(help="User file (JSON); default console-users.json beside the store."),
]
USERS_FILE = "console-users.json"


def users_path(cfg: EngineConfig, given: Path | None) -> Path:
    return given if given is not None else cfg.store.path.parent / USERS_FILE


@app.default
def serve(
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    config: Config = None,
    users: Users = None,
) -> int:
    """Serve the web console until Ctrl-C.

    Parameters
    ----------
    host
        Address to listen on. The default, 127.0.0.1, is this machine only; to serve a
        network, put it behind a TLS proxy (docs/console.md).
    port
        TCP port (0: any free one; the address is printed).
    """
    from dialguard.console.app import ConsoleState
    from dialguard.console.auth import UserError, UserFile
    from dialguard.console.server import ConsoleServer

    if not 0 <= port <= 65535:
        err_console.print(f"[red]error:[/] --port {port}: must be 0 to 65535")
        return EXIT_BAD_INPUT
    cfg = load_config_or_exit(config)
    configure_logging(cfg.logging.level, cfg.logging.format)
    user_file = UserFile(users_path(cfg, users))
    try:
        known = user_file.load()
    except UserError as e:
        err_console.print(f"[red]error:[/] {e}", highlight=False)
        return EXIT_BAD_INPUT
    if not known:
        err_console.print(
            f"[yellow]warning:[/] no users in {user_file.path}: nobody can log in until "
            "`dialguard console add-user NAME --role supervisor` creates one",
            highlight=False,
        )

    async def main() -> None:
        server = ConsoleServer(ConsoleState(cfg, user_file), host, port)
        url = await server.start()
        console.print(
            f"console at {url} (users in {user_file.path}); Ctrl-C to stop",
            highlight=False,
            soft_wrap=True,
        )
        sys.stdout.flush()
        try:
            await server.wait()
        finally:
            await server.stop()

    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(main())
    except RuntimeError as e:
        err_console.print(f"[red]error:[/] {e}", highlight=False)
        return EXIT_PROBLEM
    return EXIT_OK


@app.command(name="add-user")
def add_user(
    name: str,
    *,
    role: Literal["supervisor", "viewer"],
    password_stdin: Annotated[bool, Parameter(negative="")] = False,
    config: Config = None,
    users: Users = None,
) -> int:
    """Create a console user, or set a new password and role for an existing one.

    The password is asked for twice at the terminal (not echoed), or read as one line
    from standard input with --password-stdin; it is stored as an argon2 hash only.

    Parameters
    ----------
    name
        User name, also the actor in the audit table.
    role
        supervisor (may change campaigns) or viewer (may only look).
    password_stdin
        Read the password from standard input (for scripts).
    """
    from dialguard.console.auth import UserError, UserFile

    cfg = load_config_or_exit(config)
    path = users_path(cfg, users)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        try:
            password = getpass.getpass(f"password for {name}: ")
            if getpass.getpass("again: ") != password:
                err_console.print("[red]error:[/] the passwords differ; nothing changed")
                return EXIT_BAD_INPUT
        except (EOFError, KeyboardInterrupt):
            err_console.print("[red]error:[/] no password given; nothing changed")
            return EXIT_BAD_INPUT
    try:
        user = UserFile(path).add(name, role, password)
    except (UserError, OSError) as e:
        err_console.print(f"[red]error:[/] {e}", highlight=False)
        return EXIT_BAD_INPUT
    console.print(
        f"user {user.name} ({user.role}) saved in {path}", highlight=False, soft_wrap=True
    )
    return EXIT_OK
