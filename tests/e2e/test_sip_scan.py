"""SIPVicious (Debian `sipvicious`) scans the daemon's SIP port while it dials: the
fingerprinting sweep (svmap) and extension enumeration with REGISTER and INVITE
(svwar). The daemon must keep dialling, log no traceback, answer nothing it should not
(no extension "found", no call set up), and put no dialled number in its log in clear.
All on 127.0.0.1; each tool is bounded by its own timeout."""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from dialguard.demo.centre import LocalCentre
from tests.support.centre import centre_options
from tests.support.daemon import retry, start_daemon, until, write_config

pytestmark = [pytest.mark.broker, pytest.mark.slow]


def sip_port(log: Path) -> int | None:
    for line in log.read_text(errors="replace").splitlines():
        if '"trunk_started"' in line:
            local = json.loads(line).get("local", "")
            return int(local.rsplit(":", 1)[1])
    return None


def scan(*argv: str) -> str:
    done = subprocess.run(argv, capture_output=True, timeout=90, check=False)
    return (done.stdout + done.stderr).decode(errors="replace")


@pytest.mark.skipif(shutil.which("svwar") is None, reason="sipvicious is not installed")
async def test_a_sipvicious_scan_of_the_sip_port_changes_nothing(
    broker_url: str, tmp_path: Path
) -> None:
    numbers = [f"+155500000{n:02d}" for n in range(30)]  # live, answer after n/10 s
    centre = LocalCentre(
        centre_options(broker_url, tmp_path, agents=3, numbers=numbers, start_engine=False)
    )
    log = tmp_path / "daemon.log"
    proc = None
    try:
        await centre.start()
        sim = centre.sim
        assert sim is not None
        proc = start_daemon(write_config(centre, tmp_path), log)
        await retry(lambda: centre.control("start"), 30)
        await until(lambda: sip_port(log) is not None, 10, "the daemon's SIP port")
        port = sip_port(log)
        await until(lambda: len(sim.records) >= 2, 30, "dialling")
        out = await asyncio.to_thread(scan, "svmap", "-p", str(port), "-t", "0.02", "127.0.0.1")
        out += await asyncio.to_thread(
            scan, "svwar", "-p", str(port), "-e", "100-300", "-t", "0.02", "127.0.0.1"
        )
        out += await asyncio.to_thread(
            scan,
            "svwar",
            "-m",
            "INVITE",
            "-p",
            str(port),
            "-e",
            "100-160",
            "-t",
            "0.02",
            "127.0.0.1",
        )
        before = len(sim.records)
        await until(lambda: len(sim.records) > before, 30, "dialling after the scan")
        assert proc.poll() is None, "the daemon died under the scan"
        await centre.control("pause")
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(proc.wait, 40) == 0
        proc = None
    finally:
        if proc is not None:
            proc.kill()
            proc.wait(10)
        await centre.stop()
    text = log.read_text(errors="replace")
    assert "Traceback" not in text
    # svmap sees a SIP device; svwar finds no extension by REGISTER nor by INVITE
    assert "127.0.0.1:" in out and out.count("found nothing") >= 2, out[-3000:]
    assert "| Extension" not in out, out[-3000:]
    dialled = {r.number for r in centre.result().records}
    assert dialled and not [n for n in dialled if n in text], "a dialled number in clear"
