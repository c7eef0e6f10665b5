"""Real mosquitto brokers for tests: find the shared one, or start a private one.

Tests that need a broker talk to a real mosquitto, never a fake. A test that must stop
and restart its broker (fail-closed tests) or load an ACL gets a private instance on a
free loopback port.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from dialguard.demo.broker import free_loopback_port as free_port


def port_answers(host: str, port: int, timeout: float = 0.5) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=timeout):
        return True
    return False


def mosquitto_binary() -> str:
    path = shutil.which("mosquitto") or (
        "/usr/sbin/mosquitto" if os.path.exists("/usr/sbin/mosquitto") else None
    )
    if path is None:
        raise RuntimeError("mosquitto is not installed (apt-get install -y mosquitto)")
    return path


@dataclass
class Mosquitto:
    """A private mosquitto process on 127.0.0.1:port, configured by ``extra_conf``."""

    workdir: Path
    extra_conf: str = ""
    port: int = field(default_factory=free_port)
    host: str = "127.0.0.1"
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Mosquitto:
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(
            f"listener {self.port} 127.0.0.1\n"
            "persistence false\n"
            f"log_dest file {self.workdir / 'mosquitto.log'}\n"
            + (self.extra_conf or "allow_anonymous true\n")
        )
        self.proc = subprocess.Popen(
            [mosquitto_binary(), "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not port_answers(self.host, self.port, 0.2):
            if self.proc.poll() is not None:
                log = (self.workdir / "mosquitto.log").read_text(errors="replace")
                raise RuntimeError(f"mosquitto exited: {log[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError("mosquitto did not start within 10 s")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"
