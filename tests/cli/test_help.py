"""`dialguard --help` names what each command group holds (issue 12 item 6: `report`'s
line said "Compliance and attempt reports." when `report audit` existed; a group's
line that lists its commands must list them all, or the one left out is not found)."""

from __future__ import annotations

import re

import pytest

from dialguard.cli import app


def groups() -> list[tuple[str, str, list[str]]]:
    out = []
    for name in app:
        if name.startswith("-") or name in ("help", "version"):
            continue
        sub = app[name]
        commands = [c for c in sub if not c.startswith("-") and c not in ("help", "version")]
        if commands:
            out.append((name, str(sub.help), commands))
    return out


def named(help_text: str, command: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(command)}(?![\w-])", help_text) is not None


def test_there_are_groups_to_check() -> None:
    assert {"report", "campaign", "import"} <= {g for g, _, _ in groups()}


@pytest.mark.parametrize(("group", "help_text", "commands"), groups(), ids=lambda v: str(v)[:20])
def test_a_group_that_lists_its_commands_lists_all_of_them(
    group: str, help_text: str, commands: list[str]
) -> None:
    mentioned = [c for c in commands if named(help_text, c)]
    if len(mentioned) >= 2:
        assert mentioned == commands, f"dialguard {group}: {help_text!r} leaves out " + ", ".join(
            c for c in commands if c not in mentioned
        )
