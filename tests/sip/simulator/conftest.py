"""Fixtures for the simulator tests: a SIPp UAC runner and trunks that always stop."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dialguard.sip.simulator import Profile, SimTrunk

SCENARIOS = Path(__file__).parent / "scenarios"
SIPP = shutil.which("sipp")


@dataclass
class SippRun:
    returncode: int
    stdout: str
    stderr: str

    def check(self) -> None:
        """SIPp exits 0 only if every call followed its scenario (it checks the wire)."""
        assert self.returncode == 0, f"SIPp failed ({self.returncode}):\n{self.stderr[-2000:]}"


RunSipp = Callable[..., Coroutine[Any, Any, SippRun]]


async def poll_until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    """Wait (bounded) for something the simulator does on its own schedule."""
    for _ in range(int(seconds / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"condition not met within {seconds} s")


@pytest.fixture
def run_sipp(tmp_path: Path) -> RunSipp:
    """``await run_sipp(port, "uac_answer_bye.xml", number, *args, subst={...})`` runs
    one SIPp UAC on loopback (bounded by ``-timeout``); ``.xml.in`` templates get
    ``subst`` written in first."""
    if SIPP is None:
        pytest.skip("SIPp (Debian sip-tester) is not on PATH")

    async def run(
        port: int,
        scenario: str,
        number: str,
        *args: str,
        calls: int = 1,
        subst: dict[str, str] | None = None,
        timeout_s: float = 15,
    ) -> SippRun:
        path = SCENARIOS / scenario
        if scenario.endswith(".in"):
            text = path.read_text()
            for k, v in (subst or {}).items():
                text = text.replace("{" + k + "}", v)
            path = tmp_path / scenario.removesuffix(".in")
            path.write_text(text)
        assert SIPP is not None
        proc = await asyncio.create_subprocess_exec(
            SIPP,
            f"127.0.0.1:{port}",
            "-sf",
            str(path),
            "-m",
            str(calls),
            "-i",
            "127.0.0.1",
            "-mi",
            "127.0.0.1",
            "-s",
            number,
            "-nostdin",
            "-timeout",
            f"{timeout_s}s",
            "-timeout_error",
            "-trace_err",
            "-error_file",
            str(tmp_path / "sipp_errors.log"),
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=tmp_path,
        )
        out, err = await asyncio.wait_for(proc.communicate(), timeout_s + 10)
        errors = tmp_path / "sipp_errors.log"
        extra = errors.read_text(errors="replace") if errors.exists() else ""
        return SippRun(proc.returncode or 0, out.decode(errors="replace"), err.decode() + extra)

    return run


TrunkFactory = Callable[..., Awaitable[SimTrunk]]


@pytest.fixture
async def make_trunk() -> AsyncIterator[TrunkFactory]:
    """Start a :class:`SimTrunk` on a free loopback port; every one is stopped after."""
    trunks: list[SimTrunk] = []

    async def make(profile: Profile | str | None = None, **kwargs: Any) -> SimTrunk:
        kwargs.setdefault("port", 0)
        kwargs.setdefault("rtp_port_range", (42000, 43000))
        trunk = SimTrunk(profile if profile is not None else Profile(), **kwargs)
        await trunk.start()
        trunks.append(trunk)
        return trunk

    yield make
    for t in trunks:
        await t.stop()
