"""The service's Prometheus metrics, kept with ``prometheus_client`` in its multiprocess mode:
requests, latency, decisions by band and model swaps, summed over every worker process;
the model served, the halt switch, the PSI of recent scores against the bundle's reference
histogram, and the drift monitor's alarms (``serving._alarms``: one gauge per firing alarm,
none while all is steady). Where the files live and how workers come and go:
``_shared_metrics``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client import Counter as _PromCounter
from prometheus_client import Histogram as _PromHistogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

from screening import psi

from ._alarms import HealthReport
from ._shared_metrics import MetricsDirectory

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
#: version, bundle hash, the bundle's score reference (None: no model) and the halt switch
Info = Callable[[], tuple[str, str, dict[str, object] | None, bool]]
#: The drift monitor's check of the model served (None: no model)
Alarms = Callable[[], HealthReport | None]


class _Labelled:
    """A prometheus_client metric whose labelled children keep their values in the service's
    metrics directory; children are looked up by their label values, in label order."""

    def __init__(self, metric: Any, directory: MetricsDirectory) -> None:
        self._metric, self._directory = metric, directory
        self._names: tuple[str, ...] = metric._labelnames
        self._children: dict[tuple[str, ...], Any] = {}

    def child(self, *values: str) -> Any:
        found = self._children.get(values)
        if found is None:
            with self._directory.binding():
                found = self._children[values] = self._metric.labels(*values)
        return found

    def _ordered(self, labels: dict[str, str]) -> tuple[str, ...]:
        return tuple(str(labels[name]) for name in self._names)


class Counter(_Labelled):
    def inc(self, amount: float = 1.0, **labels: str) -> None:
        self.child(*self._ordered(labels)).inc(amount)


class Histogram(_Labelled):
    def observe(self, value: float, **labels: str) -> None:
        self.child(*self._ordered(labels)).observe(value)


class Metrics:
    """The service's metrics; ``render`` gives the /metrics text of every worker together."""

    def __init__(self, directory: Path, window: int = 5000) -> None:
        self.directory = MetricsDirectory.open(directory, window)
        d = self.directory
        self.requests = Counter(
            _PromCounter(
                "parcelscreen_http_requests",
                "HTTP requests.",
                ("method", "route", "status"),
                registry=None,
            ),
            d,
        )
        self.latency = Histogram(
            _PromHistogram(
                "parcelscreen_http_request_duration_seconds",
                "HTTP request latency.",
                ("route", "status"),
                registry=None,
                buckets=LATENCY_BUCKETS,
            ),
            d,
        )
        self.decisions = Counter(
            _PromCounter(
                "parcelscreen_decisions",
                "Scored parcels by band, decision and mode.",
                ("band", "decision", "mode"),
                registry=None,
            ),
            d,
        )
        self.swaps = Counter(
            _PromCounter(
                "parcelscreen_model_swaps", "Model reloads by result.", ("result",), registry=None
            ),
            d,
        )

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        code = str(status)
        self.requests.child(method, route, code).inc()
        self.latency.child(route, code).observe(seconds)

    def observe_decision(self, band: str, decision: str, mode: str, probability: float) -> None:
        self.decisions.child(band, decision, mode).inc()
        self.directory.add_score(probability)

    def render(self, info: Info, alarms: Alarms = lambda: None) -> str:
        """The exposition text: every worker's counts, read from their files (nothing is
        written), and the model, halt switch and drift as this worker sees them."""
        registry = CollectorRegistry(auto_describe=False)
        MultiProcessCollector(registry, path=str(self.directory.path))
        registry.register(_Served(info, self.directory, alarms))
        return generate_latest(registry).decode()

    def close(self) -> None:
        self.directory.close()


class _Served:
    """Gauges computed at the scrape: the model served, the halt switch, the drift."""

    def __init__(self, info: Info, directory: MetricsDirectory, alarms: Alarms) -> None:
        self._info, self._directory, self._alarms = info, directory, alarms

    def collect(self) -> Iterator[Metric]:
        version, bundle_hash, reference, halted = self._info()
        model = GaugeMetricFamily(
            "parcelscreen_model_info", "The model being served.", labels=("bundle_hash", "version")
        )
        model.add_metric((bundle_hash, version), 1)
        yield model
        yield GaugeMetricFamily(
            "parcelscreen_halted", "1 while model-based selection is halted.", value=int(halted)
        )
        scores = self._directory.recent_scores()
        if reference is not None and len(scores):
            yield GaugeMetricFamily(
                "parcelscreen_score_psi",
                "PSI of recent scores against "
                "the bundle's validation reference (above 0.2: material "
                "shift).",
                value=psi(reference, scores),
            )
            yield GaugeMetricFamily(
                "parcelscreen_score_window", "Recent scores in the PSI window.", value=len(scores)
            )
        yield from _alarm_gauges(self._alarms())


def _alarm_gauges(report: HealthReport | None) -> Iterator[Metric]:
    """The drift monitor's check: whether it measured, its windows, and the alarms firing."""
    if report is None:
        return
    yield GaugeMetricFamily(
        "parcelscreen_drift_measured",
        "1 when the last 24 hours and the "
        "same hours of the 4 weeks before hold enough results to compare.",
        value=int(report.measured),
    )
    rows = GaugeMetricFamily(
        "parcelscreen_drift_window_rows", "Results compared (a sample).", labels=("window",)
    )
    rows.add_metric(("current",), report.current_rows)
    rows.add_metric(("reference",), report.reference_rows)
    yield rows
    yield GaugeMetricFamily(
        "parcelscreen_drift_alarms",
        "Drift alarms firing (significant and material shifts of the score or a declared field).",
        value=len(report.alarms),
    )
    firing = GaugeMetricFamily(
        "parcelscreen_drift_alarm",
        "PSI of each shift that alarms (feature 'score': the score's distribution).",
        labels=("feature",),
    )
    for alarm in report.alarms:
        firing.add_metric((alarm.feature,), alarm.psi)
    yield firing
