"""Benchmark: training on a local Dask cluster beside the single-process run, same data.

``python -m bench train --dask --parcels N [--workers W]``. Each run is a process of its own
(so each peak is its own): the single-process training, then the Dask training with a
LocalCluster of W worker processes (one thread each) started before the clock. Reported:
wall time, the replay step, peak memory of the driver and of each worker (their own
``ru_maxrss``), and the test metrics of both models on the simulator's truth. The data are
simulated at the stress prevalence of the tests (0.5%), so that small sizes train.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from training.simulation import SimulationConfig, simulate, write_simulation

KEY = "bench-key-0123456789"
#: The tests' stress prevalence (ten times the simulator's default): enough seizures to train
#: and compare the two models at every size measured.
PREVALENCE = 0.005


def _peak_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _one(data: str, registry: str, workers: int) -> dict[str, Any]:
    """One training run in this process (workers 0: single process); its figures."""
    from training import run_training

    marks: list[tuple[float, str]] = []
    cluster = None
    if workers:
        from dask.distributed import LocalCluster

        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=":0")  # fmt: skip
    started = time.perf_counter()
    run = run_training(Path(data), Path(registry), KEY, truth=Path(data) / "truth.parquet",
                       validate=False, dask=cluster.scheduler_address if cluster else None,
                       progress=lambda m: marks.append((time.perf_counter(), m)))  # fmt: skip
    seconds = time.perf_counter() - started
    # the replay: from its progress line to the next one
    at = [i for i, (_, message) in enumerate(marks) if message.startswith("replaying")][0]
    replay = marks[at + 1][0] - marks[at][0]
    worker_peaks: list[float] = []
    if cluster is not None:
        from dask.distributed import Client

        with Client(cluster) as client:
            worker_peaks = sorted(client.run(_peak_mib).values())
        cluster.close()
    model = run.metrics["truth"]["model"]
    return {"seconds": seconds, "replay": replay,
            "driver_mib": _peak_mib(), "worker_mib": worker_peaks,
            "roc_auc": model["roc_auc"], "pr_auc": model["pr_auc"],
            "precision@1%": model["precision@1%"]}  # fmt: skip


def _measure(data: Path, registry: Path, workers: int) -> dict[str, Any]:
    call = f"_one({str(data)!r}, {str(registry)!r}, {workers})"
    code = f"import json, sys; from bench.train_dask import _one; json.dump({call}, sys.stdout)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False)  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(" | ".join(done.stderr.strip().splitlines()[-3:]))
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def run(parcels: int = 1_000_000, workers: int = 2) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        write_simulation(simulate(SimulationConfig(parcels=parcels, prevalence=PREVALENCE)), data)
        single = _measure(data, Path(tmp) / "single", 0)
        dask = _measure(data, Path(tmp) / "dask", workers)
    label = f"{parcels:,} parcels"
    rows: list[dict[str, Any]] = [
        {"figure": f"train on Dask ({workers} workers) {label}", "ours": dask["seconds"],
         "baseline": single["seconds"], "unit": "s (baseline: one process, same data)"},
        {"figure": "  history replay step", "ours": dask["replay"], "baseline": single["replay"],
         "unit": "s"},
        {"figure": "peak memory, driver (baseline: the one process)", "ours": dask["driver_mib"],
         "baseline": single["driver_mib"], "unit": "MiB"},
    ]  # fmt: skip
    for i, peak in enumerate(dask["worker_mib"]):
        rows.append({"figure": f"peak memory, worker {i + 1}", "ours": peak, "baseline": None,
                     "unit": "MiB"})  # fmt: skip
    for name in ("roc_auc", "pr_auc", "precision@1%"):
        rows.append({"figure": f"test {name} (truth labels)", "ours": dask[name],
                     "baseline": single[name], "unit": "Dask; baseline one process"})  # fmt: skip
    return rows
