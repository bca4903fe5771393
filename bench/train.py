"""Benchmark: features + training + ONNX export for N simulated parcels, with peak memory.

Baseline measured in the same run: pandas reads the same declarations and XGBoost (same
rounds, same threads) fits on the plain numeric columns, no history, no export.
"""

from __future__ import annotations

import resource
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xgboost

from training import TrainConfig, run_training
from training.simulation import SimulationConfig, simulate, write_simulation


def _baseline(data: Path, rounds: int) -> float:
    started = time.perf_counter()
    frame = pd.read_parquet(
        data / "declarations.parquet",
        columns=["gross_weight_kg", "declared_value", "postal_charges"],
    )
    y = np.zeros(len(frame))
    y[:: max(len(frame) // 500, 1)] = 1
    matrix = xgboost.DMatrix(frame.to_numpy(dtype=np.float32), label=y)
    xgboost.train(
        {"objective": "binary:logistic", "nthread": 2, "max_depth": 6, "tree_method": "hist"},
        matrix,
        num_boost_round=rounds,
    )
    return time.perf_counter() - started


def run(
    parcels: int = 1_000_000, dask: bool = False, workers: int = 2, seeds: str | None = None
) -> list[dict[str, Any]]:
    if dask:  # on a local Dask cluster beside one process (bench/train_dask.py)
        from .train_dask import run as run_dask

        return run_dask(parcels, workers, seeds)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        write_simulation(simulate(SimulationConfig(parcels=parcels)), data)
        marks: list[tuple[float, str]] = []
        started = time.perf_counter()
        run_ = run_training(
            data,
            Path(tmp) / "registry",
            "bench-key-0123456789",
            config=TrainConfig(),
            validate=False,
            progress=lambda m: marks.append((time.perf_counter(), m)),
        )
        total = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        rounds = int(run_.metrics.get("best_iteration", 0)) or 100
        baseline = _baseline(data, rounds)
    rows: list[dict[str, Any]] = [
        {
            "figure": f"features+train+export {parcels:,} parcels",
            "ours": total,
            "baseline": baseline,
            "unit": "s (baseline: pandas read + XGBoost fit)",
        },
        {"figure": "peak memory (whole process)", "ours": peak, "baseline": None, "unit": "MiB"},
    ]
    previous = started
    for at, message in marks:
        rows.append(
            {
                "figure": f"  step until: {message[:40]}",
                "ours": at - previous,
                "baseline": None,
                "unit": "s",
            }
        )
        previous = at
    return rows
