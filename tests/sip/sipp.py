"""Real SIPp as the trunk: start a UAS scenario on a free loopback port, read what it saw.

Each test plays one SIPp scenario from ``tests/sip/scenarios/`` against the adapter.
SIPp is the judge of the wire: a scenario fails (exit code 1) on any message it did not
expect, in the order it did not expect, or on a timeout; its message trace
(``-trace_msg``) gives every datagram with SIPp's own timestamp, so a test can check
what crossed the wire (the ACK's branch, the CANCEL's timing, the REFER's headers), not
only what the adapter reported. SIPp runs in the foreground (no ``-bg``) with ``-m 1``
and a global ``-timeout``, and is always killed at the end.
"""

from __future__ import annotations

import contextlib
import csv
import re
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

SCENARIOS = Path(__file__).parent / "scenarios"
SIPP = shutil.which("sipp") or "/usr/bin/sipp"

_TRACE_SPLIT = re.compile(
    r"^-{20,} (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)\n"
    r"UDP message (received|sent) [\[(]\d+\]? bytes\)? ?:\n\n",
    re.MULTILINE,
)


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def udp_port_taken(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
        return False


@dataclass(frozen=True)
class WireMessage:
    """One SIP datagram in SIPp's trace; ``t`` is SIPp's wall-clock stamp (seconds)."""

    t: float
    direction: str  # "received" (by SIPp, i.e. sent by the adapter) or "sent" (by SIPp)
    text: str

    @property
    def first_line(self) -> str:
        return self.text.split("\r\n", 1)[0].split("\n", 1)[0].strip()

    @property
    def method(self) -> str | None:
        """Request method, or None for a response."""
        line = self.first_line
        return None if line.startswith("SIP/2.0") else line.split(" ", 1)[0]

    @property
    def status(self) -> int | None:
        line = self.first_line
        return int(line.split()[1]) if line.startswith("SIP/2.0") else None

    @property
    def cseq_method(self) -> str:
        return self.header("CSeq").split()[-1]

    def header(self, name: str) -> str:
        """First value of header ``name`` (case-insensitive); '' if absent."""
        for line in self.text.replace("\r\n", "\n").split("\n"):
            if not line.strip():
                break
            key, _, value = line.partition(":")
            if key.strip().lower() == name.lower():
                return value.strip()
        return ""

    @property
    def branch(self) -> str:
        m = re.search(r"branch=([^;\s]+)", self.header("Via"))
        return m.group(1) if m else ""

    @property
    def body(self) -> str:
        text = self.text.replace("\r\n", "\n")
        return text.split("\n\n", 1)[1] if "\n\n" in text else ""


@dataclass
class SippRun:
    """A SIPp UAS process playing one scenario; use as a context manager."""

    scenario: str
    workdir: Path
    timeout_s: float = 30.0
    keys: dict[str, str] = field(default_factory=dict)
    calls: int = 1
    extra: list[str] = field(default_factory=list)
    port: int = field(default_factory=free_udp_port)
    proc: subprocess.Popen[bytes] | None = None
    returncode: int | None = None

    @property
    def trace_file(self) -> Path:
        return self.workdir / f"{self.scenario}_{self.port}_messages.log"

    @property
    def stat_file(self) -> Path:
        return self.workdir / f"{self.scenario}_{self.port}_stats.csv"

    @property
    def error_file(self) -> Path:
        return self.workdir / f"{self.scenario}_{self.port}_errors.log"

    def start(self) -> SippRun:
        self.workdir.mkdir(parents=True, exist_ok=True)
        cmd = [
            SIPP,
            "-sf",
            str(SCENARIOS / f"{self.scenario}.xml"),
            "-i",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-mi",
            "127.0.0.1",
            "-m",
            str(self.calls),
            "-timeout",
            f"{self.timeout_s:g}s",
            "-timeout_error",
            "-nostdin",
            "-trace_msg",
            "-message_file",
            str(self.trace_file),
            "-trace_stat",
            "-stf",
            str(self.stat_file),
            "-trace_err",
            "-error_file",
            str(self.error_file),
            *self.extra,
        ]
        for key, value in self.keys.items():
            cmd += ["-key", key, value]
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=self.workdir
        )
        deadline = time.monotonic() + 5.0
        while not udp_port_taken(self.port):
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                raise RuntimeError(f"sipp exited at start ({self.proc.returncode}): {err}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"sipp did not bind 127.0.0.1:{self.port} within 5 s")
            time.sleep(0.02)
        return self

    def wait(self, timeout: float | None = None) -> int:
        """SIPp's exit code: 0 = every call passed the scenario, 1 = a call failed."""
        assert self.proc is not None
        self.returncode = self.proc.wait(timeout if timeout is not None else self.timeout_s + 5)
        return self.returncode

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(5)

    def __enter__(self) -> SippRun:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.kill()

    # --- what SIPp saw --------------------------------------------------------------

    def messages(self) -> list[WireMessage]:
        text = self.trace_file.read_text(errors="replace") if self.trace_file.exists() else ""
        parts = _TRACE_SPLIT.split(text)
        out = []
        for i in range(1, len(parts) - 2, 3):
            stamp, direction, body = parts[i], parts[i + 1], parts[i + 2]
            t = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S.%f").timestamp()
            out.append(WireMessage(t, direction, body.strip("\n") + "\n"))
        return out

    def received(self, method: str) -> list[WireMessage]:
        """Requests with ``method`` that SIPp received (i.e. that the adapter sent)."""
        return [m for m in self.messages() if m.direction == "received" and m.method == method]

    def sent_status(self, code: int) -> list[WireMessage]:
        return [m for m in self.messages() if m.direction == "sent" and m.status == code]

    def stats(self) -> dict[str, str]:
        """The last row of SIPp's ``-trace_stat`` CSV (counters since start)."""
        if not self.stat_file.exists():
            return {}
        rows = list(csv.reader(self.stat_file.read_text().splitlines(), delimiter=";"))
        if len(rows) < 2:
            return {}
        return dict(zip(rows[0], rows[-1], strict=False))

    def errors(self) -> str:
        return self.error_file.read_text(errors="replace") if self.error_file.exists() else ""

    def explain(self) -> str:
        """Everything useful when a test fails: exit code, SIPp's errors, the trace."""
        trace = "\n".join(f"{m.t:.3f} {m.direction}: {m.first_line}" for m in self.messages())
        return f"sipp rc={self.returncode}\nerrors:\n{self.errors()[-2000:]}\ntrace:\n{trace}"
