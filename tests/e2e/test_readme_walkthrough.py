"""The README's "From the demo to your own trunk" runs as written (issue 12 item 4).

The commands are read from the README itself, not copied here, and run one by one with
bash in a fresh directory holding what a clone has (``config/``, ``examples/``), so
relative paths and the default ``config/dialguard.toml`` work as they would for a
reader. Only what must differ on a shared test machine is changed, through the
environment overrides every command honours: the broker (this session's), a topic
prefix and client id of its own, free ports for the trunk and the metrics.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from dialguard.demo.broker import free_loopback_port

REPO = Path(__file__).resolve().parents[2]
SECTION = "## From the demo to your own trunk"
KEYS = (
    "config check",
    "import contacts",
    "campaign start",
    "import dnc",
    "status",
    "report compliance",
)


def walkthrough() -> list[str]:
    text = (REPO / "README.md").read_text()
    block = text[text.index(SECTION) :]
    block = block[block.index("```sh\n") + 6 :]
    block = block[: block.index("```")]
    lines = []
    for raw in block.splitlines():
        line = re.sub(r"\s+#.*$", "", raw).strip()  # the comments explain, not run
        if line:
            lines.append(line)
    return lines


def shown_outputs() -> dict[str, list[str]]:
    """What the README says each command prints, from its first output block (the one
    after the commands), keyed by the command without ``dialguard``; a command shown
    twice (``status --once``) keeps its first showing."""
    text = (REPO / "README.md").read_text()
    block = text[text.index(SECTION) :]
    block = block[block.index("```sh\n") + 6 :]
    block = block[block.index("```\n", block.index("```") + 3) + 4 :]
    block = block[: block.index("```")]
    shown: dict[str, list[str]] = {}
    for part in re.split(r"^\$ dialguard ", block, flags=re.M)[1:]:
        command, *lines = part.rstrip("\n").split("\n")
        shown.setdefault(command.strip(), [line.rstrip() for line in lines])
    return shown


def printed(result: subprocess.CompletedProcess[str], back: dict[str, str]) -> list[str]:
    """What a reader sees of a command: its output then its warnings, without the log
    lines (JSON when not on a terminal), with what this run changed (ports, the
    engine's client id) put back as the README has it."""
    lines = []
    for line in (result.stdout + result.stderr).splitlines():
        if line.startswith("{"):
            continue
        for ours, readme in back.items():
            line = line.replace(ours, readme)
        lines.append(line.rstrip())
    while lines and not lines[-1]:
        lines.pop()
    return lines


def loosely(lines: list[str]) -> list[str]:
    """Lines with the times an agent has been in its state ("7 s") and the column
    padding that follows from them made alike."""
    return [re.sub(r"\s+", " ", re.sub(r"\b\d+ s\b", "N s", line)).strip() for line in lines]


def test_the_walkthrough_is_the_one_shown() -> None:
    lines = walkthrough()
    assert lines[0] == ".venv/bin/dialguard config check"
    assert any("agents simulate" in line and line.endswith("&") for line in lines)
    assert lines[-1].startswith("kill ")


@pytest.mark.broker
def test_the_readme_walkthrough_runs_as_written(broker_url: str, tmp_path: Path) -> None:
    for part in ("config", "examples"):
        shutil.copytree(REPO / part, tmp_path / part)
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "dialguard").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m dialguard "$@"\n')
    (bin_dir / "dialguard").chmod(0o755)
    sip = free_loopback_port()
    prefix = f"dgreadme-{secrets.token_hex(4)}"
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO / "src"),
        "COLUMNS": "80",
        "DIALGUARD_BROKER__URL": broker_url,
        "DIALGUARD_BROKER__TOPIC_PREFIX": prefix,
        "DIALGUARD_BROKER__CLIENT_ID": prefix,
        "DIALGUARD_TRUNK__PORT": str(sip),
        "DIALGUARD_TRUNK__AGENT_URI_TEMPLATE": f"sip:{{agent}}@127.0.0.1:{sip}",
        "DIALGUARD_METRICS__PORT": str(free_loopback_port()),
    }
    background: list[subprocess.Popen[bytes]] = []
    outputs: dict[str, subprocess.CompletedProcess[str]] = {}

    def sh(line: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "-c", line], cwd=tmp_path, env=env, capture_output=True, text=True,
            timeout=90,
        )  # fmt: skip

    def status() -> dict[str, object]:
        r = sh(".venv/bin/dialguard status --once --json")
        return json.loads(r.stdout) if r.stdout.strip() else {}

    def until(what: str, check: object, within: float = 30) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if callable(check) and check():
                return
            time.sleep(0.5)
        raise AssertionError(f"{what} within {within} s; logs in {tmp_path}")

    def live_with_agents() -> bool:
        s = status()
        return s.get("health") == "live" and len(s["status"]["agents"]) == 4  # type: ignore[index]

    def dialled() -> bool:
        s = status()
        campaigns = s["status"]["campaigns"] if s.get("status") else []  # type: ignore[index]
        return any(c["dials"] > 0 for c in campaigns)  # type: ignore[index,union-attr]

    try:
        for n, line in enumerate(walkthrough()):
            line = line.replace("127.0.0.1:5070", f"127.0.0.1:{sip}")
            if line.startswith("kill "):
                for proc in reversed(background):  # agents, then the daemon, then the trunk
                    proc.send_signal(signal.SIGTERM)
                    assert proc.wait(60) == 0, f"{proc.args} exited {proc.returncode}"
                background.clear()
                continue
            if line.endswith("&"):
                log = (tmp_path / f"bg-{n}.log").open("w")
                background.append(
                    subprocess.Popen(
                        ["bash", "-c", f"exec {line[:-1].strip()}"],
                        cwd=tmp_path,
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                )
                continue
            if background and "import contacts" in line:
                until("the daemon live with 4 agents", live_with_agents)
            if "status" in line and "import dnc" in outputs:
                until("a first dial after the TPS import", dialled)
            result = sh(line)
            key = next(k for k in KEYS if k in line)
            if key == "status" and "import dnc" not in outputs:
                key = "status before the TPS list"
            outputs[key] = result
            assert result.returncode == 0, f"{line}\n{result.stdout}\n{result.stderr}"
    finally:
        for proc in background:
            proc.kill()
            proc.wait(10)

    # The README shows what these print, exactly (the first status up to its times).
    shown = shown_outputs()
    u = urlsplit(broker_url)
    back = {
        f"127.0.0.1:{sip}": "127.0.0.1:5070",
        f"{u.hostname}:{u.port}": "127.0.0.1:1883",
        f"engine {prefix} up": "engine dialguard-engine up",
    }
    for key, command in (
        ("config check", "config check"),
        ("import contacts", "import contacts examples/contacts.csv --campaign spring"),
        ("campaign start", "campaign start spring --actor alice"),
        ("import dnc", 'import dnc examples/tps.csv --source tps --list-date "$(date +%F)"'),
    ):
        assert printed(outputs[key], back) == shown[command], key
    before = printed(outputs["status before the TPS list"], back)
    assert loosely(before) == loosely(shown["status --once"])
    assert "config ok" in outputs["config check"].stdout
    assert "the TPS list was never imported" in outputs["config check"].stderr
    assert "contacts imported  13" in outputs["import contacts"].stdout
    start = outputs["campaign start"]
    assert "state: paused → active" in start.stdout
    assert "warning: it will dial nothing yet: the TPS list was never imported" in start.stderr
    assert "tps numbers imported  1" in outputs["import dnc"].stdout
    assert (
        "spring blocked: the TPS list was never imported"
        in outputs["status before the TPS list"].stdout
    )
    assert "spring: " in outputs["status"].stdout
    assert "TPS list was never imported" not in outputs["status"].stdout
    assert "no breaches" in outputs["report compliance"].stdout
