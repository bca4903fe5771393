"""Metrics of several worker processes in one directory (prometheus_client's multiprocess
mode): a scrape sums every worker's counts and writes nothing; a dead worker's counts stay in
the totals and its drift window goes; a new run starts from zero."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from screening._drift import reference_histogram
from serving._metrics import Metrics

pytestmark = pytest.mark.slow

REFERENCE = reference_histogram(np.linspace(0, 1, 1000))
WORKER = """
import sys
from serving._metrics import Metrics
metrics = Metrics(sys.argv[1])
for k in range(int(sys.argv[2])):
    metrics.observe_request("/v1/parcels:score", "POST", 200 if k % 4 else 422, 0.003)
    metrics.observe_decision("low", "pass", "model", 0.25)
metrics.swaps.inc(result="loaded")
print("counted", flush=True)
sys.stdin.readline()  # alive until told; then it ends without closing anything (a crash)
"""


class Worker:
    """Another worker process that counts ``n`` requests and decisions, then waits."""

    def __init__(self, directory: Path, n: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", WORKER, str(directory), str(n)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None and self.proc.stdout.readline() == "counted\n"

    def end(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=30)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def _samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = metrics.render(lambda: ("v1", "abc", REFERENCE, False))
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _requests(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float]) -> float:
    return sum(v for (name, _), v in samples.items() if name == "parcelscreen_http_requests_total")


def _snapshot(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir())}


def test_a_scrape_sums_every_worker_and_writes_nothing(tmp_path: Path) -> None:
    directory = tmp_path / "metrics"
    mine = Metrics(directory)
    mine.observe_request("/v1/status", "GET", 200, 0.001)
    a, b = Worker(directory, 5), Worker(directory, 7)
    try:
        before = _snapshot(directory)
        mtimes = {p.name: p.stat().st_mtime_ns for p in directory.iterdir()}
        samples = _samples(mine)
        assert _samples(mine) == samples  # and again: the same
        assert _snapshot(directory) == before
        assert {p.name: p.stat().st_mtime_ns for p in directory.iterdir()} == mtimes
        assert _requests(samples) == 1 + 5 + 7
        key = (
            "parcelscreen_decisions_total",
            (("band", "low"), ("decision", "pass"), ("mode", "model")),
        )
        assert samples[key] == 12
        assert samples[("parcelscreen_score_window", ())] == 12  # both live windows

        a.end()  # a worker dies: its counts stay in the totals, its scores leave the window
        samples = _samples(mine)
        assert _requests(samples) == 13 and samples[key] == 12
        assert samples[("parcelscreen_score_window", ())] == 7
        assert samples[("parcelscreen_model_swaps_total", (("result", "loaded"),))] == 2

        c = Worker(directory, 3)  # its replacement clears what described the dead process
        pid = a.proc.pid
        assert not (directory / f"scores_{pid}.f32").exists()
        assert not (directory / f"alive_{pid}.lock").exists()
        assert (directory / f"counter_{pid}.db").exists()
        assert _requests(_samples(mine)) == 16
        c.end()
    finally:
        b.end()
        mine.close()
    fresh = Metrics(directory)  # no worker left alive: a new run, counted from zero
    try:
        assert _requests(_samples(fresh)) == 0
        assert sorted(p.suffix for p in directory.iterdir()) == [".f32", ".lock", ".lock"]
    finally:
        fresh.close()


def test_the_exposition_keeps_every_metric_name_and_label(tmp_path: Path) -> None:
    """The series dashboards read, as the hand-written exposition named them."""
    metrics = Metrics(tmp_path / "metrics")
    try:
        metrics.observe_request("/v1/parcels:score", "POST", 200, 0.004)
        metrics.observe_decision("high", "open", "model", 0.9)
        metrics.swaps.inc(result="refused")
        names = {(name, tuple(k for k, _ in labels)) for name, labels in _samples(metrics)}
    finally:
        metrics.close()
    assert names == {
        ("parcelscreen_http_requests_total", ("method", "route", "status")),
        ("parcelscreen_http_request_duration_seconds_bucket", ("le", "route", "status")),
        ("parcelscreen_http_request_duration_seconds_sum", ("route", "status")),
        ("parcelscreen_http_request_duration_seconds_count", ("route", "status")),
        ("parcelscreen_decisions_total", ("band", "decision", "mode")),
        ("parcelscreen_model_swaps_total", ("result",)),
        ("parcelscreen_model_info", ("bundle_hash", "version")),
        ("parcelscreen_halted", ()),
        ("parcelscreen_score_psi", ()),
        ("parcelscreen_score_window", ()),
    }


def test_services_of_one_process_keep_their_directories_apart(tmp_path: Path) -> None:
    first, second = Metrics(tmp_path / "a"), Metrics(tmp_path / "b")
    again = Metrics(tmp_path / "a")  # a second service over the first one's directory
    try:
        first.observe_request("/v1/status", "GET", 200, 0.001)
        again.observe_request("/v1/status", "GET", 200, 0.001)
        second.observe_request("/v1/status", "GET", 200, 0.001)
        assert _requests(_samples(first)) == _requests(_samples(again)) == 2
        assert _requests(_samples(second)) == 1
    finally:
        for metrics in (first, second, again):
            metrics.close()
