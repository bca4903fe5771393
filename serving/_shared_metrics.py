"""Metrics across worker processes: each worker publishes its counts to the state database.

``parcelscreen serve --workers N`` runs N processes; a scrape reaches any one of them. Each
worker writes its cumulative counters, histograms and recent scores to ``worker_metrics``
(every ``interval`` seconds and before it answers a scrape); the answering worker renders
its own counts plus every other worker's, so counters stay totals for the deployment. A
worker that restarts gets a new row, and its predecessor's counts stay, so totals never go
backwards; recent scores of a worker silent for ``stale_seconds`` leave the drift window.
The row of a worker silent for ``retire_seconds`` (as a rule long dead and restarted) is
added into one ``retired`` row and deleted, in one transaction, so restarts over months do
not grow the table that every scrape reads. A worker that was only silent (its store busy
for that long, its host suspended) finds its row gone at its next publication and from
then on publishes only what it counted since the counts that were retired, so nothing is
counted twice.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from typing import Any

from ._metrics import LATENCY_BUCKETS, Metrics
from ._sqlite import Database

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS worker_metrics (
        worker TEXT PRIMARY KEY, updated_at REAL NOT NULL, series TEXT NOT NULL,
        scores BLOB NOT NULL)""",
)
#: The row that holds the sum of every retired worker's counts.
RETIRED = "retired"


#: Length of a histogram row now (buckets, sum, count).
HISTOGRAM_WIDTH = len(LATENCY_BUCKETS) + 2


def _combine(total: dict[str, list[list[Any]]], more: dict[str, list[list[Any]]],
             sign: float) -> dict[str, list[list[Any]]]:  # fmt: skip
    out = {name: {json.dumps(labels): value for labels, value in rows}
           for name, rows in total.items()}  # fmt: skip
    for name, rows in more.items():
        mine = out.setdefault(name, {})
        for labels, value in rows:
            key = json.dumps(labels)
            have = mine.get(key)
            if isinstance(value, list):
                value = [sign * v for v in value]
                if isinstance(have, list) and len(have) == len(value):
                    mine[key] = [a + b for a, b in zip(have, value, strict=True)]
                elif have is None or len(value) == HISTOGRAM_WIDTH:  # buckets changed:
                    mine[key] = value  # the current layout wins, as rendering does
            elif have is None:
                mine[key] = sign * value
            elif not isinstance(have, list):
                mine[key] = have + sign * value
    return {name: [[json.loads(key), value] for key, value in rows.items()]
            for name, rows in out.items()}  # fmt: skip


def add_series(total: dict[str, list[list[Any]]],
               more: dict[str, list[list[Any]]]) -> dict[str, list[list[Any]]]:  # fmt: skip
    """Exported series added up: counters by value, histograms bucket by bucket."""
    return _combine(total, more, 1.0)


def subtract_series(total: dict[str, list[list[Any]]],
                    less: dict[str, list[list[Any]]]) -> dict[str, list[list[Any]]]:  # fmt: skip
    """``total`` less ``less``, label by label (what a worker counted since ``less``)."""
    return _combine(total, less, -1.0)


class SharedMetrics:
    def __init__(self, db: Database, metrics: Metrics, interval: float = 2.0,
                 stale_seconds: float = 60.0, retire_seconds: float = 600.0) -> None:  # fmt: skip
        self.db, self.metrics = db, metrics
        self.interval, self.stale_seconds = interval, stale_seconds
        self.retire_seconds = retire_seconds
        #: Counts as last published (None: not yet), and counts already in the retired row.
        self._last: dict[str, list[list[Any]]] | None = None
        self._baseline: dict[str, list[list[Any]]] = {}
        self.worker = f"{os.uname().nodename}:{os.getpid()}:{time.time_ns()}"
        for statement in SCHEMA:
            db.execute(statement)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def publish(self) -> None:
        exported = self.metrics.export()
        series = exported["series"]
        with self.db.transaction() as db:
            if self._last is not None and not db.execute(
                    "SELECT 1 FROM worker_metrics WHERE worker = ?", (self.worker,)):  # fmt: skip
                self._baseline = self._last  # retired while alive: those counts are retired
            own = subtract_series(series, self._baseline) if self._baseline else series
            db.execute("INSERT OR REPLACE INTO worker_metrics VALUES (?, ?, ?, ?)",
                       (self.worker, time.time(), json.dumps(own), exported["scores"]))  # fmt: skip
        self._last = series

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
        """Every other worker's last published counts (scores only from live workers), less
        this worker's own counts in the retired row, since it renders all of its own."""
        fresh = time.time() - self.stale_seconds
        rows = self.db.execute(
            "SELECT updated_at, series, scores FROM worker_metrics WHERE worker != ?",
            (self.worker,),
        )
        others = [{"series": json.loads(series), "scores": scores if at >= fresh else b""}
                  for at, series, scores in rows]  # fmt: skip
        if self._baseline:  # this worker's own counts that sit in the retired row
            others.append({"series": subtract_series({}, self._baseline), "scores": b""})
        return others

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
