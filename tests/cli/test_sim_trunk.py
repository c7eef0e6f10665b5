"""`dialguard sim-trunk`: argument errors, and a real run driven over UDP then SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import pytest

from dialguard.cli.sim_trunk import sim_trunk

INVITE = (
    "INVITE sip:{number}@127.0.0.1:{port} SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 127.0.0.1:{me};branch=z9hG4bKcli{n}\r\n"
    "From: <sip:test@127.0.0.1>;tag=cli{n}\r\n"
    "To: <sip:{number}@127.0.0.1>\r\n"
    "Call-ID: cli-test-{n}\r\n"
    "CSeq: 1 INVITE\r\n"
    "Contact: <sip:test@127.0.0.1:{me}>\r\n"
    "Max-Forwards: 70\r\n"
    "Content-Length: 0\r\n\r\n"
)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"listen": "nonsense"}, "--listen: expected HOST:PORT"),
        ({"listen": "127.0.0.1:99999"}, "--listen"),
        ({"speedup": 0.0}, "--speedup: must be > 0"),
        ({"duration": -1.0}, "--duration"),
        ({"profile": "no-such-profile.toml"}, "neither a built-in"),
    ],
)
def test_bad_arguments_exit_2_with_the_reason(
    args: dict[str, Any], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert sim_trunk(**args) == 2
    assert message in capsys.readouterr().err


def test_bad_profile_file_names_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "p.toml"
    bad.write_text("[shares]\nlive = 0.9\nbusy = 0.5\n")
    assert sim_trunk(profile=str(bad)) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "shares" in err and "more than 1" in err


async def test_runs_serves_a_call_and_stops_on_sigterm(tmp_path: Path) -> None:
    records = tmp_path / "calls.jsonl"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "dialguard",
        "sim-trunk",
        "--listen",
        "127.0.0.1:0",
        "--profile",
        "S2",
        "--seed",
        "3",
        "--records",
        str(records),
        "--duration",
        "20",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "COLUMNS": "120"},
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 10)).decode()
        m = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
        assert m, line
        port = int(m.group(1))
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(3)
        me = sock.getsockname()[1]
        # +1555000 4 001: not found after 0.1 s
        invite = INVITE.format(number="+15550004001", port=port, me=me, n=1)
        sock.sendto(invite.encode(), ("127.0.0.1", port))
        statuses = []
        while not statuses or statuses[-1] < 200:
            data, _ = sock.recvfrom(4096)
            statuses.append(int(data.split()[1]))
        ack = invite.replace("INVITE sip", "ACK sip").replace("1 INVITE", "1 ACK")
        sock.sendto(ack.encode(), ("127.0.0.1", port))
        sock.close()
        assert statuses == [100, 404]
        await asyncio.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        out, _err = await asyncio.wait_for(proc.communicate(), 10)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0
    text = out.decode()
    assert re.search(r"attempts\s*│\s*1\b", text), text
    assert re.search(r"not_found\s*│\s*1\b", text), text
    [rec] = [json.loads(x) for x in records.read_text().splitlines()]
    assert rec["final_code"] == 404 and rec["number"] == "+15550004001"
