"""The embedded stores' SQLite plumbing: writers of several processes, background checkpoints."""

from __future__ import annotations

import multiprocessing
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from screening import SQLiteBackend, connect_sqlite
from screening._store_support import CHECKPOINTER, LockTimeout, WalCheckpointer, WriterLock
from screening.history import EntityStats


def _add(path: str, times: int) -> None:
    conn = connect_sqlite(path)
    lock = WriterLock(path)
    for _ in range(times):
        with lock:
            conn.execute("BEGIN IMMEDIATE")
            (value,) = conn.execute("SELECT n FROM counter").fetchone()
            conn.execute("UPDATE counter SET n = ?", (value + 1,))
            conn.execute("COMMIT")
    conn.close()
    lock.close()


def test_writer_lock_serialises_processes(tmp_path: Path) -> None:
    path = str(tmp_path / "c.sqlite")
    conn = connect_sqlite(path)
    conn.execute("CREATE TABLE counter (n INTEGER)")
    conn.execute("INSERT INTO counter VALUES (0)")
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_add, args=(path, 200)) for _ in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=60)
        assert w.exitcode == 0
    assert conn.execute("SELECT n FROM counter").fetchone() == (600,)
    conn.close()


def test_background_checkpoints_empty_the_wal(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    backend = SQLiteBackend(path, background_checkpoints=True)
    assert backend.db.execute("PRAGMA wal_autocheckpoint") == [(0,)]
    start = path.stat().st_size  # the schema; autocheckpoint is off, so writes stay in the WAL
    with backend.transaction():
        for i in range(3000):
            backend.put("sender", f"token-{i:06d}", EntityStats(parcels=1, first_us=i, last_us=i))
    deadline = time.monotonic() + 10
    while path.stat().st_size < start + 100_000:  # until the thread copied them in
        assert time.monotonic() < deadline, "no background checkpoint happened"
        time.sleep(0.05)
    assert str(path) in CHECKPOINTER._paths
    backend.close()
    assert str(path) not in CHECKPOINTER._paths


def test_entity_lookup_by_key_uses_the_primary_key(tmp_path: Path) -> None:
    """The frame's entities are read in one statement, by index (a scan would grow with the
    history: the service got slower by the hour when it did)."""
    backend = SQLiteBackend(tmp_path / "h.sqlite")
    with backend.transaction():
        for i in range(50):
            backend.put("sender", f"t{i}", EntityStats(parcels=i, first_us=i, last_us=i))
    statements: list[tuple[str, tuple[object, ...]]] = []
    execute = backend._execute

    def spy(sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        statements.append((sql, params))
        return execute(sql, params)

    backend._execute = spy  # type: ignore[method-assign]
    found = backend.get_keys([("sender", "t7"), ("sender", "nope"), ("recipient", "t7")])
    assert found == {("sender", "t7"): EntityStats(7, 7, 7, 0, 0, 0)}
    ((sql, params),) = statements
    plan = " ".join(str(row) for row in execute("EXPLAIN QUERY PLAN " + sql, params))
    assert "SEARCH e USING INDEX" in plan and "SCAN history_entity" not in plan, plan
    backend.close()


def test_a_new_history_file_has_small_pages_and_an_old_one_keeps_its_own(tmp_path: Path) -> None:
    backend = SQLiteBackend(tmp_path / "new.sqlite")
    assert backend.db.execute("PRAGMA page_size") == [(1024,)]
    backend.close()
    old = tmp_path / "old.sqlite"
    conn = sqlite3.connect(old)
    conn.execute("PRAGMA page_size=4096")
    conn.execute("CREATE TABLE t (x)")
    conn.close()
    backend = SQLiteBackend(old)
    backend.put("sender", "t", EntityStats(parcels=1, first_us=1, last_us=1))
    assert backend.get("sender", "t") == EntityStats(1, 1, 1, 0, 0, 0)
    assert backend.db.execute("PRAGMA page_size") == [(4096,)]
    backend.close()


def _frames(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1])


def _until(check: Callable[[], bool], tries: int = 6000) -> bool:
    """Whether ``check`` holds within ``tries`` looks 10 ms apart (a minute: only a guard
    against hanging; the test waits for what happened, not for a time)."""
    for _ in range(tries):
        if check():
            return True
        time.sleep(0.01)
    return False


def test_a_large_wal_is_started_over_while_writers_keep_writing(tmp_path: Path) -> None:
    """Under steady writes a PASSIVE checkpoint never finishes, so SQLite never starts the WAL
    over; past ``restart_bytes`` the checkpointer finishes one under the writer lock."""
    path = str(tmp_path / "w.sqlite")
    setup = connect_sqlite(path)
    setup.execute("CREATE TABLE log (x BLOB)")
    stop = threading.Event()

    def write() -> None:
        conn, lock = connect_sqlite(path), WriterLock(path)
        conn.execute("PRAGMA wal_autocheckpoint=0")  # as the service's stores
        while not stop.is_set():
            with lock:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("INSERT INTO log VALUES (randomblob(3000))")
                conn.execute("COMMIT")
        conn.close()
        lock.close()

    writer = threading.Thread(target=write)
    writer.start()
    probe, lock = sqlite3.connect(path, isolation_level=None), WriterLock(path)
    try:
        assert _until(lambda: _frames(probe) > 100)  # the writer wrote 100 frames (not: 0.3 s)
        assert not WalCheckpointer(restart_bytes=1 << 40).checkpoint(probe, lock)
        grown = _frames(probe)
        assert grown > 100  # the writer goes on: the WAL only grows
        bounded = WalCheckpointer(restart_bytes=64 << 10)

        # a round is skipped when the first pass was held back (the writer's snapshot), and a
        # finished round may still not start the WAL over: the writer's next commit restarts it
        # only if no reader holds a read mark at that instant (here the probe's own checkpoint
        # can). As the checkpoint thread does every second, try again; on a busy machine that
        # takes a few rounds. Without the restart the WAL would only grow past ``grown``.
        def restarted() -> bool:
            if not bounded.checkpoint(probe, lock):
                time.sleep(0.02)
                return False
            return _until(lambda: _frames(probe) < grown, tries=50)

        assert any(restarted() for _ in range(250))
    finally:
        stop.set()
        writer.join(timeout=10)
        probe.close()
        lock.close()
        setup.close()


def test_a_store_checkpointed_in_the_background_leaves_its_rows_in_the_file(
    tmp_path: Path,
) -> None:
    """Closing checkpoints once more: the database file holds the rows, not only the WAL,
    even while another connection (another worker, the checkpoint thread) keeps SQLite from
    checkpointing by itself at close."""
    path = tmp_path / "h.sqlite"
    backend = SQLiteBackend(path, background_checkpoints=True)
    other = sqlite3.connect(path)
    other.execute("SELECT count(*) FROM history_entity").fetchall()
    start = path.stat().st_size
    with backend.transaction():
        for i in range(3000):
            backend.put("sender", f"token-{i:06d}", EntityStats(parcels=1, first_us=i, last_us=i))
    backend.close()  # at once: the background thread has not had its round yet
    try:
        assert path.stat().st_size > start + 100_000
    finally:
        other.close()


def test_the_checkpoint_thread_keeps_sqlite_s_locks_so_no_other_process_deletes_the_wal(
    tmp_path: Path,
) -> None:
    """A process with an open read transaction holds a POSIX lock on the database; closing
    any other descriptor of the file in that process (as an earlier early-write-back helper
    did every 50 ms) silently cancels it, and another process closing its last connection
    then checkpoints and deletes the WAL under the first one's feet. With the checkpoint
    thread running for several rounds, our lock must still hold: the other process's close
    leaves the WAL where it is."""
    path = tmp_path / "s.sqlite"
    backend = SQLiteBackend(path, background_checkpoints=True)
    backend.put("sender", "t", EntityStats(parcels=1, first_us=1, last_us=1))
    reader = sqlite3.connect(path, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM history_entity").fetchall()  # holds a read lock
    try:
        time.sleep(2.5)  # at least two rounds of the checkpoint thread (one a second)
        other = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
                "c.execute('SELECT count(*) FROM history_entity').fetchall(); c.close()",
                str(path),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert other.returncode == 0, other.stderr
        assert Path(f"{path}-wal").exists(), "another process deleted the live WAL"
    finally:
        reader.execute("COMMIT")
        reader.close()
        backend.close()


def test_a_file_put_in_place_of_a_store_is_never_checkpointed_into(tmp_path: Path) -> None:
    """The checkpoint thread holds the file the store opened, not whatever has its path: a
    database put in place of the store before the thread's first round keeps its own tables,
    and the store's connection still reads its rows (CI caught "no such table" on a store
    the thread had opened by path after such a replacement, and had applied its WAL to)."""
    path = tmp_path / "s.sqlite"
    backend = SQLiteBackend(path, background_checkpoints=True)
    with backend.transaction():
        for i in range(500):
            backend.put("sender", f"t{i}", EntityStats(parcels=1, first_us=i, last_us=i))
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (x)")
    conn.close()
    other.replace(path)
    try:
        time.sleep(2.5)  # at least two rounds of the checkpoint thread (one a second)
        assert backend.db.execute("SELECT count(*) FROM history_entity") == [(500,)]
        copy = tmp_path / "copy.sqlite"  # its bytes alone: opened at its path, SQLite
        copy.write_bytes(path.read_bytes())  # would read the store's WAL beside it
        probe = sqlite3.connect(copy)
        try:
            tables = probe.execute("SELECT name FROM sqlite_master").fetchall()
        finally:
            probe.close()
        assert tables == [("t",)]
    finally:
        backend.close()


def test_a_writer_waits_at_most_its_timeout_for_a_lock_another_process_holds(
    tmp_path: Path,
) -> None:
    """Bounded waits: a writer that cannot get the lock in time gives up with LockTimeout
    (the service answers 503); once the holder releases it, the next writer gets it."""
    path = tmp_path / "b.sqlite"
    with subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys, time; fd = os.open(sys.argv[1], "
            "os.O_RDWR | os.O_CREAT); fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); "
            "sys.stdin.readline()",
            f"{path}.lock",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as holder:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        lock = WriterLock(path, timeout=0.3)
        started = time.monotonic()
        with pytest.raises(LockTimeout):
            lock.acquire()
        # it waited its timeout (an upper bound is no test's business: LockTimeout while the
        # helper still holds the lock shows that the wait was bounded)
        assert time.monotonic() - started > 0.25
        with pytest.raises(LockTimeout):  # a second waiter while the helper still waits
            lock.acquire(timeout=0.1)
        assert holder.stdin is not None
        holder.stdin.write("\n")
        holder.stdin.flush()
        holder.wait(timeout=10)
        lock.acquire(timeout=5)  # free now: taken at once
        lock.release()
        lock.close()


def test_a_waiting_writer_gets_the_lock_the_moment_another_process_releases_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "c.sqlite"
    with subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys, time; fd = os.open(sys.argv[1], "
            "os.O_RDWR | os.O_CREAT); fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); "
            "time.sleep(0.5)",
            f"{path}.lock",
        ],
        stdout=subprocess.PIPE,
        text=True,
    ) as holder:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        lock = WriterLock(path, timeout=10)
        lock.acquire()  # waits for the holder's exit, well inside the limit
        lock.release()
        lock.close()
