"""Metrics across worker processes: each worker publishes its counts to the state database.

``parcelscreen serve --workers N`` runs N processes; a scrape reaches any one of them. Each
worker writes its cumulative counters, histograms and recent scores to ``worker_metrics``
(every ``interval`` seconds and before it answers a scrape); the answering worker renders
its own counts plus every other worker's, so counters stay totals for the deployment. A
worker that restarts gets a new row, and its predecessor's counts stay, so totals never go
backwards; recent scores of a worker silent for ``stale_seconds`` leave the drift window.
The row of a worker silent for ``retire_seconds`` (long dead: uvicorn's supervisor restarts
a worker that stops answering within seconds) is added into one ``retired`` row and
deleted, in one transaction, so restarts over months do not grow the table that every
scrape reads.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from typing import Any

from ._metrics import Metrics
from ._sqlite import Database

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS worker_metrics (
        worker TEXT PRIMARY KEY, updated_at REAL NOT NULL, series TEXT NOT NULL,
        scores BLOB NOT NULL)""",
)
#: The row that holds the sum of every retired worker's counts.
RETIRED = "retired"


def add_series(total: dict[str, list[list[Any]]],
               more: dict[str, list[list[Any]]]) -> dict[str, list[list[Any]]]:  # fmt: skip
    """Exported series added up: counters by value, histograms bucket by bucket."""
    out = {name: {json.dumps(labels): value for labels, value in rows}
           for name, rows in total.items()}  # fmt: skip
    for name, rows in more.items():
        mine = out.setdefault(name, {})
        for labels, value in rows:
            key = json.dumps(labels)
            have = mine.get(key)
            if have is None:
                mine[key] = value
            elif isinstance(value, list) and isinstance(have, list) and len(have) == len(value):
                mine[key] = [a + b for a, b in zip(have, value, strict=True)]
            elif not isinstance(value, list) and not isinstance(have, list):
                mine[key] = have + value
            # else: buckets that changed between versions; the first row's shape is kept
    return {name: [[json.loads(key), value] for key, value in rows.items()]
            for name, rows in out.items()}  # fmt: skip


class SharedMetrics:
    def __init__(self, db: Database, metrics: Metrics, interval: float = 2.0,
                 stale_seconds: float = 60.0, retire_seconds: float = 600.0) -> None:  # fmt: skip
        self.db, self.metrics = db, metrics
        self.interval, self.stale_seconds = interval, stale_seconds
        self.retire_seconds = retire_seconds
        self.worker = f"{os.uname().nodename}:{os.getpid()}:{time.time_ns()}"
        for statement in SCHEMA:
            db.execute(statement)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def publish(self) -> None:
        exported = self.metrics.export()
        self.db.execute("INSERT OR REPLACE INTO worker_metrics VALUES (?, ?, ?, ?)",
                        (self.worker, time.time(), json.dumps(exported["series"]),
                         exported["scores"]))  # fmt: skip

    def retire(self) -> int:
        """Add the rows of workers silent for ``retire_seconds`` into the ``retired`` row and
        delete them (one transaction, so two workers doing it at once count nothing twice);
        returns how many rows were retired."""
        cutoff = time.time() - self.retire_seconds
        dead_sql = "FROM worker_metrics WHERE updated_at < ? AND worker NOT IN (?, ?)"
        params = (cutoff, RETIRED, self.worker)
        if not self.db.execute(f"SELECT 1 {dead_sql} LIMIT 1", params):
            return 0  # the usual case: a read, no write lock
        with self.db.transaction() as db:
            dead = db.execute(f"SELECT worker, series {dead_sql}", params)
            if not dead:
                return 0
            kept = db.execute("SELECT series FROM worker_metrics WHERE worker = ?", (RETIRED,))
            total = json.loads(kept[0][0]) if kept else {}
            for _, series in dead:
                total = add_series(total, json.loads(series))
            db.execute("INSERT OR REPLACE INTO worker_metrics VALUES (?, ?, ?, ?)",
                       (RETIRED, time.time(), json.dumps(total), b""))  # fmt: skip
            db.executemany("DELETE FROM worker_metrics WHERE worker = ?",
                           [(worker,) for worker, _ in dead])  # fmt: skip
        return len(dead)

    def others(self) -> list[dict[str, Any]]:
        """Every other worker's last published counts (scores only from live workers)."""
        fresh = time.time() - self.stale_seconds
        rows = self.db.execute(
            "SELECT updated_at, series, scores FROM worker_metrics WHERE worker != ?",
            (self.worker,),
        )
        return [{"series": json.loads(series), "scores": scores if at >= fresh else b""}
                for at, series, scores in rows]  # fmt: skip

    def start(self) -> None:
        def loop() -> None:
            while not self._stop.wait(self.interval):
                with contextlib.suppress(Exception):  # a busy store delays one publication
                    self.publish()
                    self.retire()

        self._thread = threading.Thread(target=loop, name="metrics-publisher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with contextlib.suppress(Exception):  # the last counts; a busy store loses them
            self.publish()
