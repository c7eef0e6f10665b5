"""`dialguard demo` runs to completion and its summary (from the simulator's records)
shows the promise kept; bad options are refused before anything starts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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
