"""Benchmark: simulate and write N parcels; compare with writing random columns of equal size.

Run ``python bench/simulate.py`` (1,000,000 parcels). Goal: under 60 s on 2 cores.
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from training.simulation import SimulationConfig, simulate, write_simulation  # noqa: E402


def _peak_rss_mib() -> float:
    """Peak resident memory of this process (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _baseline_seconds(table: pa.Table, out: Path) -> float:
    """Time for pyarrow to write a table of uniform random columns shaped like ``table``."""
    rng = np.random.default_rng(0)
    n = table.num_rows
    columns = {f"c{i}": rng.random(n) for i in range(len(table.schema))}
    columns["s"] = pa.array(rng.integers(0, 10**12, n)).cast(pa.string())
    start = time.perf_counter()
    pq.write_table(pa.table(columns), out / "baseline.parquet", compression="zstd")
    return time.perf_counter() - start


def run(parcels: int = 1_000_000) -> list[dict]:
    """Rows of figures: total seconds, parcels per second, peak memory, with baselines."""
    config = SimulationConfig(parcels=parcels)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        start = time.perf_counter()
        result = simulate(config)
        simulated = time.perf_counter() - start
        write_simulation(result, out / "sim")
        total = time.perf_counter() - start
        baseline = _baseline_seconds(result.declarations, out)
    return [
        {
            "figure": f"simulate+write {parcels} parcels",
            "ours": round(total, 2),
            "baseline": round(baseline, 2),
            "unit": "s (baseline: write random columns)",
        },
        {"figure": "simulate only", "ours": round(simulated, 2), "baseline": None, "unit": "s"},
        {
            "figure": "throughput",
            "ours": round(parcels / total),
            "baseline": None,
            "unit": "parcels/s",
        },
        {"figure": "peak RSS", "ours": round(_peak_rss_mib()), "baseline": None, "unit": "MiB"},
    ]


if __name__ == "__main__":
    for row in run(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000):
        print(row)
