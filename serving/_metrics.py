"""Prometheus text exposition (format 0.0.4) without a client library: counters, histograms,
gauges, and the PSI of recent scores against the bundle's reference histogram.

With several worker processes each keeps its own counts and :class:`SharedMetrics` publishes
them to the state database; ``/metrics`` then renders the sum over every worker, whichever
worker answers."""

from __future__ import annotations

import bisect
import threading
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from screening import psi

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
Labels = tuple[tuple[str, str], ...]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _fmt(labels: Labels, extra: Labels = ()) -> str:
    pairs = (*labels, *extra)
    if not pairs:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in pairs) + "}"


class Counter:
    def __init__(self, name: str, help_text: str) -> None:
        self.name, self.help = name, help_text
        self._values: dict[Labels, float] = {}
        self._lock = threading.Lock()

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount

    def value(self, **labels: str) -> float:
        return self._values.get(tuple(sorted(labels.items())), 0.0)

    def export(self) -> list[list[Any]]:
        with self._lock:
            return [[list(map(list, labels)), value] for labels, value in self._values.items()]

    def render(self, others: Iterable[list[list[Any]]] = ()) -> Iterable[str]:
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} counter"
        with self._lock:
            values = dict(self._values)
        for exported in others:
            for labels, value in exported:
                key = tuple((str(k), str(v)) for k, v in labels)
                values[key] = values.get(key, 0.0) + float(value)
        for labels, value in sorted(values.items()):
            yield f"{self.name}{_fmt(labels)} {value:g}"


class Histogram:
    def __init__(self, name: str, help_text: str, buckets: tuple[float, ...]) -> None:
        self.name, self.help, self.buckets = name, help_text, buckets
        self._values: dict[Labels, list[float]] = {}  # bucket counts..., sum, count
        self._lock = threading.Lock()

    def observe(self, value: float, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        with self._lock:
            row = self._values.setdefault(key, [0.0] * (len(self.buckets) + 2))
            index = bisect.bisect_left(self.buckets, value)
            if index < len(self.buckets):
                row[index] += 1
            row[-2] += value
            row[-1] += 1

    def export(self) -> list[list[Any]]:
        with self._lock:
            return [[list(map(list, labels)), list(row)] for labels, row in self._values.items()]

    def render(self, others: Iterable[list[list[Any]]] = ()) -> Iterable[str]:
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} histogram"
        with self._lock:
            values = {labels: list(row) for labels, row in self._values.items()}
        for exported in others:
            for labels, row in exported:
                key = tuple((str(k), str(v)) for k, v in labels)
                mine = values.setdefault(key, [0.0] * (len(self.buckets) + 2))
                if len(row) == len(mine):
                    values[key] = [a + float(b) for a, b in zip(mine, row, strict=True)]
        for labels, row in sorted(values.items()):
            cumulative = 0.0
            for bound, count in zip(self.buckets, row, strict=False):
                cumulative += count
                le = _fmt(labels, (("le", f"{bound:g}"),))
                yield f"{self.name}_bucket{le} {cumulative:g}"
            yield f"{self.name}_bucket{_fmt(labels, (('le', '+Inf'),))} {row[-1]:g}"
            yield f"{self.name}_sum{_fmt(labels)} {row[-2]:g}"
            yield f"{self.name}_count{_fmt(labels)} {row[-1]:g}"


class Metrics:
    """The service's metrics; ``render`` gives the /metrics text."""

    def __init__(self, window: int = 5000) -> None:
        self.requests = Counter("parcelscreen_http_requests_total", "HTTP requests.")
        self.latency = Histogram("parcelscreen_http_request_duration_seconds",
                                 "HTTP request latency.", LATENCY_BUCKETS)  # fmt: skip
        self.decisions = Counter("parcelscreen_decisions_total", "Scored parcels by band, "
                                 "decision and mode.")  # fmt: skip
        self.swaps = Counter("parcelscreen_model_swaps_total", "Model reloads by result.")
        self._scores: deque[float] = deque(maxlen=window)
        self._lock = threading.Lock()

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests.inc(route=route, method=method, status=str(status))
        self.latency.observe(seconds, route=route, status=str(status))

    def observe_decision(self, band: str, decision: str, mode: str, probability: float) -> None:
        self.decisions.inc(band=band, decision=decision, mode=mode)
        with self._lock:
            self._scores.append(probability)

    def _series(self) -> dict[str, Counter | Histogram]:
        return {"requests": self.requests, "latency": self.latency,
                "decisions": self.decisions, "swaps": self.swaps}  # fmt: skip

    def export(self) -> dict[str, Any]:
        """This process's counts and recent scores, for :class:`SharedMetrics`."""
        with self._lock:
            scores = np.fromiter(self._scores, dtype=np.float32)
        return {"series": {name: series.export() for name, series in self._series().items()},
                "scores": scores.tobytes()}  # fmt: skip

    def render(self, info: Callable[[], tuple[str, str, dict[str, object] | None, bool]],
               others: Sequence[dict[str, Any]] = ()) -> str:  # fmt: skip
        """The exposition text: this process's counts plus ``others`` (other workers')."""
        version, bundle_hash, reference, halted = info()
        model_labels = _fmt((("bundle_hash", bundle_hash), ("version", version)))
        lines = [line for name, series in self._series().items() for line in series.render(
            o["series"].get(name, []) for o in others)]  # fmt: skip
        lines += ["# HELP parcelscreen_model_info The model being served.",
                  "# TYPE parcelscreen_model_info gauge",
                  f"parcelscreen_model_info{model_labels} 1",
                  "# HELP parcelscreen_halted 1 while model-based selection is halted.",
                  "# TYPE parcelscreen_halted gauge",
                  f"parcelscreen_halted {int(halted)}"]  # fmt: skip
        with self._lock:
            scores = np.fromiter(self._scores, dtype=np.float64)
        if others:
            theirs = [np.frombuffer(o["scores"], dtype=np.float32) for o in others]
            scores = np.concatenate([scores, *(t.astype(np.float64) for t in theirs)])
        if reference is not None and len(scores):
            lines += ["# HELP parcelscreen_score_psi PSI of recent scores against the "
                      "bundle's validation reference (above 0.2: material shift).",
                      "# TYPE parcelscreen_score_psi gauge",
                      f"parcelscreen_score_psi {psi(reference, scores):.6g}",
                      "# HELP parcelscreen_score_window Recent scores in the PSI window.",
                      "# TYPE parcelscreen_score_window gauge",
                      f"parcelscreen_score_window {len(scores)}"]  # fmt: skip
        return "\n".join(lines) + "\n"
