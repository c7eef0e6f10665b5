"""One engine per SQLite store: the second is refused with the holder named, and the
lock dies with its process however it ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dialguard.store import StoreError
from dialguard.store.engine_lock import EngineLock, StoreInUse


def test_a_second_engine_on_the_store_is_refused_naming_the_first(tmp_path: Path) -> None:
    store = tmp_path / "s.sqlite3"
    with EngineLock.acquire(store, "dg-first"):
        with pytest.raises(StoreInUse) as e:
            EngineLock.acquire(store, "dg-second")
        msg = str(e.value)
        assert str(store) in msg and "dg-first" in msg and f"pid {os.getpid()}" in msg
        assert "[store].path" in msg
        assert isinstance(e.value, StoreError)  # the CLI reports it as a start failure
    with EngineLock.acquire(store, "dg-second") as again:  # released: free again
        assert again.held


def test_other_stores_and_memory_stores_are_not_locked(tmp_path: Path) -> None:
    with (
        EngineLock.acquire(tmp_path / "a.sqlite3", "a"),
        EngineLock.acquire(tmp_path / "b.sqlite3", "b"),
    ):
        pass
    with EngineLock.acquire(":memory:", "m"), EngineLock.acquire(":memory:", "n"):
        pass


def test_release_is_idempotent(tmp_path: Path) -> None:
    lock = EngineLock.acquire(tmp_path / "s.sqlite3", "x")
    lock.release()
    lock.release()
    assert not lock.held


HOLD = """
import sys, time
from dialguard.store.engine_lock import EngineLock
lock = EngineLock.acquire(sys.argv[1], "dg-child")
print("held", flush=True)
time.sleep(60)
"""


def test_a_killed_engine_leaves_no_stale_lock(tmp_path: Path) -> None:
    """SIGKILL gives no chance to clean up: the kernel must drop the lock, or crash
    recovery would wait for a dead engine."""
    store = tmp_path / "s.sqlite3"
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(store)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "held"
        with pytest.raises(StoreInUse, match=f"dg-child, pid {child.pid}"):
            EngineLock.acquire(store, "dg-parent")
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    deadline = time.monotonic() + 5
    while True:  # the kernel releases it as the process is reaped; normally at once
        try:
            EngineLock.acquire(store, "dg-parent").release()
            break
        except StoreInUse:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_an_unwritable_place_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StoreError, match="cannot create the engine lock"):
        EngineLock.acquire(blocker / "s.sqlite3", "x")
