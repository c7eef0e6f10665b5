"""`dialguard demo` runs to completion and its summary (from the simulator's records)
shows the promise kept; bad options are refused before anything starts."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from typing import Any
from urllib.parse import urlsplit

import pytest

REQUIRED = {
    "attempts",
    "live_answers",
    "connected",
    "abandoned",
    "abandon_rate",
    "cancelled_before_15s",
    "outside_window",
    "dnc_dialled",
    "max_answer_to_agent_s",
}


def _demo(*args: str, timeout: float = 200) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dialguard", "demo", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "120"},
    )


@pytest.mark.broker
@pytest.mark.slow
def test_demo_json_summary_shows_no_abandoned_calls(broker_url: str) -> None:
    u = urlsplit(broker_url)
    out = _demo(
        "--minutes",
        "0.5",
        "--agents",
        "4",
        "--speedup",
        "20",
        "--json",
        "--broker",
        f"{u.hostname}:{u.port}",
    )
    assert out.returncode == 0, out.stderr[-3000:]
    # the web console ran beside it, with a password made for this run
    assert re.search(
        r"web console: http://127\.0\.0\.1:\d+/ +user demo, password \S{12,} ", out.stderr
    )
    summary = json.loads(out.stdout)
    assert set(summary) >= REQUIRED
    assert summary["attempts"] >= 4
    assert summary["abandoned"] == 0
    assert summary["connected"] == summary["live_answers"] + summary["voicemail_answers"]
    assert summary["cancelled_before_15s"] == 0
    assert summary["outside_window"] == 0
    assert summary["dnc_dialled"] == 0
    if summary["live_answers"]:
        assert summary["max_answer_to_agent_s"] <= 2.0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--minutes", "0"], "--minutes must be > 0"),
        (["--speedup", "-1"], "--speedup must be > 0"),
        (["--broker", "nowhere"], "expected HOST:PORT"),
        (["--agents", "0"], "between 1 and 200"),
        (["--mode", "turbo"], "turbo"),
    ],
)
def test_bad_options_are_refused(args: list[str], message: str) -> None:
    out = _demo(*args, timeout=30)
    assert out.returncode != 0
    assert message in out.stdout + out.stderr


def _tick_and_summary() -> tuple[Any, Any]:
    from pathlib import Path

    from dialguard.demo.centre import CentreResult, Tick
    from dialguard.mqtt.contract import AgentStatus, CampaignStatus, EngineStatus

    status = EngineStatus(
        engine_id="e",
        ts=1_800_000_000,
        broker_connected=True,
        agents_synced=True,
        campaigns=[
            CampaignStatus(id="demo", state="running", mode="predictive", dials=30,
                           dials_last_min=12, contacts_left=40)
        ],
        agents_by_state={"ready": 2},
        agents=[
            AgentStatus(agent="a1", state="ready", group="default", stale=False, reserved=True),
            AgentStatus(agent="a2", state="ready", group="default", stale=False),
        ],
    )  # fmt: skip
    sim = {"attempts": 30, "live_answers": 9, "connected": 9, "abandoned": 0, "cancelled": 15}
    summary = {
        "attempts": 30, "live_answers": 9, "connected": 9, "abandoned": 1,
        "abandon_rate": 0.01, "abandon_cap": 0.03, "max_answer_to_agent_s": 0.3,
        "cancelled_before_15s": 0, "outside_window": 0, "dnc_dialled": 0, "opted_out": 0,
    }  # fmt: skip
    return Tick(60, status, sim), CentreResult(summary, [], Path("."), Path("s"))


def test_live_view_says_reserved_rate_left_and_what_cancelled_means() -> None:
    """issue 12 item 5: "cancelled 15" (ring timeouts) sat beside "cancelled before
    15 s — must be 0"; reserved agents were counted ready; no rate, no contacts left."""
    from rich.console import Console

    from dialguard.cli.demo import _live_table, _summary_table

    tick, result = _tick_and_summary()
    c = Console(width=200, record=True)
    c.print(_live_table(tick, 0.03))
    text = c.export_text()
    assert "ready 1, reserved 1" in text
    assert "12 in the last minute, 40 contacts left" in text
    assert "unanswered at the ring timeout 15" in text and "cancelled 15" not in text
    c = Console(width=200, record=True)
    c.print(_summary_table(result, "predictive"))
    predictive = c.export_text()
    assert "counted against the cap" in predictive and "guaranteed" not in predictive
    c = Console(width=200, record=True)
    c.print(_summary_table(result, "progressive"))
    assert "0 in guaranteed mode" in c.export_text()


def test_scripts_demo_installs_the_demo_extras_not_the_test_tools(tmp_path: Any) -> None:
    """issue 12 item 6: `./scripts/demo` installed pytest, mypy, ruff… (the [test] extra)."""
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    venv_bin = tmp_path / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    calls = tmp_path / "pip-calls"
    fake = venv_bin / "python"  # a stand-in that records what it is asked to install
    fake.write_text(f'#!/bin/sh\necho "$@" >> {calls}\n')
    fake.chmod(0o755)
    (tmp_path / "pyproject.toml").write_text("")
    for script, extra in (("demo", "demo"), ("test", "test")):
        text = (repo / "scripts" / script).read_text()
        assert f"ensure_venv {extra}\n" in text, script
        subprocess.run(
            ["bash", "-c", f"source {repo}/scripts/_setup.sh && ensure_venv {extra}"],
            cwd=tmp_path,
            check=True,
            capture_output=True,
        )
    installs = [line for line in calls.read_text().splitlines() if " -e " in line]
    assert installs == ["-m pip install -q -e .[demo]", "-m pip install -q -e .[test]"]
