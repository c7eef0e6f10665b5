"""`trunk test-call` details found against real trunks (issue 10): the configured local
SIP port is used, and a national number is sent in E.164 form."""

from __future__ import annotations

from pathlib import Path

import pytest
import structlog

from dialguard.cli import app
from tests.sip.conftest import StartSipp
from tests.sip.sipp import free_udp_port

pytestmark = pytest.mark.sipp


def test_test_call_uses_local_port_and_sends_e164(sipp: StartSipp, tmp_path: Path) -> None:
    saved = structlog.get_config()
    local_port = free_udp_port()
    config = tmp_path / "dialguard.toml"
    config.write_text(f"[trunk]\nlocal_port = {local_port}\n")
    run = sipp("answer")
    try:
        code = app(
            [
                "trunk",
                "test-call",
                "01632 960123",
                "--caller-id",
                "01632960000",
                "--config",
                str(config),
                "--trunk",
                f"127.0.0.1:{run.port}",
                "--hold",
                "0.2",
                "--silent",  # a SIPp callee, not a person
            ],
            result_action="return_value",
        )
        bad = app(
            [
                "trunk",
                "test-call",
                "0163",
                "--caller-id",
                "01632960000",
                "--config",
                str(config),
                "--trunk",
                f"127.0.0.1:{run.port}",
            ],
            result_action="return_value",
        )
    finally:
        structlog.configure(**saved)
    assert code == 0
    assert bad == 2  # refused before any INVITE, with the reason
    assert run.wait(10) == 0, run.explain()
    (invite,) = run.received("INVITE")
    assert invite.first_line.startswith("INVITE sip:+441632960123@")
    assert "+441632960000" in invite.header("From")
    assert f"127.0.0.1:{local_port}" in invite.header("Via")
