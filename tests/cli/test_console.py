"""`dialguard console add-user`: users made from the command line, never a default one;
bad input names what is wrong and changes nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from dialguard.console.auth import UserFile, password_matches


def _run(tmp_path: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    config = tmp_path / "dialguard.toml"
    if not config.exists():
        config.write_text(f'[store]\npath = "{tmp_path / "store.sqlite3"}"\n')
    return subprocess.run(
        [sys.executable, "-m", "dialguard", "console", *args, "--config", str(config)],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_add_user_from_stdin_beside_the_store(tmp_path: Path) -> None:
    out = _run(tmp_path, "add-user", "sue", "--role", "supervisor", "--password-stdin",
               stdin="sue's long password\n")  # fmt: skip
    assert out.returncode == 0, out.stderr
    path = tmp_path / "console-users.json"
    assert f"user sue (supervisor) saved in {path}" in out.stdout
    sue = UserFile(path).load()["sue"]
    assert password_matches(sue, "sue's long password")
    assert "sue's long password" not in path.read_text()


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["add-user", "sue", "--role", "viewer", "--password-stdin"], "short\n", "at least 10"),
        (["add-user", "s u e", "--role", "viewer", "--password-stdin"], "long enough pw\n",
         "user name"),
        (["add-user", "sue", "--role", "viewer"], "", "no password given"),  # no terminal
    ],
)  # fmt: skip
def test_bad_user_exits_2_and_writes_nothing(
    tmp_path: Path, args: list[str], stdin: str, message: str
) -> None:
    out = _run(tmp_path, *args, stdin=stdin)
    assert out.returncode == 2 and message in out.stderr, out.stderr
    assert not (tmp_path / "console-users.json").exists()


def test_unknown_role_is_refused(tmp_path: Path) -> None:
    out = _run(tmp_path, "add-user", "sue", "--role", "admin", "--password-stdin",
               stdin="long enough pw\n")  # fmt: skip
    assert out.returncode != 0 and "admin" in out.stderr + out.stdout


def test_broken_user_file_stops_the_console_with_its_name(tmp_path: Path) -> None:
    users = tmp_path / "users.json"
    users.write_text(json.dumps({"users": [{"name": "sue"}]}))
    out = _run(tmp_path, "--users", str(users), "--port", "0")
    assert out.returncode == 2 and "users.json" in out.stderr
