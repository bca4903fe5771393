"""Benchmark: batch screening end to end (read, validate, features, score, write), peak memory.

The manifest is simulated at ``rows`` parcels; the model is trained on a separate small
simulation (its cost is not measured). Screening runs in a child process so that its peak
memory (ru_maxrss) is its own. Baseline measured in the same run, same file: pandas reads the
numeric columns and XGBoost predicts with a model on them (no contract, no history, no
policy, nothing written).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xgboost

from training import run_training
from training.simulation import SimulationConfig, simulate, write_simulation

KEY = "bench-pseudonymisation-key-0123"
_COLUMNS = ["gross_weight_kg", "declared_value", "postal_charges"]
_SCREEN = """
import json, re, sys, time
from pathlib import Path
from serving.batch import BatchConfig, Capacity, EngineSpec, screen
bundle, manifest, out = sys.argv[1:4]
key = sys.argv[4]
spec = EngineSpec(bundle, Path(bundle).name, pseudonymisation_key=key, secret_key=key)
started = time.perf_counter()
summary = screen(BatchConfig(Path(manifest), Path(out), spec, Capacity.parse("2%"),
                             progress_bar=False))
status = Path("/proc/self/status").read_text()
peak = int(re.search(r"VmHWM:[ \t]+([0-9]+) kB", status).group(1)) / 1024
json.dump({"seconds": time.perf_counter() - started, "rows": summary["rows_scored"],
           "peak_mb": peak}, sys.stdout)
"""


def _baseline(manifest: Path) -> float:
    train = pd.read_parquet(manifest, columns=_COLUMNS).head(50_000)
    y = (np.arange(len(train)) % 100 == 0).astype(np.float32)
    booster = xgboost.train(
        {"objective": "binary:logistic", "nthread": 2, "max_depth": 6, "tree_method": "hist"},
        xgboost.DMatrix(train.to_numpy(np.float32), label=y),
        200,
    )
    started = time.perf_counter()
    frame = pd.read_parquet(manifest, columns=_COLUMNS)
    booster.predict(xgboost.DMatrix(frame.to_numpy(dtype=np.float32)))
    return time.perf_counter() - started


def _screen(bundle: Path, manifest: Path, out: Path) -> tuple[float, float]:
    """Seconds and peak resident memory (MB) of a screening run in a child process.

    The child reports its own high-water mark (VmHWM, reset at exec): ru_maxrss would count
    the parent's pages at fork time, and the parent holds the simulated manifest.
    """
    done = subprocess.run(
        [sys.executable, "-c", _SCREEN, str(bundle), str(manifest), str(out), KEY],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(done.stdout)
    return float(result["seconds"]), float(result["peak_mb"])


def run(rows: int = 1_000_000, memory_rows: int | None = 5_000_000) -> list[dict[str, Any]]:
    """Throughput on ``rows``; peak memory also on ``memory_rows`` (e.g. 5M) if given."""
    out: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        small = SimulationConfig(
            parcels=60_000,
            days=120,
            inspection_rate=0.3,
            random_share=0.3,
            seed=3,
            prevalence=0.005,
        )
        write_simulation(simulate(small), root / "train")
        bundle = run_training(root / "train", root / "registry", KEY, validate=False).bundle
        for size in [rows] + ([memory_rows] if memory_rows else []):
            data = root / f"m{size}"
            manifest = write_simulation(simulate(SimulationConfig(parcels=size, seed=7)), data)[
                "declarations"
            ]
            seconds, peak_mb = _screen(bundle, manifest, root / f"out{size}")
            base = _baseline(manifest)
            ours_rate, base_rate = size / seconds, size / base
            out.append(
                {
                    "figure": f"batch parcels/s ({size:,} rows, end to end)",
                    "ours": round(ours_rate),
                    "baseline": round(base_rate),
                    "unit": "parcels/s",
                    "ratio": round(ours_rate / base_rate, 4),
                }
            )
            out.append(
                {
                    "figure": f"batch peak memory ({size:,} rows)",
                    "ours": round(peak_mb),
                    "baseline": None,
                    "unit": "MB",
                    "ratio": None,
                }
            )
    return out


if __name__ == "__main__":
    json.dump(run(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000), sys.stdout, indent=1)
