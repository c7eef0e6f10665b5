"""The exit-code table in docs/supervisor.md against the commands (issue 12 item 6: it
said a campaign not in the store exits 2 everywhere, while `campaign start nope` is the
engine's refusal, 1). Each case that needs no daemon is run; its code must be one the
table gives that command."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.mosquitto import free_port

DOC = Path(__file__).resolve().parents[2] / "docs" / "supervisor.md"


def documented() -> dict[str, set[int]]:
    """command cell → the codes whose cell is not "—"."""
    text = DOC.read_text()
    head = text.index("| command | 0 | 1 | 2 | 3 |")
    rows: dict[str, set[int]] = {}
    for line in text[head:].splitlines()[2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        rows[cells[0]] = {code for code, cell in enumerate(cells[1:]) if cell != "—"}
    return rows


def run(tmp_path: Path, *args: str) -> int:
    config = tmp_path / "dialguard.toml"
    if not config.exists():
        port = free_port()  # nobody listens here
        config.write_text(
            f'[broker]\nurl = "mqtt://127.0.0.1:{port}"\n[store]\npath = "s.sqlite3"\n'
            '[engine]\ncampaigns_dir = "campaigns"\n'
        )
        (tmp_path / "campaigns").mkdir()
    r = subprocess.run(
        [sys.executable, "-m", "dialguard", *args, "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return r.returncode


LIVE = "`campaign start\\|pause\\|resume\\|stop`, `set-pacing`"
CASES = [
    ("`campaign list`", ("campaign", "list"), 2),  # no store yet
    (LIVE, ("campaign", "start", "x", "--timeout", "1"), 3),
    ("`status --once`, `status --json`", ("status", "--once"), 3),
    ("`import contacts\\|dnc`", ("import", "contacts", "missing.csv", "--campaign", "x"), 2),
    ("`config check`", ("config", "check"), 0),
]  # fmt: skip


@pytest.mark.parametrize(("row", "args", "code"), CASES, ids=[c[0] for c in CASES])
def test_the_table_gives_the_code_the_command_exits_with(
    tmp_path: Path, row: str, args: tuple[str, ...], code: int
) -> None:
    table = documented()
    assert row in table, sorted(table)
    assert code in table[row]
    assert run(tmp_path, *args) == code


def test_a_report_on_a_campaign_not_in_the_store_is_bad_input(tmp_path: Path) -> None:
    assert run(tmp_path, "import", "contacts", "missing.csv", "--campaign", "x") == 2
    for report in ("compliance", "attempts", "audit"):
        assert (
            run(tmp_path, "report", report, "--campaign", "nope")
            in documented()[
                "`report compliance`" if report == "compliance" else "`report attempts\\|audit`"
            ]
        )
