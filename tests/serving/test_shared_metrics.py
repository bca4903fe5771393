"""Metrics of several worker processes in the state database: totals survive restarts, and the
rows of long-dead workers are folded into one instead of piling up."""

from __future__ import annotations

import time
from pathlib import Path

from serving import Database
from serving._metrics import Metrics
from serving._shared_metrics import RETIRED, SharedMetrics, add_series, subtract_series


def _worker(db: Database, requests: int, seconds: float, **kwargs: float) -> SharedMetrics:
    metrics = Metrics()
    for k in range(requests):
        metrics.observe_request("/v1/parcels:score", "POST", 200 if k % 4 else 422, seconds)
        metrics.observe_decision("low", "pass", "model", 0.01)
    shared = SharedMetrics(db, metrics, **kwargs)
    shared.publish()
    return shared


def _render(shared: SharedMetrics) -> list[str]:
    text = shared.metrics.render(lambda: ("v1", "h", None, False), shared.others())
    return [line for line in text.splitlines() if line.startswith("parcelscreen_")]


def _rows(db: Database) -> list[str]:
    return sorted(str(r[0]) for r in db.execute("SELECT worker FROM worker_metrics"))


def test_dead_workers_rows_fold_into_one_and_totals_stay(tmp_path: Path) -> None:
    db = Database(tmp_path / "state.db")
    dead = [_worker(db, n, 0.003) for n in (5, 8, 13)]
    live = _worker(db, 2, 0.02, retire_seconds=60)
    before = _render(live)
    assert 'parcelscreen_http_requests_total{method="POST",route="/v1/parcels:score",' \
           'status="200"} 19' in before  # fmt: skip
    assert live.retire() == 0  # nobody silent for a minute yet
    db.execute("UPDATE worker_metrics SET updated_at = ? WHERE worker IN (?, ?)",
               (time.time() - 3600, dead[0].worker, dead[1].worker))  # fmt: skip
    assert live.retire() == 2
    assert _rows(db) == sorted([RETIRED, dead[2].worker, live.worker])
    assert _render(live) == before  # counters and histogram buckets add up the same
    db.execute("UPDATE worker_metrics SET updated_at = ? WHERE worker = ?",
               (time.time() - 3600, dead[2].worker))  # fmt: skip
    assert live.retire() == 1 and live.retire() == 0
    assert _rows(db) == sorted([RETIRED, live.worker])
    assert _render(live) == before


def _backdate(db: Database, *workers: SharedMetrics) -> None:
    db.executemany("UPDATE worker_metrics SET updated_at = ? WHERE worker = ?",
                   [(time.time() - 3600, w.worker) for w in workers])  # fmt: skip


def test_a_worker_retired_while_alive_counts_nothing_twice(tmp_path: Path) -> None:
    """A worker silent past the limit (its store busy, its host suspended) but alive: retired
    by another, it publishes again, and every worker's totals stay right as it counts on."""
    db = Database(tmp_path / "state.db")
    a, b = _worker(db, 5, 0.003), _worker(db, 7, 0.02)
    before = _render(a)
    assert _render(b) == before
    _backdate(db, a)
    assert b.retire() == 1
    a.publish()  # finds its row gone: from now on only what it counts since
    assert _render(a) == _render(b) == before
    a.metrics.observe_request("/v1/parcels:score", "POST", 200, 0.004)
    b.metrics.observe_request("/v1/parcels:score", "POST", 200, 0.004)
    a.publish(), b.publish()
    after = _render(a)
    assert _render(b) == after != before
    series = 'parcelscreen_http_requests_total{method="POST",route="/v1/parcels:score",'
    assert f'{series}status="200"}} 8' in before and f'{series}status="200"}} 10' in after
    _backdate(db, a)  # retired a second time
    assert b.retire() == 1
    a.publish()
    assert _render(a) == _render(b) == after


def test_add_series_adds_counters_and_histograms_label_by_label() -> None:
    a = {"requests": [[[["route", "/a"]], 2.0]], "latency": [[[["route", "/a"]], [1, 0, 0.5, 1]]]}
    b = {"requests": [[[["route", "/a"]], 3.0], [[["route", "/b"]], 1.0]],
         "latency": [[[["route", "/a"]], [0, 2, 0.25, 2]]], "swaps": [[[["result", "ok"]], 1.0]]}
    total = add_series(a, b)
    assert sorted(map(str, total["requests"])) == sorted(
        map(str, [[[["route", "/a"]], 5.0], [[["route", "/b"]], 1.0]]))
    assert total["latency"] == [[[["route", "/a"]], [1, 2, 0.75, 3]]]
    assert total["swaps"] == [[[["result", "ok"]], 1.0]]
    back = subtract_series(total, b)
    assert back["latency"] == a["latency"] and back["swaps"] == [[[["result", "ok"]], 0.0]]
    assert sorted(map(str, back["requests"])) == sorted(
        map(str, [[[["route", "/a"]], 2.0], [[["route", "/b"]], 0.0]]))
