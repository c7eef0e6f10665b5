"""A running contact centre with the console in front of it, and a headless Chromium.

The centre is the one the end-to-end tests use (tests/support): the SIP trunk
simulator and MQTT agent desktops on a LocalCentre, and a real `dialguard run` daemon
subprocess dialling through them. The console is a real `dialguard console` subprocess
on the daemon's config, its users made with `dialguard console add-user`. The centre's
event loop runs in a thread of its own, so the (blocking) Selenium calls of a test
never stall the simulator that must keep answering the daemon.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dialguard.demo.broker import free_loopback_port
from dialguard.demo.centre import LocalCentre
from tests.support.centre import centre_options
from tests.support.daemon import retry, start_daemon, write_config
from tests.support.mosquitto import port_answers

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
SUPERVISOR = ("sue", "sue's long password")
VIEWER = ("vic", "vic's long password")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if CHROMIUM and CHROMEDRIVER:
        return
    skip = pytest.mark.skip(
        reason="needs Debian's chromium and chromium-driver (apt-get install -y chromium "
        "chromium-driver; .ci/run installs them)"
    )
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


class LoopThread:
    """An event loop in a thread of its own; ``run`` waits for a coroutine there."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, Any], timeout: float = 90) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@dataclass
class Floor:
    url: str
    centre: LocalCentre
    loop: LoopThread
    workdir: Path
    downloads: Path


def _dialguard(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dialguard", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


@pytest.fixture(scope="module")
def floor(broker_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Floor]:
    """The centre, its daemon and the console, up and dialling, for a module's tests."""
    work = tmp_path_factory.mktemp("console")
    loop = LoopThread()
    centre = LocalCentre(
        centre_options(broker_url, work, agents=3, contacts=150, start_engine=False, wrap_s=2.0)
    )
    daemon: subprocess.Popen[bytes] | None = None
    web: subprocess.Popen[bytes] | None = None
    try:
        loop.run(centre.start())
        config = write_config(centre, work)
        daemon = start_daemon(config, work / "daemon.log")
        loop.run(retry(lambda: centre.control("start"), 30), timeout=60)
        users = work / "users.json"
        for (name, password), role in ((SUPERVISOR, "supervisor"), (VIEWER, "viewer")):
            _dialguard(
                "console", "add-user", name, "--role", role, "--password-stdin",
                "--config", str(config), "--users", str(users), stdin=password + "\n",
            )  # fmt: skip
        port = free_loopback_port()
        web = subprocess.Popen(
            [sys.executable, "-m", "dialguard", "console", "--config", str(config),
             "--users", str(users), "--port", str(port)],
            stdout=(work / "console.log").open("ab"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while not port_answers("127.0.0.1", port):
            assert web.poll() is None, (work / "console.log").read_text()
            assert time.monotonic() < deadline, "the console did not listen within 30 s"
            time.sleep(0.1)
        downloads = work / "downloads"
        downloads.mkdir()
        yield Floor(f"http://127.0.0.1:{port}", centre, loop, work, downloads)
    finally:
        if daemon is not None and daemon.poll() is None:
            # pause and let calls end before SIGTERM, as a supervisor would (a test that
            # failed before its pause leaves the campaign dialling)
            with contextlib.suppress(Exception):
                loop.run(centre.control("pause"), timeout=20)
                loop.run(centre.drain(25, None), timeout=40)
        for proc in (web, daemon):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(10)
        loop.run(centre.stop(), timeout=120)
        loop.close()


@pytest.fixture(scope="module")
def browser(floor: Floor) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,800",
                "--disable-dev-shm-usage"):  # fmt: skip
        options.add_argument(arg)
    options.add_experimental_option(
        "prefs",
        {"download.default_directory": str(floor.downloads), "download.prompt_for_download": False},
    )
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.implicitly_wait(0)
    try:
        yield driver
    finally:
        driver.quit()
