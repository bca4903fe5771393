"""HTTP throughput and latency of ``POST /v1/parcels:score``, beside a baseline in the same run.

Servers one after the other, each under uvicorn (``workers`` processes) on 127.0.0.1:
- ours as shipped (reasons for every parcel that is not a plain pass) and the baseline (the
  same service computing XGBoost ``pred_contribs`` for every parcel), alternating for
  ``rounds`` rounds; the median round of each and every round are printed;
- ours explaining every parcel (exact TreeSHAP tables);
- ours as shipped with one worker.
Every request is a distinct simulated parcel (50,000 of them), so each adds to the history.
The load: ``clients`` keep-alive connections for ``seconds``, from ``wrk`` (one thread, a C
program, so the load generator takes little of the two cores) where installed, else from
asyncio + httpx in this process (which then competes with the server for CPU: lower figures).
Also an in-process figure: validation + features + score + decision for one parcel, and the
machine's own noise: the thread CPU time of equal chunks of work on the idle machine. Its
tail is a floor under what any service's p99 can be here, not a bound: CPU time leaves out
the time a thread waits for a core (or a host's other tenants, where that is not reported
as steal time).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pyarrow.parquet as pq

from bench._serve import free_port, wait_ready
from bench.score import measure

KEY = "bench-pseudonymisation-key-0123"
_SERVER = """
import sys, uvicorn
from parcelscreen._serve_cmd import serve_workers
from serving import KeyStore, Database, Settings
port, mode, workers = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
settings = Settings()
print(KeyStore(Database(settings.state_path), settings.secret_key).create("sorter", "bench")[1],
      flush=True)
factory = "bench.http:baseline_app" if mode == "xgboost" else "serving:app_from_env"
if workers > 1:  # as ``parcelscreen serve --workers N`` runs them
    sys.exit(serve_workers(factory, "127.0.0.1", port, workers))
uvicorn.run(factory, factory=True, host="127.0.0.1", port=port, log_level="warning",
            access_log=False)
"""


def baseline_app() -> Any:
    """The baseline server: explanations from XGBoost ``pred_contribs``, not the tables."""
    from screening import LoadedModel
    from serving import app_from_env

    LoadedModel.explainer = property(lambda self: None)  # type: ignore[assignment,method-assign]
    return app_from_env()


def machine_noise(seconds: float = 3.0) -> dict[str, dict[str, float]]:
    """Thread CPU time (ms) of equal chunks of work on the idle machine, for ``seconds`` each:
    pure Python that stays in the core's caches ("python"), and random reads from a 64 MB
    array ("memory"), which slow down when neighbours on a shared host load its memory. On a
    quiet machine a chunk's tail is near its median; on a shared virtual machine one now and
    then takes several times as long, and every request in flight then waits at least as
    long. Measured once, before the servers run."""
    rng = np.random.default_rng(0)
    table = rng.random(8_000_000)
    picks = rng.integers(0, len(table), 150_000)
    picked = np.empty(len(picks))

    def python() -> None:
        total = 0
        for i in range(50_000):
            total += i

    def memory() -> None:
        np.take(table, picks, out=picked)

    out = {}
    for name, chunk in (("python", python), ("memory", memory)):
        times = []
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            started = time.thread_time()
            chunk()
            times.append((time.thread_time() - started) * 1e3)
        p50, p99, p999 = np.percentile(times, [50, 99, 99.9])
        out[name] = {"p50": float(p50), "p99": float(p99), "p999": float(p999)}
    return out


def _declarations(data: Path, n: int = 50_000) -> list[dict[str, Any]]:
    rows = pq.read_table(data / "declarations.parquet").slice(0, n).to_pylist()
    return [json.loads(json.dumps(r, default=lambda o: o.isoformat())) for r in rows]


async def _load(
    url: str, key: str, decls: list[dict[str, Any]], seconds: float, clients: int
) -> tuple[int, int, np.ndarray]:
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


def _serve_and_load(
    registry: Path,
    state: Path,
    explain: str,
    decls: list[dict[str, Any]],
    seconds: float,
    clients: int,
    workers: int,
) -> dict[str, float]:
    port = free_port()
    env = os.environ | {
        "PARCELSCREEN_REGISTRY": str(registry),
        "PARCELSCREEN_DATA_DIR": str(state),
        "PARCELSCREEN_PSEUDONYMISATION_KEY": KEY,
        "PARCELSCREEN_RELOAD_SECONDS": "0",
        "PARCELSCREEN_EXPLAIN": "flagged" if explain == "flagged" else "all",
        "PARCELSCREEN_WORKERS": str(workers),
        "PARCELSCREEN_POSTED_DAYS_BACK": "36500",  # the simulated days lie in the past
        "PYTHONPATH": os.pathsep.join(
            [str(Path(__file__).resolve().parent.parent), os.environ.get("PYTHONPATH", "")]
        ),
    }
    proc = subprocess.Popen(
        [sys.executable, "-c", _SERVER, str(port), explain, str(workers)],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        key = proc.stdout.readline().strip()
        url = f"http://127.0.0.1:{port}"
        wait_ready(url, proc)
        asyncio.run(_load(url, key, decls[:200], 1.0, clients))  # warm-up
        if shutil.which("wrk"):
            return _wrk(url, key, decls, seconds, clients, state)
        count, errors, lat = asyncio.run(_load(url, key, decls, seconds, clients))
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return {
        "rps": count / seconds,
        "p50": float(np.percentile(lat, 50) * 1e3),
        "p99": float(np.percentile(lat, 99) * 1e3),
        "errors": errors,
    }


_WRK_SCRIPT = """
local bodies, i = {}, 0
for line in io.lines("%s") do bodies[#bodies + 1] = line end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %s"
request = function()
  i = i + 1
  return wrk.format(nil, "/v1/parcels:score", nil, bodies[(i %% #bodies) + 1])
end
"""
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _wrk(
    url: str, key: str, decls: list[dict[str, Any]], seconds: float, clients: int, work: Path
) -> dict[str, float]:
    """Run wrk (bounded: ``seconds``, loopback only) and read its summary."""
    work.mkdir(parents=True, exist_ok=True)
    bodies = work / "bodies.jsonl"
    bodies.write_text("\n".join(json.dumps(d) for d in decls) + "\n")
    script = work / "post.lua"
    script.write_text(_WRK_SCRIPT % (bodies, key))
    done = subprocess.run(
        ["wrk", "-t1", f"-c{clients}", f"-d{int(seconds)}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    )
    out = done.stdout
    latency = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", out, re.M))

    def ms(text: str) -> float:
        number, unit = re.match(r"([\d.]+)(\w+)", text).groups()  # type: ignore[union-attr]
        return float(number) * _UNITS[unit]

    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    errors = int(non_2xx.group(1)) if non_2xx else 0
    if socket_errors:
        errors += sum(int(n) for n in re.findall(r"\d+", socket_errors.group(1)))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    return {"rps": rps, "p50": ms(latency["50"]), "p99": ms(latency["99"]), "errors": errors}


def run(
    seconds: float = 20,
    clients: int = 20,
    workers: int = 2,
    rounds: int = 3,
    replicas: int = 1,
    database: str = "sqlite",
) -> list[dict[str, Any]]:
    """The figures; ours as shipped and the baseline run ``rounds`` times, alternating, and
    the median round of each is printed beside every round (this machine's speed moves by
    tens of percent within minutes, so one round of each can mislead either way).
    ``database="postgresql"``: replicas behind HAProxy beside one SQLite host instead
    (``bench/replicas.py``)."""
    if database == "postgresql":
        from bench.replicas import http

        return http(seconds, clients, workers, replicas)
    if replicas != 1:
        raise ValueError("bench http --replicas needs --database postgresql")
    from training import run_training
    from training.simulation import SimulationConfig, simulate, write_simulation

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        config = SimulationConfig(
            parcels=60_000, inspection_rate=0.3, random_share=0.3, seed=3, prevalence=0.005
        )  # enough seizures to train on
        write_simulation(simulate(config), work / "data")
        run_training(work / "data", work / "registry", KEY, validate=False)
        decls = _declarations(work / "data")
        registry = work / "registry"
        noise = machine_noise()
        ours, base = [], []
        for k in range(rounds):  # each round starts from empty stores
            ours.append(
                _serve_and_load(
                    registry, work / f"ours{k}", "flagged", decls, seconds, clients, workers
                )
            )
            base.append(
                _serve_and_load(
                    registry, work / f"base{k}", "xgboost", decls, seconds, clients, workers
                )
            )
        every = _serve_and_load(registry, work / "all", "all", decls, seconds, clients, workers)
        single = _serve_and_load(registry, work / "one", "flagged", decls, seconds, clients, 1)
        core = measure(work / "registry", decls, 3000, 200)["ours"]  # as bench score does

    def row(figure: str, o: float, b: float | None, unit: str) -> dict[str, Any]:
        return {
            "figure": figure,
            "ours": round(o, 3),
            "baseline": None if b is None else round(b, 3),
            "unit": unit,
            "ratio": None if not b else round(o / b, 2),
        }

    def median(runs: list[dict[str, float]]) -> dict[str, float]:
        return sorted(runs, key=lambda r: r["rps"])[len(runs) // 2]

    generator = "wrk" if shutil.which("wrk") else "httpx"
    mo, mb = median(ours), median(base)
    rows = [
        row(
            f"score, {clients} clients ({generator}), {workers} workers, as shipped, median "
            f"of {rounds}",
            mo["rps"],
            mb["rps"],
            "requests/s",
        ),
        row("  latency p50", mo["p50"], mb["p50"], "ms"),
        row("  latency p99", mo["p99"], mb["p99"], "ms"),
        row("  errors", mo["errors"], mb["errors"], "count"),
    ]
    for k, (o, b) in enumerate(zip(ours, base, strict=True), start=1):
        rows += [
            row(f"  round {k}: requests/s", o["rps"], b["rps"], "requests/s"),
            row(f"  round {k}: latency p99", o["p99"], b["p99"], "ms"),
        ]
    return rows + [
        row("score, explaining every parcel", every["rps"], mb["rps"], "requests/s"),
        row("  latency p50", every["p50"], mb["p50"], "ms"),
        row("  latency p99", every["p99"], mb["p99"], "ms"),
        row("  errors", every["errors"], mb["errors"], "count"),
        row("score, as shipped, 1 worker", single["rps"], mb["rps"], "requests/s"),
        row("  latency p50", single["p50"], mb["p50"], "ms"),
        row("  latency p99", single["p99"], mb["p99"], "ms"),
        row("in-process validate+features+score+decide p50", core["p50"], None, "ms"),
        row("in-process validate+features+score+decide p99", core["p99"], None, "ms"),
        *(
            row(f"machine: a chunk of {what}, thread CPU {q}", noise[name][key], None, "ms")
            for name, what in (("python", "pure Python"), ("memory", "random reads"))
            for q, key in (("p50", "p50"), ("p99", "p99"), ("p99.9", "p999"))
        ),
    ]


if __name__ == "__main__":
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 20
    for r in run(seconds):
        print(json.dumps(r))
