"""Metrics across worker processes: each worker publishes its counts to the state database.

``parcelscreen serve --workers N`` runs N processes; a scrape reaches any one of them. Each
worker writes its cumulative counters, histograms and recent scores to ``worker_metrics``
(every ``interval`` seconds and before it answers a scrape); the answering worker renders
its own counts plus every other worker's, so counters stay totals for the deployment. A
worker that restarts gets a new row, and its predecessor's row stays, so totals never go
backwards; recent scores of a worker silent for ``stale_seconds`` leave the drift window.
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


class SharedMetrics:
    def __init__(self, db: Database, metrics: Metrics, interval: float = 2.0,
                 stale_seconds: float = 60.0) -> None:  # fmt: skip
        self.db, self.metrics = db, metrics
        self.interval, self.stale_seconds = interval, stale_seconds
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

        self._thread = threading.Thread(target=loop, name="metrics-publisher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with contextlib.suppress(Exception):  # the last counts; a busy store loses them
            self.publish()
