"""Model quality on simulated data: full labels vs selective labels vs oracle vs rules.

Two data sets from the same simulator settings and seed: one where every parcel is inspected
(every label known), one under the default policy (3% inspected, 10% of it random control).
A model is trained on each and scored on its own test period against the truth file.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from training import run_training
from training.metrics import DEFAULT_FRACTIONS, fraction_label
from training.simulation import SimulationConfig, simulate, write_simulation


def _train(config: SimulationConfig, work: Path, name: str) -> dict[str, Any]:
    data = work / name
    write_simulation(simulate(config), data)
    run = run_training(data, work / f"registry-{name}", "bench-key-0123456789",
                       truth=data / "truth.parquet", validate=False)  # fmt: skip
    return run.metrics["truth"] | {"seconds": run.seconds}


def run(parcels: int = 200_000, days: int = 120, seed: int = 7) -> list[dict[str, Any]]:
    base = SimulationConfig(parcels=parcels, days=days, seed=seed)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        every_label = SimulationConfig(parcels=parcels, days=days, seed=seed,
                                       inspection_rate=1.0, random_share=1.0)  # fmt: skip
        full = _train(every_label, work, "full")
        selective = _train(base, work, "selective")
    rows: list[dict[str, Any]] = []
    for f in DEFAULT_FRACTIONS:
        key = f"precision@{fraction_label(f)}"
        oracle, model, sel = full["oracle"][key], full["model"][key], selective["model"][key]
        rows += [
            {"figure": f"P@{fraction_label(f)} full labels vs oracle", "ours": model,
             "baseline": oracle, "unit": "precision"},
            {"figure": f"P@{fraction_label(f)} selective vs full labels", "ours": sel,
             "baseline": model, "unit": "precision"},
            {"figure": f"P@{fraction_label(f)} full labels vs rules", "ours": model,
             "baseline": full["rules"][key], "unit": "precision"},
        ]  # fmt: skip
    rows.append({"figure": "calibration error (ECE) full labels", "ours": full["calibration_error"],
                 "baseline": None, "unit": "abs"})  # fmt: skip
    for row in rows:
        base_value = row["baseline"]
        row["ratio"] = f"{row['ours'] / base_value:.2f}x" if base_value else ""
    return rows


if __name__ == "__main__":
    started = time.perf_counter()
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    for row in run(n):
        baseline = "" if row["baseline"] is None else f"{row['baseline']:.3f}"
        print(f"{row['figure']:45s} {row['ours']:.3f} {baseline:>8s} {row['ratio']:>7s}")
    print(f"({time.perf_counter() - started:.0f} s)")
