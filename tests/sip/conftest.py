"""Fixtures for the SIP adapter tests: SIPp trunks that are always killed, and adapter
trunks that always stop."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from dialguard.sip.adapter import SippyTrunk
from tests.sip.sipp import SippRun

StartSipp = Callable[..., SippRun]
MakeTrunk = Callable[..., Any]


@pytest.fixture
def sipp(tmp_path: Path) -> Iterator[StartSipp]:
    """``sipp("ring_cancel", timeout_s=30, keys={...})`` starts SIPp as the trunk on a
    free loopback port with that scenario; every SIPp started is killed at teardown."""
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


@pytest.fixture
async def trunk_for() -> AsyncIterator[Callable[..., Any]]:
    """``await trunk_for(sipp_run, **SippyTrunk kwargs)``: a started adapter pointed at
    that SIPp; stopped at teardown (which also hangs up anything a test left up)."""
    trunks: list[SippyTrunk] = []

    async def make(run: SippRun, **kwargs: Any) -> SippyTrunk:
        trunk = SippyTrunk("127.0.0.1", run.port, **kwargs)
        await trunk.start()
        trunks.append(trunk)
        return trunk

    yield make
    for trunk in trunks:
        await trunk.stop()
