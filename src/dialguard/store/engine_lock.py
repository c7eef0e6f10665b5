"""One engine per SQLite store: a second daemon on the same file refuses to start.

Two engines on one SQLite file each pick the same due contacts (the claim is atomic
only within one engine's writer), and the later one's crash recovery closes the
earlier one's live calls as ``interrupted``: measured, 42 numbers dialled twice in 30 s.
Scale-out across nodes needs a store with leases (PostgreSQL), not a shared file.

The guard is an exclusive ``flock`` on ``<store>.engine.lock`` beside the store, held
for the engine's life. The kernel drops it when the process ends, however it ends
(SIGKILL included), so a crash never leaves a stale lock for recovery to wait on. The
file records who holds it, for the error message. Reports, imports and campaign
commands open the store without the lock: they may run beside the daemon.

``flock`` is advisory and local: it does not protect a store on a network file system
shared by two machines (docs/operator.md says not to do that).
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from pathlib import Path
from types import TracebackType
from typing import Self

from dialguard.store.errors import StoreError

__all__ = ["EngineLock", "StoreInUse"]


class StoreInUse(StoreError):
    """Another engine holds this store."""


class EngineLock:
    """Held while an engine runs on a store; use :meth:`acquire`, then :meth:`release`."""

    def __init__(self, path: Path, fd: int | None) -> None:
        self.path = path
        self._fd = fd

    @classmethod
    def acquire(cls, store_path: Path | str, engine_id: str) -> Self:
        """Take the store for this engine, or raise :class:`StoreInUse` naming the holder.

        An in-memory store (``":memory:"``) is private to its engine: nothing to lock."""
        if str(store_path) == ":memory:":
            return cls(Path(":memory:"), None)
        path = Path(f"{store_path}.engine.lock")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise StoreError(f"{path}: cannot create the engine lock ({e.strerror})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise StoreInUse(
                f"{store_path}: another dialguard engine is running on this store"
                f" ({holder}); two engines on one SQLite store would dial the same"
                " contacts twice. Stop that engine, or give this one its own [store].path"
                f" (the lock is {path})"
            ) from None
        except OSError as e:
            os.close(fd)
            raise StoreError(f"{path}: cannot lock ({e.strerror})") from None
        record = {"pid": os.getpid(), "engine": engine_id, "since": time.time()}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(record).encode() + b"\n", 0)
        return cls(path, fd)

    def release(self) -> None:
        """Give the store up (idempotent). The file stays: removing it could race a
        starting engine that already opened it."""
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def _read_holder(fd: int) -> str:
    """Who holds the lock, as the holder wrote it (best effort: it may be mid-write)."""
    try:
        raw = os.pread(fd, 4096, 0)
        info = json.loads(raw.decode())
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(info["since"])))
        return f"engine {info['engine']}, pid {info['pid']}, since {since}"
    except (OSError, ValueError, KeyError, TypeError):
        return "holder unknown"
