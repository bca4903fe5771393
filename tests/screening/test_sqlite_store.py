"""The embedded stores' SQLite plumbing: writers of several processes, background checkpoints."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

from screening import SQLiteBackend, connect_sqlite
from screening._history import EntityStats
from screening._store_support import CHECKPOINTER, WriterLock


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
    assert backend._conn.execute("PRAGMA wal_autocheckpoint").fetchone() == (0,)
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
