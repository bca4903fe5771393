"""A cross-process writer lock for an embedded SQLite store (``fcntl.flock`` on a side file).

Several worker processes write to the same SQLite files. SQLite's own busy handler waits by
sleeping and retrying (1, 2, 5, 10 ms ...), so under steady contention writers spend their
time asleep while the lock is free. Taking an exclusive ``flock`` on ``<db>.lock`` before
``BEGIN IMMEDIATE`` queues the writers in the kernel instead: the next one wakes the moment
the lock is released. Readers (WAL) are not affected. Where ``fcntl`` does not exist the lock
does nothing and SQLite's busy wait alone applies.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from types import TracebackType

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]


class WriterLock:
    """Exclusive across processes (flock) and across this process's threads (a lock)."""

    def __init__(self, db_path: Path | str) -> None:
        in_memory = str(db_path) in ("", ":memory:")  # nothing to share with other processes
        self.path = None if in_memory else Path(f"{db_path}.lock")
        self._fd: int | None = None
        self._local = threading.Lock()

    def _descriptor(self, path: Path) -> int:
        if self._fd is None:
            self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        return self._fd

    def __enter__(self) -> WriterLock:
        self._local.acquire()
        if fcntl is not None and self.path is not None:
            try:
                fcntl.flock(self._descriptor(self.path), fcntl.LOCK_EX)
            except BaseException:
                self._local.release()
                raise
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:  # fmt: skip
        try:
            if fcntl is not None and self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._local.release()

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
