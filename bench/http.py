"""HTTP throughput and latency of ``POST /v1/parcels:score``, beside a baseline in the same run.

Ours: the service as shipped (reasons computed only for parcels that are not a plain pass).
Baseline: the same FastAPI route computing XGBoost ``pred_contribs`` for every request.
Each server runs under uvicorn in its own process on 127.0.0.1; the load generator (``clients``
keep-alive connections, asyncio + httpx) runs in this process for ``seconds``. Also an
in-process figure: validation + features + score + decision for one parcel.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pyarrow.parquet as pq

KEY = "bench-pseudonymisation-key-0123"
_SERVER = """
import sys, uvicorn
from serving import Service, Settings, create_app
settings = Settings()
service = Service(settings)
service.explain = sys.argv[2]
key = service.keys.create("sorter", "bench")[1]
print(key, flush=True)
uvicorn.run(create_app(settings, service), host="127.0.0.1", port=int(sys.argv[1]),
            log_level="warning", access_log=False)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _declarations(data: Path, n: int = 5000) -> list[dict[str, Any]]:
    rows = pq.read_table(data / "declarations.parquet").slice(0, n).to_pylist()
    return [json.loads(json.dumps(r, default=lambda o: o.isoformat())) for r in rows]


async def _load(url: str, key: str, decls: list[dict[str, Any]], seconds: float,
                clients: int) -> tuple[int, int, np.ndarray]:  # fmt: skip
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def client(offset: int) -> None:
        nonlocal errors
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as c:
            i = offset
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                r = await c.post("/v1/parcels:score", json=decls[i % len(decls)])
                latencies.append(time.perf_counter() - started)
                errors += r.status_code != 200
                i += clients

    await asyncio.gather(*(client(k) for k in range(clients)))
    return len(latencies), errors, np.array(latencies)


def _serve_and_load(registry: Path, state: Path, explain: str, decls: list[dict[str, Any]],
                    seconds: float, clients: int) -> dict[str, float]:  # fmt: skip
    port = _free_port()
    env = os.environ | {
        "PARCELSCREEN_REGISTRY": str(registry), "PARCELSCREEN_DATA_DIR": str(state),
        "PARCELSCREEN_PSEUDONYMISATION_KEY": KEY, "PARCELSCREEN_RELOAD_SECONDS": "0",
    }  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-c", _SERVER, str(port), explain], env=env,
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert proc.stdout is not None
        key = proc.stdout.readline().strip()
        url = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                httpx.get(f"{url}/v2/health/ready", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        asyncio.run(_load(url, key, decls[:200], 1.0, clients))  # warm-up
        count, errors, lat = asyncio.run(_load(url, key, decls, seconds, clients))
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return {"rps": count / seconds, "p50": float(np.percentile(lat, 50) * 1e3),
            "p99": float(np.percentile(lat, 99) * 1e3), "errors": errors}  # fmt: skip


def _in_process(registry: Path, decls: list[dict[str, Any]], n: int = 3000) -> dict[str, float]:
    from data_contracts import ParcelDeclaration, validate_one
    from screening import (
        DecisionPolicy,
        History,
        LoadedModel,
        ModelRegistry,
        Pseudonymiser,
        ScoringEngine,
    )

    model = LoadedModel.load(ModelRegistry(registry).load("champion"))
    engine = ScoringEngine(model, History(), Pseudonymiser(KEY), DecisionPolicy(), b"k" * 32)
    times = []
    for i in range(n):
        raw = decls[i % len(decls)]
        started = time.perf_counter()
        decl, _ = validate_one(ParcelDeclaration, raw)
        assert decl is not None
        engine.score_declarations([decl], explain="none")
        times.append(time.perf_counter() - started)
    lat = np.array(times[200:]) * 1e3
    return {"p50": float(np.percentile(lat, 50)), "p99": float(np.percentile(lat, 99))}


def run(seconds: float = 20, clients: int = 20) -> list[dict[str, Any]]:
    from training import run_training
    from training.simulation import SimulationConfig, simulate, write_simulation

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        config = SimulationConfig(parcels=30_000, inspection_rate=0.3, random_share=0.3, seed=3)
        write_simulation(simulate(config), work / "data")
        run_training(work / "data", work / "registry", KEY, validate=False)
        decls = _declarations(work / "data")
        ours = _serve_and_load(work / "registry", work / "ours", "flagged", decls, seconds,
                               clients)  # fmt: skip
        base = _serve_and_load(work / "registry", work / "base", "all", decls, seconds, clients)
        core = _in_process(work / "registry", decls)

    def row(figure: str, o: float, b: float | None, unit: str) -> dict[str, Any]:
        return {"figure": figure, "ours": round(o, 3), "baseline": None if b is None else
                round(b, 3), "unit": unit, "ratio": None if not b else round(o / b, 2)}  # fmt: skip

    return [
        row(f"POST /v1/parcels:score, {clients} keep-alive clients", ours["rps"], base["rps"],
            "requests/s"),
        row("HTTP latency p50", ours["p50"], base["p50"], "ms"),
        row("HTTP latency p99", ours["p99"], base["p99"], "ms"),
        row("HTTP errors", ours["errors"], base["errors"], "count"),
        row("in-process validate+features+score+decide p50", core["p50"], None, "ms"),
        row("in-process validate+features+score+decide p99", core["p99"], None, "ms"),
    ]  # fmt: skip


if __name__ == "__main__":
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 20
    for r in run(seconds):
        print(json.dumps(r))
