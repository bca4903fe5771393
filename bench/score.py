"""In-process latency of scoring one parcel, beside XGBoost predicting the same feature row.

Ours: the whole path for one raw declaration (a dict as parsed from JSON): contract
validation, pseudonymisation and features (with entity history), ONNX score, calibration and
the decision, without explanations (the service adds SHAP reasons only to flagged parcels).
Baseline, measured in the same run on the same rows: XGBoost ``inplace_predict`` of the
already computed feature row, the model alone, which is the floor any serving path pays.
A second pair compares the model step alone: our ONNX session against the same booster.
Single thread, one parcel per call; after ``warm`` calls the next ``n`` are timed.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

KEY = "bench-pseudonymisation-key-0123"


def _timed(calls: list[Callable[[], object]], warm: int) -> np.ndarray:
    times = []
    for call in calls:
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return np.array(times[warm:]) * 1e3


def _percentiles(lat: np.ndarray) -> dict[str, float]:
    return {"p50": float(np.percentile(lat, 50)), "p99": float(np.percentile(lat, 99))}


def measure(
    registry: Path, decls: list[dict[str, Any]], n: int, warm: int
) -> dict[str, dict[str, float]]:
    from data_contracts import ParcelDeclaration, validate_one
    from screening import (
        DecisionPolicy,
        History,
        LoadedModel,
        ModelRegistry,
        Pseudonymiser,
        ScoringEngine,
    )

    model = LoadedModel.load(ModelRegistry(registry).path("champion"))
    engine = ScoringEngine(model, History(), Pseudonymiser(KEY), DecisionPolicy(), b"k" * 32)
    rows = [decls[i % len(decls)] for i in range(n + warm)]
    features: list[np.ndarray] = []

    def ours(raw: dict[str, Any]) -> Callable[[], object]:
        def call() -> object:
            decl, _ = validate_one(ParcelDeclaration, raw)
            assert decl is not None
            (parcel,) = engine.score_declarations([decl], explain="none")
            features.append(parcel.features)
            return parcel.verdict

        return call

    full = _timed([ours(raw) for raw in rows], warm)
    matrices = [np.asarray(f, dtype=np.float32)[None, :] for f in features]
    booster = model.booster
    xgb = _timed([lambda m=m: booster.inplace_predict(m) for m in matrices], warm)
    onnx = _timed([lambda m=m: model.margin(m) for m in matrices], warm)
    return {"ours": _percentiles(full), "xgboost": _percentiles(xgb), "onnx": _percentiles(onnx)}


def run(n: int = 5000, warm: int = 500, parcels: int = 30_000) -> list[dict[str, Any]]:
    from training import run_training
    from training.simulation import SimulationConfig, simulate, write_simulation

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        config = SimulationConfig(
            parcels=parcels, inspection_rate=0.3, random_share=0.3, seed=3, prevalence=0.005
        )  # enough seizures to train on
        write_simulation(simulate(config), work / "data")
        run_training(work / "data", work / "registry", KEY, validate=False)
        table = pq.read_table(work / "data" / "declarations.parquet").slice(0, 5000)
        decls = [
            json.loads(json.dumps(r, default=lambda o: o.isoformat())) for r in table.to_pylist()
        ]
        figures = measure(work / "registry", decls, n, warm)

    def row(figure: str, ours: float, base: float) -> dict[str, Any]:
        return {
            "figure": figure,
            "ours": round(ours, 4),
            "baseline": round(base, 4),
            "unit": "ms",
            "ratio": f"{ours / base:.2g}x",
        }

    o, x, m = figures["ours"], figures["xgboost"], figures["onnx"]
    return [
        row(
            "one parcel validate+features+score+decide p50 (vs XGBoost predict)", o["p50"], x["p50"]
        ),
        row(
            "one parcel validate+features+score+decide p99 (vs XGBoost predict)", o["p99"], x["p99"]
        ),
        row("model step alone: ONNX margin p50 (vs XGBoost predict)", m["p50"], x["p50"]),
        row("model step alone: ONNX margin p99 (vs XGBoost predict)", m["p99"], x["p99"]),
    ]


if __name__ == "__main__":
    for r in run(int(sys.argv[1]) if len(sys.argv) > 1 else 5000):
        print(json.dumps(r))
