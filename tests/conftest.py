"""Fixtures shared by all tests: real brokers and temporary stores."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# Every runner in the tests (in-process or a daemon subprocess) checks the pacer's
# ledgers after each poll; set before dialguard.engine.runner is imported.
os.environ.setdefault("DIALGUARD_CHECK_INVARIANTS", "1")

# A command a test runs as a subprocess must import the tree under test. With a relative
# PYTHONPATH (``PYTHONPATH=src`` in a worktree) a subprocess started in tmp_path found no
# src/ there and imported the editable install's tree instead: another checkout's code.
if os.environ.get("PYTHONPATH"):
    os.environ["PYTHONPATH"] = os.pathsep.join(
        os.path.abspath(p) for p in os.environ["PYTHONPATH"].split(os.pathsep) if p
    )

from tests.support.mosquitto import Mosquitto, port_answers


@pytest.fixture(scope="session")
def broker_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a real MQTT broker: $DIALGUARD_TEST_BROKER, else 127.0.0.1:1883, else a
    private mosquitto started for this session. Never a fake."""
    env = os.environ.get("DIALGUARD_TEST_BROKER")
    if env:
        yield env
        return
    if port_answers("127.0.0.1", 1883):
        yield "mqtt://127.0.0.1:1883"
        return
    m = Mosquitto(tmp_path_factory.mktemp("mosquitto")).start()
    try:
        yield m.url
    finally:
        m.stop()


@pytest.fixture
def private_broker(tmp_path: Path) -> Iterator[Mosquitto]:
    """A mosquitto of this test's own, which the test may stop and start."""
    m = Mosquitto(tmp_path).start()
    try:
        yield m
    finally:
        m.stop()
