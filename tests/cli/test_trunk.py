"""`dialguard trunk test-call` run in-process through the real CLI app, against SIPp."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog

from dialguard.cli import app
from tests.sip.sipp import SippRun, free_udp_port

pytestmark = pytest.mark.sipp

NUMBER = "+441632960123"
CALLER = "+441632960000"


@pytest.fixture(autouse=True)
def _keep_logging_config() -> Iterator[None]:
    """The CLI configures structlog for the process; give other tests theirs back."""
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """An engine config with defaults only (so the repo's own config is not used)."""
    path = tmp_path / "dialguard.toml"
    path.write_text("")
    return path


@pytest.fixture
def sipp(tmp_path: Path) -> Iterator[Callable[..., SippRun]]:
    if shutil.which("sipp") is None:
        pytest.skip("SIPp (Debian sip-tester) is not on PATH")
    runs: list[SippRun] = []

    def start(scenario: str, **kwargs: Any) -> SippRun:
        run = SippRun(scenario, tmp_path / "sipp", **kwargs).start()
        runs.append(run)
        return run

    yield start
    for run in runs:
        run.kill()


def place(config: Path, *args: str) -> int:
    result = app(
        ["trunk", "test-call", NUMBER, "--caller-id", CALLER, "--config", str(config), *args],
        result_action="return_value",
    )
    assert isinstance(result, int)
    return result


def test_answered_call_prints_each_event_with_its_time(
    config: Path, sipp: Callable[..., SippRun], capsys: pytest.CaptureFixture[str]
) -> None:
    run = sipp("ring_answer")
    code = place(config, "--trunk", f"127.0.0.1:{run.port}", "--hold", "0.2", "--silent")
    out = capsys.readouterr().out
    assert code == 0, out
    lines = out.strip().splitlines()
    assert [line.split()[2] for line in lines[:-1]] == ["trying", "ringing", "answered", "ended"]
    times = [float(line.split()[0]) for line in lines[:-1]]
    assert times == sorted(times) and 0.9 <= times[2] - times[1] <= 2.0  # SIPp rings 1 s
    assert "180 Ringing" in lines[1] and "200 OK" in lines[2] and "(by local)" in lines[3]
    assert lines[-1] == "outcome: answered"
    assert run.wait(10) == 0, run.explain()


def test_json_transfer_result(
    config: Path, sipp: Callable[..., SippRun], capsys: pytest.CaptureFixture[str]
) -> None:
    run = sipp("refer_accept")
    agent = "sip:agent1@127.0.0.1:5090"
    code = place(
        config, "--trunk", f"127.0.0.1:{run.port}", "--transfer-to", agent, "--hold", "0",
        "--json",
    )  # fmt: skip
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert [e["event"] for e in report["events"]] == ["answered", "transferred", "ended"]
    assert report["events"][1]["code"] == 200
    assert all(set(e) >= {"event", "t_s"} for e in report["events"])
    assert report["outcome"] == "transferred"
    assert run.wait(10) == 0, run.explain()
    assert run.received("REFER")[0].header("Refer-To") == f"<{agent}>"


def test_busy_is_a_failure_with_its_code(
    config: Path, sipp: Callable[..., SippRun], capsys: pytest.CaptureFixture[str]
) -> None:
    run = sipp("fail_486_after_100")
    code = place(config, "--trunk", f"127.0.0.1:{run.port}", "--json", "--silent")
    report = json.loads(capsys.readouterr().out)
    assert code == 1
    assert report["outcome"] == "failed"
    assert report["events"][-1] == {
        "event": "failed", "t_s": report["events"][-1]["t_s"], "code": 486, "reason": "Busy Here",
    }  # fmt: skip
    assert run.wait(10) == 0, run.explain()  # and the 486 was ACKed


def test_dtmf_received_is_reported(
    config: Path, sipp: Callable[..., SippRun], capsys: pytest.CaptureFixture[str]
) -> None:
    run = sipp("dtmf", keys={"dtmf_pcap": "/usr/share/sip-tester/dtmf_2833_1.pcap"})
    code = place(config, "--trunk", f"127.0.0.1:{run.port}", "--hold", "1.5", "--json", "--silent")
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    dtmf = [e for e in report["events"] if e["event"] == "dtmf"]
    assert [e["digit"] for e in dtmf] == ["1"]
    assert run.wait(10) == 0, run.explain()


def test_silent_trunk_exits_3_with_a_clear_error(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_udp_port()  # nobody listens there
    started = time.monotonic()
    code = place(config, "--trunk", f"127.0.0.1:{port}", "--no-response-timeout", "1.5", "--silent")
    captured = capsys.readouterr()
    assert code == 3
    assert time.monotonic() - started < 5
    assert "outcome: no_response" in captured.out
    assert f"no SIP response from 127.0.0.1:{port}" in captured.err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--trunk", "127.0.0.1"], "--trunk must be HOST:PORT"),
        (["--trunk", "127.0.0.1:99999"], "--trunk must be HOST:PORT"),
        (["--trunk", "127.0.0.1:5060", "--play", "/nonexistent/hello.wav"], "hello.wav"),
        (["--trunk", "127.0.0.1:5060", "--hold", "-1"], "--hold"),
        (
            ["--trunk", "127.0.0.1:5060", "--ring-timeout", "10", "--silent"],
            "--ring-timeout 10: must be ≥ 15 s (minimum ring time)",
        ),
        (["--trunk", "127.0.0.1:5060"], "is a silent call to whoever answers"),
    ],
)
def test_bad_input_exits_2_naming_the_problem(
    config: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert place(config, *args) == 2
    assert message in capsys.readouterr().err


def test_bad_number_exits_2(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = app(
        ["trunk", "test-call", "not-a-number", "--caller-id", CALLER, "--config", str(config),
         "--trunk", f"127.0.0.1:{free_udp_port()}"],
        result_action="return_value",
    )  # fmt: skip
    assert result == 2
    assert "number to call" in capsys.readouterr().err
