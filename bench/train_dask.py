"""Benchmark: training on a local Dask cluster beside the single-process run, same data.

``python -m bench train --dask --parcels N [--workers W]``. Each run is a process of its own
(so each peak is its own): the single-process training, then the Dask training with a
LocalCluster of W worker processes (one thread each) started before the clock. Reported:
wall time, the replay step, peak memory of the driver and of each worker (their own
``ru_maxrss``), and the test metrics of both models on the simulator's truth. The data are
simulated at the stress prevalence of the tests (0.5%), so that small sizes train. With
``--seeds 1,2,3,4,5`` the two models' test metrics over five simulation seeds instead.
"""

from __future__ import annotations

import json
import statistics
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

        cluster = LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0"
        )
    started = time.perf_counter()
    run = run_training(
        Path(data),
        Path(registry),
        KEY,
        truth=Path(data) / "truth.parquet",
        validate=False,
        dask=cluster.scheduler_address if cluster else None,
        progress=lambda m: marks.append((time.perf_counter(), m)),
    )
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
    return {
        "seconds": seconds,
        "replay": replay,
        "driver_mib": _peak_mib(),
        "worker_mib": worker_peaks,
        "roc_auc": model["roc_auc"],
        "pr_auc": model["pr_auc"],
        "precision@1%": model["precision@1%"],
    }


def _measure(data: Path, registry: Path, workers: int) -> dict[str, Any]:
    call = f"_one({str(data)!r}, {str(registry)!r}, {workers})"
    code = f"import json, sys; from bench.train_dask import _one; json.dump({call}, sys.stdout)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(" | ".join(done.stderr.strip().splitlines()[-3:]))
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def run(
    parcels: int = 1_000_000, workers: int = 2, seeds: str | None = None
) -> list[dict[str, Any]]:
    """Time and memory at one size; with ``seeds`` (a comma list) the two models' test
    metrics over those simulation seeds instead."""
    if seeds:
        return _seed_rows(parcels, workers, [int(s) for s in seeds.split(",")])
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        write_simulation(simulate(SimulationConfig(parcels=parcels, prevalence=PREVALENCE)), data)
        single = _measure(data, Path(tmp) / "single", 0)
        dask = _measure(data, Path(tmp) / "dask", workers)
    label = f"{parcels:,} parcels"
    rows: list[dict[str, Any]] = [
        {
            "figure": f"train on Dask ({workers} workers) {label}",
            "ours": dask["seconds"],
            "baseline": single["seconds"],
            "unit": "s (baseline: one process, same data)",
        },
        {
            "figure": "  history replay step",
            "ours": dask["replay"],
            "baseline": single["replay"],
            "unit": "s",
        },
        {
            "figure": "peak memory, driver (baseline: the one process)",
            "ours": dask["driver_mib"],
            "baseline": single["driver_mib"],
            "unit": "MiB",
        },
    ]
    for i, peak in enumerate(dask["worker_mib"]):
        rows.append(
            {
                "figure": f"peak memory, worker {i + 1}",
                "ours": peak,
                "baseline": None,
                "unit": "MiB",
            }
        )
    for name in ("roc_auc", "pr_auc", "precision@1%"):
        rows.append(
            {
                "figure": f"test {name} (truth labels)",
                "ours": dask[name],
                "baseline": single[name],
                "unit": "Dask; baseline one process",
            }
        )
    return rows


def _seed_rows(parcels: int, workers: int, seeds: list[int]) -> list[dict[str, Any]]:
    """Both models on each seed's simulated data (the simulator's seed): min / median / max
    of each test metric, and of the difference between them."""
    from dask.distributed import LocalCluster

    from training import run_training

    names = ("roc_auc", "pr_auc", "precision@1%")
    got: dict[str, list[list[float]]] = {name: [[], []] for name in names}
    with (
        tempfile.TemporaryDirectory() as tmp,
        LocalCluster(n_workers=workers, threads_per_worker=1, dashboard_address=":0") as cluster,
    ):
        for seed in seeds:
            data = Path(tmp) / f"data-{seed}"
            config = SimulationConfig(parcels=parcels, prevalence=PREVALENCE, seed=seed)
            write_simulation(simulate(config), data)
            for i, where in enumerate((None, cluster.scheduler_address)):
                run = run_training(
                    data,
                    Path(tmp) / f"reg-{seed}-{i}",
                    KEY,
                    validate=False,
                    truth=data / "truth.parquet",
                    dask=where,
                )
                for name in names:
                    got[name][i].append(float(run.metrics["truth"]["model"][name]))

    def spread(values: list[float]) -> str:
        return f"{min(values):.4f} / {statistics.median(values):.4f} / {max(values):.4f}"

    rows = []
    for name in names:
        single, dask = got[name]
        diff = [d - s for s, d in zip(single, dask, strict=True)]
        rows.append(
            {
                "figure": f"test {name}, seeds {','.join(map(str, seeds))}",
                "ours": spread(dask),
                "baseline": spread(single),
                "unit": "min / median / max; Dask, baseline one process",
            }
        )
        rows.append(
            {
                "figure": f"  Dask minus one process, {name}",
                "ours": spread(diff),
                "baseline": None,
                "unit": "min / median / max",
            }
        )
    return rows
