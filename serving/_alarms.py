"""Model-health alarms of the served model (issue 18), for ``/metrics`` and the officer's
banner: ``screening``'s drift monitor on the results the service recorded.

The current window is the last 24 hours of results of the served model version; the
reference is the same 24 hours of the day in each of the four weeks before (the same weekday
and hours, so a day's mix of posting hours and origins is compared with its like), results of
the same version only. Each window is a sample of at most ``SAMPLE`` results spread evenly over
it (rowids are in scoring order: a binary search finds a window's bounds without an index, and
the sample is read by rowid). With fewer than ``MIN_ROWS`` results in the current window or in
the reference nothing is measured and nothing alarms: a new model or a quiet day has no
comparable past. An alarm is what :func:`screening.drift_alarms` or
:func:`screening.score_alarm` return: a significant and material shift.

A check reads about ten thousand rows; it is kept ``CACHE_SECONDS`` per process, so a flood of
scrapes or queue loads costs one check a minute.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from screening import DRIFT_MIN_ROWS, Database, DriftAlarm, drift_alarms, score_alarm

CURRENT = timedelta(hours=24)
REFERENCE_WEEKS = 4
SAMPLE = 2000
MIN_ROWS = DRIFT_MIN_ROWS
CACHE_SECONDS = 60.0
_SELECT = (
    "SELECT rowid, summary, features FROM scored_result WHERE model_version = ? AND rowid IN ({})"
)


@dataclass(frozen=True)
class HealthReport:
    """The served model's drift check: the alarms that fire (empty: none, or not measured)."""

    version: str
    current_rows: int
    reference_rows: int
    measured: bool
    alarms: tuple[DriftAlarm, ...] = ()


def _first_at(db: Database, at: str, lo: int, hi: int) -> int:
    """The first rowid in ``[lo, hi]`` of a result scored at ``at`` or later (``hi`` if none)."""
    while lo < hi:
        mid = (lo + hi) // 2
        row = db.execute(
            "SELECT scored_at FROM scored_result WHERE rowid >= ? ORDER BY rowid LIMIT 1", (mid,)
        )
        if not row or _instant(row[0][0]) >= _instant(at):
            hi = mid
        else:
            lo = mid + 1
    return lo


def _instant(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _window(
    db: Database, version: str, start: datetime, end: datetime, top: int
) -> tuple[list[float], list[np.ndarray]]:
    """Scores and feature vectors of a sample of the results of ``version`` scored in
    ``[start, end)``."""
    lo = _first_at(db, start.isoformat(), 1, top + 1)
    hi = _first_at(db, end.isoformat(), lo, top + 1)
    if hi <= lo:
        return [], []
    wanted = np.unique(np.linspace(lo, hi - 1, min(SAMPLE, hi - lo)).astype(np.int64)).tolist()
    scores: list[float] = []
    vectors: list[np.ndarray] = []
    for part in range(0, len(wanted), 500):
        chunk = wanted[part : part + 500]
        for _rowid, summary, blob in db.execute(
            _SELECT.format(", ".join("?" * len(chunk))), (version, *chunk)
        ):
            probability = json.loads(summary).get("probability")
            if isinstance(probability, int | float):
                scores.append(float(probability))
                vectors.append(np.frombuffer(blob, dtype=np.float32))
    return scores, vectors


def check(
    db: Database, version: str, names: Sequence[str], now: datetime | None = None
) -> HealthReport:
    """The drift check of ``version`` at ``now`` (default: the clock)."""
    now = now or datetime.now(UTC)
    top = db.execute("SELECT coalesce(max(rowid), 0) FROM scored_result")[0][0]
    scores, vectors = _window(db, version, now - CURRENT, now, top)
    ref_scores: list[float] = []
    ref_vectors: list[np.ndarray] = []
    for k in range(1, REFERENCE_WEEKS + 1):
        end = now - timedelta(weeks=k)
        s, v = _window(db, version, end - CURRENT, end, top)
        ref_scores += s
        ref_vectors += v
    width = len(names)
    current = [x for x in vectors if x.size == width]
    reference = [x for x in ref_vectors if x.size == width]
    if min(len(current), len(reference)) < MIN_ROWS:
        return HealthReport(version, len(current), len(reference), measured=False)
    alarms = drift_alarms(np.vstack(reference), np.vstack(current), list(names))
    moved = score_alarm(np.asarray(ref_scores), np.asarray(scores))
    if moved is not None:
        alarms.insert(0, moved)
    return HealthReport(version, len(current), len(reference), True, tuple(alarms))


class AlarmWatch:
    """The last check, kept ``CACHE_SECONDS`` (per model version) in this process."""

    def __init__(self, db: Database, clock: Callable[[], float] = time.monotonic) -> None:
        self._db, self._clock = db, clock
        self._lock = threading.Lock()
        self._kept: tuple[float, HealthReport] | None = None

    def report(self, version: str, names: Sequence[str]) -> HealthReport:
        with self._lock:
            kept = self._kept
            if (
                kept is not None
                and kept[1].version == version
                and self._clock() - kept[0] < CACHE_SECONDS
            ):
                return kept[1]
            found = check(self._db, version, names)
            self._kept = (self._clock(), found)
            return found

    def forget(self) -> None:
        """The next report checks again (tests; after a model swap it does by itself)."""
        with self._lock:
            self._kept = None
