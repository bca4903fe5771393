"""Benchmark: TreeExplainerTables against XGBoost pred_contribs and shap.TreeExplainer.

Trains a model shaped like the project's (65 features, depth 6, 300 trees, NaNs in the data)
on synthetic rows, then measures in the same run: one-row latency p50/p99 (ours vs
pred_contribs, one thread), batch rows/s (ours vs pred_contribs nthread=2 and vs
shap.TreeExplainer) and the memory of the tables. ``python -m bench.explain [rows]``.
"""

from __future__ import annotations

import sys
import time
import warnings
from collections.abc import Callable

import numpy as np
import xgboost as xgb

from screening import TreeExplainerTables

FEATURES = 65
DEPTH = 6
TREES = 300
LATENCY_ROWS = 300


def _model(seed: int = 0) -> tuple[xgb.Booster, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(20_000, FEATURES)).astype(np.float32)
    x[:, -8:] = rng.integers(0, 6, size=(20_000, 8))  # categorical-coded, uninformative
    x[rng.random(x.shape) < 0.1] = np.nan
    signal = np.nan_to_num(x[:, :10]).sum(axis=1) + 2 * rng.normal(size=len(x))
    params = {
        "max_depth": DEPTH,
        "eta": 0.08,
        "objective": "binary:logistic",
        "min_child_weight": 2.0,
        "nthread": 2,
    }
    booster = xgb.train(params, xgb.DMatrix(x, (signal > 0).astype(float)), TREES)
    return booster, x


def _rows(x: np.ndarray, rows: int) -> np.ndarray:
    return x[np.random.default_rng(1).integers(0, len(x), rows)]


def _latencies(call: Callable[[np.ndarray], object], rows: np.ndarray) -> np.ndarray:
    out = []
    for row in rows:
        start = time.perf_counter()
        call(row[None, :])
        out.append(time.perf_counter() - start)
    return np.asarray(out) * 1e6


def _throughput(call: Callable[[np.ndarray], object], rows: np.ndarray) -> float:
    start = time.perf_counter()
    call(rows)
    return len(rows) / (time.perf_counter() - start)


def _figure(name: str, ours: float, baseline: float, unit: str, higher_better: bool) -> dict:
    ratio = ours / baseline if higher_better else baseline / ours
    return {
        "figure": name,
        "ours": round(ours, 1),
        "baseline": round(baseline, 1),
        "unit": unit,
        "ratio": f"{ratio:.1f}x",
    }


def run(rows: int = 100_000, baseline_rows: int = 10_000) -> list[dict]:
    """Measure all figures in one run; ``rows`` is the batch size.

    The baselines explain a few hundred rows a second, so their rates are measured on the
    first ``baseline_rows`` rows of the same batch (a rate does not depend on the count).
    """
    booster, x = _model()
    ours = TreeExplainerTables.from_booster(booster, FEATURES)
    one_thread = booster.copy()
    one_thread.set_param({"nthread": 1})
    two_threads = booster.copy()
    two_threads.set_param({"nthread": 2})
    single = _rows(x, LATENCY_ROWS)
    batch = _rows(x, rows)

    def xgb_contribs(booster_: xgb.Booster) -> Callable[[np.ndarray], object]:
        return lambda m: booster_.predict(xgb.DMatrix(m, missing=np.nan), pred_contribs=True)

    ours_lat = _latencies(ours.contributions, single)
    xgb_lat = _latencies(xgb_contribs(one_thread), single)
    figures = [
        _figure(
            "one row p50",
            float(np.percentile(ours_lat, 50)),
            float(np.percentile(xgb_lat, 50)),
            "us",
            False,
        ),
        _figure(
            "one row p99",
            float(np.percentile(ours_lat, 99)),
            float(np.percentile(xgb_lat, 99)),
            "us",
            False,
        ),
    ]
    ours_rate = _throughput(ours.contributions, batch)
    figures.append(
        _figure(
            f"batch {rows} rows vs pred_contribs nthread=2",
            ours_rate,
            _throughput(xgb_contribs(two_threads), batch[:baseline_rows]),
            "rows/s",
            True,
        )
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # shap's import-time deprecation noise
        import shap

        explainer = shap.TreeExplainer(two_threads, feature_perturbation="tree_path_dependent")
        shap_rate = _throughput(lambda m: explainer.shap_values(m), batch[:baseline_rows])
    figures.append(
        _figure(f"batch {rows} rows vs shap.TreeExplainer", ours_rate, shap_rate, "rows/s", True)
    )
    booster_mb = len(booster.save_raw("ubj")) / 1e6
    figures.append(
        {
            "figure": "table memory (depth 6, 300 trees) vs booster.ubj",
            "ours": round(ours.nbytes / 1e6, 2),
            "baseline": round(booster_mb, 2),
            "unit": "MB",
            "ratio": f"{ours.nbytes / 1e6 / booster_mb:.1f}x",
        }
    )
    return figures


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    figures = run(rows)
    print(f"{'figure':<52} {'ours':>12} {'baseline':>12} {'unit':>7} {'ratio':>7}")
    for f in figures:
        print(
            f"{f['figure']:<52} {f['ours']:>12} {f['baseline']:>12} {f['unit']:>7} {f['ratio']:>7}"
        )


if __name__ == "__main__":
    main()
