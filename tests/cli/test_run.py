"""`dialguard run`: refuses bad config before starting; serves metrics and health;
SIGHUP reloads campaign files (a bad file is rejected, the running config kept);
SIGTERM stops cleanly."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from pydantic import SecretStr

from dialguard.demo.centre import CentreOptions, LocalCentre
from dialguard.store import Store
from tests.support.daemon import CAMPAIGN_TOML, retry, start_daemon, until, write_config
from tests.support.mosquitto import free_port


def test_bad_config_is_refused_before_anything_starts(tmp_path: Path) -> None:
    (tmp_path / "campaigns").mkdir()
    (tmp_path / "campaigns" / "x.toml").write_text(
        'id = "x"\nname = "X"\ncaller_id = "+442079460000"\n[pacing]\nring_timeout_s = 10\n'
    )
    config = tmp_path / "dialguard.toml"
    config.write_text('[store]\npath = "s.sqlite3"\n[engine]\ncampaigns_dir = "campaigns"\n')
    out = subprocess.run(
        [sys.executable, "-m", "dialguard", "run", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert "campaigns/x.toml: pacing.ring_timeout_s = 10: must be ≥ 15 s" in out.stderr
    assert not (tmp_path / "s.sqlite3").exists()  # nothing was started


async def _get(port: int, path: str) -> tuple[int, str]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    data = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    head, _, body = data.decode().partition("\r\n\r\n")
    return int(head.split(" ")[1]), body


@pytest.mark.broker
@pytest.mark.slow
async def test_daemon_metrics_health_sighup_and_sigterm(broker_url: str, tmp_path: Path) -> None:
    u = urlsplit(broker_url)
    centre = LocalCentre(
        CentreOptions(
            broker_host=u.hostname or "127.0.0.1",
            broker_port=u.port or 1883,
            workdir=tmp_path,
            agents=2,
            numbers=["+15550000500"],
            start_engine=False,
        )
    )
    port = free_port()
    log = tmp_path / "daemon.log"
    proc: subprocess.Popen[bytes] | None = None
    try:
        await centre.start()
        config = write_config(centre, tmp_path, metrics_port=port)
        proc = start_daemon(config, log)
        await retry(lambda: _get(port, "/healthz"), 30)
        status, body = await _get(port, "/healthz")
        for _ in range(100):  # resync with the broker takes a moment
            if status == 200:
                break
            await asyncio.sleep(0.2)
            status, body = await _get(port, "/healthz")
        assert status == 200 and json.loads(body)["broker"] == "connected"
        status, body = await _get(port, "/metrics")
        assert status == 200 and "dialguard_broker_connected" in body

        # a second daemon on the same store refuses to start, naming the first
        second = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "dialguard", "run", "--config", str(config)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode != 0
        assert "another dialguard engine is running on this store" in second.stderr
        assert f"pid {proc.pid}" in second.stderr, second.stderr
        assert (await _get(port, "/healthz"))[0] == 200  # the first runs on, unharmed

        campaign = tmp_path / "campaigns" / "demo.toml"
        # a bad file is rejected and the running configuration kept
        campaign.write_text(CAMPAIGN_TOML.replace("ring_timeout_s = 20", "ring_timeout_s = 5"))
        proc.send_signal(signal.SIGHUP)
        await until(lambda: "reload rejected" in log.read_text(), 20, "the rejection")
        assert "pacing.ring_timeout_s = 5: must be ≥ 15 s" in log.read_text()
        # a good change is applied live and audited
        campaign.write_text(CAMPAIGN_TOML.replace("ring_timeout_s = 20", "ring_timeout_s = 25"))
        proc.send_signal(signal.SIGHUP)
        await until(lambda: "pacing reloaded" in log.read_text(), 20, "the reload")
        proc.send_signal(signal.SIGTERM)
        # waited for in a thread: the simulator runs on this loop and must keep
        # answering the daemon's CANCELs and BYEs while it stops
        assert await asyncio.to_thread(proc.wait, 40) == 0, log.read_text()[-3000:]
        proc = None
    finally:
        if proc is not None:
            proc.kill()
            proc.wait(10)
        await centre.stop()
    text = log.read_text()
    assert "effective configuration" in text and "engine stopped" in text
    async with await Store.open(centre.store_path) as store:
        audit = await store.audit.events("demo")
    changes = [a for a in audit if a.action == "pacing.changed" and a.actor == "sighup"]
    assert changes and changes[-1].new == {"ring_timeout_s": 25}
    assert changes[-1].old == {"ring_timeout_s": 20}


async def test_a_crashed_engine_makes_the_daemon_exit_non_zero(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """systemd restarts a daemon that exits non-zero; a crash must not look like a stop."""
    from dialguard.cli import run as run_cmd
    from dialguard.config import EngineConfig, Roster
    from dialguard.engine.engine import Engine

    async def crash(self: Engine) -> None:
        self.crashed = "campaign-demo: RuntimeError('injected')"
        raise RuntimeError("injected")

    monkeypatch.setattr(Engine, "run", crash)
    code = await run_cmd._serve(EngineConfig(), [], Roster())
    assert code == run_cmd.EXIT_PROBLEM != 0


def test_the_effective_configuration_is_logged_in_readable_parts() -> None:
    """issue 12 item 6: it was one 2,000-character log line. Now a line per section,
    each short, with secrets masked."""
    from dialguard.cli.run import effective_configuration
    from dialguard.config import load_campaigns, load_engine_config

    repo = Path(__file__).resolve().parents[2]
    cfg = load_engine_config(repo / "config" / "dialguard.toml")
    cfg = cfg.model_copy(
        update={"broker": cfg.broker.model_copy(update={"password": SecretStr("hunter2")})}
    )
    parts = effective_configuration(cfg, load_campaigns(cfg.engine.campaigns_dir))
    names = [what for what, _ in parts]
    assert {
        "broker",
        "trunk",
        "store",
        "engine",
        "campaign spring",
        "campaign spring pacing",
    } <= set(names)
    for what, fields in parts:
        assert len(json.dumps(fields)) <= 600, what
    assert "hunter2" not in json.dumps(parts)
    assert dict(parts)["broker"]["password"] == "**********"


@pytest.mark.broker
@pytest.mark.slow
async def test_a_debug_run_logs_no_secret_and_no_dialled_number(
    broker_url: str, tmp_path: Path
) -> None:
    """Issue 11: every configured secret and every number the trunk was asked to dial
    is searched for in the whole debug-level log of a run: 0 hits."""
    secrets = {
        "DIALGUARD_BROKER__USERNAME": "engine",
        "DIALGUARD_BROKER__PASSWORD": "broker-secret-Wq7c1Hn3",
        "DIALGUARD_TRUNK__USERNAME": "trunk-user",
        "DIALGUARD_TRUNK__PASSWORD": "trunk-secret-Lp4x9Rd2",
    }
    u = urlsplit(broker_url)
    numbers = [f"+155500005{n:02d}" for n in range(6)]  # ring until cancelled
    centre = LocalCentre(
        CentreOptions(
            broker_host=u.hostname or "127.0.0.1",
            broker_port=u.port or 1883,
            workdir=tmp_path,
            agents=2,
            numbers=numbers,
            start_engine=False,
        )
    )
    log = tmp_path / "daemon.log"
    proc: subprocess.Popen[bytes] | None = None
    try:
        await centre.start()
        assert centre.sim is not None
        sim = centre.sim
        env = {**secrets, "DIALGUARD_LOGGING__LEVEL": "debug"}
        proc = start_daemon(write_config(centre, tmp_path), log, env)
        await retry(lambda: centre.control("start"), 30)
        await until(lambda: len(sim.records) + len(sim.active_calls) >= 2, 30, "two dials")
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(proc.wait, 40) == 0, log.read_text()[-3000:]
        proc = None
    finally:
        if proc is not None:
            proc.kill()
            proc.wait(10)
        await centre.stop()
    text = log.read_text()
    assert '"level": "debug"' in text or "debug" in text  # it ran at debug level
    dialled = {r.number for r in centre.result().records}
    assert len(dialled) >= 2
    leaks = [s for s in secrets.values() if "secret" in s and s in text]
    leaks += [n for n in dialled if n in text or n.lstrip("+") in text]
    assert leaks == [], leaks
