"""What the stores share: re-entrant transactions, and for SQLite a cross-process writer lock
and background WAL checkpoints.

Writer lock (``fcntl.flock`` on a side file).

Several worker processes write to the same SQLite files. SQLite's own busy handler waits by
sleeping and retrying (1, 2, 5, 10 ms ...), so under steady contention writers spend their
time asleep while the lock is free. Taking an exclusive ``flock`` on ``<db>.lock`` before
``BEGIN IMMEDIATE`` queues the writers in the kernel instead: the next one wakes the moment
the lock is released. Readers (WAL) are not affected. Where ``fcntl`` does not exist the lock
does nothing and SQLite's busy wait alone applies.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from pathlib import Path
from types import TracebackType

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]


class Reentrant:
    """A store's transaction depth: the outermost ``transaction()`` opens and ends the real
    transaction (``open_outer``); nested ones join it and commit nothing of their own."""

    def __init__(self) -> None:
        self.depth = 0

    @contextmanager
    def __call__(self, open_outer: Callable[[], AbstractContextManager[object]]) -> Iterator[None]:
        if self.depth:
            self.depth += 1
            try:
                yield
            finally:
                self.depth -= 1
            return
        with open_outer():
            self.depth = 1
            try:
                yield
            finally:
                self.depth = 0


class LockTimeout(Exception):
    """The writer lock was not free within the wait allowed."""


class WriterLock:
    """Exclusive across processes (``flock`` on a side file) and across this process's
    threads; :meth:`acquire` waits at most ``timeout`` seconds, then raises
    :class:`LockTimeout`.

    ``flock`` has no time limit of its own, so a writer that finds the lock taken by another
    process hands the blocking ``flock`` call to a helper thread and waits for it with a time
    limit. If the wait runs out first, the helper still gets the lock later and, with nobody
    left to take it, releases it at once. Waiters blocked in ``flock`` are woken by the kernel
    the moment the holder releases the lock (no sleeping and polling, which made waiting
    writers lose the lock to newcomers for up to 384 ms in an earlier version).
    """

    def __init__(self, db_path: Path | str, timeout: float = 5.0) -> None:
        in_memory = str(db_path) in ("", ":memory:")  # nothing to share with other processes
        self.path = None if in_memory else Path(f"{db_path}.lock")
        self.timeout = timeout
        self._fd: int | None = None
        self._cv = threading.Condition(threading.Lock())
        self._owner: int | None = None  # thread holding the lock in this process
        self._held = False  # this process holds the flock
        self._helping = False  # the helper thread is blocked in flock for this process
        self._waiting = 0  # threads of this process waiting in acquire

    def _descriptor(self, path: Path) -> int:
        if self._fd is None:
            self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        return self._fd

    def acquire(self, timeout: float | None = None) -> None:
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        me = threading.get_ident()
        with self._cv:
            self._waiting += 1
            try:
                while True:
                    if self._owner is None and (
                        self._held or (not self._helping and self._try_flock())
                    ):
                        self._owner = me
                        return
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise LockTimeout(f"writer lock {self.path} not free within the wait")
                    self._cv.wait(left)
            finally:
                self._waiting -= 1
                self._release_unclaimed()

    def _try_flock(self) -> bool:
        """Take the flock now if it is free; else make sure the helper waits for it."""
        if fcntl is None or self.path is None:
            return True
        fd = self._descriptor(self.path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not self._helping:
                self._helping = True
                threading.Thread(
                    target=self._help, args=(fd,), name="writer-lock-wait", daemon=True
                ).start()
            return False
        self._held = True
        return True

    def _help(self, fd: int) -> None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # blocks in the kernel, without the GIL
            got = True
        except OSError:
            got = False
        with self._cv:
            self._helping = False
            if got:
                self._held = True
                self._release_unclaimed()
            self._cv.notify_all()

    def _release_unclaimed(self) -> None:
        """Release a flock that no thread holds or waits for (caller holds ``_cv``)."""
        if self._held and self._owner is None and not self._waiting:
            self._unlock()

    def _unlock(self) -> None:
        if fcntl is not None and self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._held = False

    def release(self) -> None:
        with self._cv:
            self._owner = None
            if self._held:
                self._unlock()  # always back to the kernel: other processes' waiters get
            self._cv.notify_all()  # their turn instead of this process keeping the lock

    def __enter__(self) -> WriterLock:
        self.acquire()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()

    def close(self) -> None:
        with self._cv:
            if self._fd is not None and not self._helping:
                os.close(self._fd)
                self._fd = None
                self._held = False


class WalCheckpointer:
    """Runs a database's WAL checkpoints on a background thread, off the writers' path.

    SQLite's automatic checkpoint runs inside the COMMIT that crosses 1,000 WAL pages, so
    every tenth or so scoring batch paid for copying the others' pages back into the
    database file. A store registered here turns that off on its writer connection
    (``wal_autocheckpoint=0``) and this thread checkpoints it every ``interval`` seconds on
    its own connection, while the GIL is free for the request threads. A crash loses
    nothing: the WAL is replayed on the next open. Once a second, not four times: a page
    written many times between two checkpoints is copied once, and under full load the
    checkpoint threads took 17 rather than 24 µs of CPU per parcel.

    A PASSIVE checkpoint never blocks a writer, but under sustained load it never finishes
    either (writers append while it copies), and SQLite starts the WAL over only after a
    checkpoint that finished: at full load the WAL grew without bound (860 MB after 20,000
    parcels). So once the WAL is larger than ``restart_bytes``, the PASSIVE pass that copied
    most of it is followed by a second one under the store's writer lock
    (:class:`WriterLock`), which copies the few pages written meanwhile, so the next writer
    starts the WAL from its beginning, rewriting the same file (not cut: truncating a large
    file stalled the writer that did it). It waits for no reader, unlike a RESTART
    checkpoint in SQLite's sleeping busy handler, and it is skipped when the first pass did
    not copy everything it saw (a reader held it back), so the lock is held only briefly.
    The bound is large on purpose: doing this every round made writers wait often enough to
    cost throughput; past ``restart_bytes`` it happens every few seconds at full load, and
    never in a flow with pauses, where a PASSIVE checkpoint finishes by itself.

    The WAL and the database file are only ever opened by SQLite. An earlier version opened
    them every 50 ms to start the kernel's write-back early; closing those descriptors
    cancelled SQLite's POSIX locks on the file (SQLite's "How To Corrupt An SQLite Database
    File", 2.2), and another process then deleted the live WAL. Do not bring that back.
    """

    def __init__(self, interval: float = 1.0, restart_bytes: int = 256 << 20) -> None:
        self.interval = interval
        self.restart_bytes = restart_bytes
        self._paths: dict[str, int] = {}
        self._opened: dict[str, tuple[sqlite3.Connection, WriterLock]] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def register(self, path: Path | str) -> None:
        """Checkpoint ``path`` from now on. The thread's connection is opened here, beside the
        store's own, so both hold the same file: opened later by its path, it would open
        whatever file had taken that path by then (one put in place of the store) and apply
        the store's WAL to it."""
        with self._lock:
            key = str(path)
            if key not in self._opened:
                conn = sqlite3.connect(key, isolation_level=None, check_same_thread=False)
                conn.execute("PRAGMA busy_timeout=100")
                conn.execute("PRAGMA schema_version").fetchall()  # opens the WAL now, too
                self._opened[key] = conn, WriterLock(key)
            self._paths[key] = self._paths.get(key, 0) + 1
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="wal-checkpoint", daemon=True
                )
                self._thread.start()

    def unregister(self, path: Path | str) -> None:
        with self._lock:
            key = str(path)
            left = self._paths.get(key, 0) - 1
            if left > 0:
                self._paths[key] = left
            else:
                self._paths.pop(key, None)
                opened = self._opened.pop(key, None)
                if opened is not None:
                    opened[0].close()
                    opened[1].close()

    def _run(self) -> None:
        while True:
            time.sleep(self.interval)
            with self._lock:
                if not self._paths:
                    self._thread = None
                    break
                for conn, writer in self._opened.values():
                    try:
                        self.checkpoint(conn, writer)
                    except sqlite3.Error:
                        continue  # busy or gone: the next round tries again

    def checkpoint(self, conn: sqlite3.Connection, writer: WriterLock) -> bool:
        """One round on one database; True when the WAL was left fully checkpointed under
        the writer lock (the next write starts it over)."""
        busy, frames, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        (page_size,) = conn.execute("PRAGMA page_size").fetchone()
        if busy or copied < frames or frames * page_size <= self.restart_bytes:
            return False
        with writer:
            _, frames, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return bool(frames == copied)


def close_store(conn: sqlite3.Connection, path: Path | str, background_checkpoints: bool) -> None:
    """Close a store's connection as :func:`connect_sqlite` opened it: one with background
    checkpoints gets one last PASSIVE checkpoint (it never waits), so that it leaves little or
    nothing in its WAL, and leaves :data:`CHECKPOINTER`."""
    if background_checkpoints:
        with suppress(sqlite3.Error):  # busy or read-only: the next open replays the WAL
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        CHECKPOINTER.unregister(path)
    conn.close()


#: One checkpointer per process, for every store that asks for background checkpoints.
CHECKPOINTER = WalCheckpointer()
