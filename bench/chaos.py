"""Chaos: SIGKILLs of the scoring service under load, with command-line writers beside it.

Start ``parcelscreen serve --workers 2`` over one record database; then ``rounds`` times:
score distinct parcels from ``clients`` keep-alive connections (each request with its own
``X-Request-ID``), run commands that write the same database from other processes (``keys
create``, ``users add``, ``outcomes import``, ``state prune``) and, at a random moment,
SIGKILL either the whole service (supervisor and workers; it is then restarted) or one
worker (uvicorn's supervisor starts another). After each kill every request that got no
answer is retried with the same request ID; then, with no load, ``parcelscreen state check``
and ``audit verify`` must pass. Printed: kills, acknowledged decisions, lost (acknowledged
but not on record), half-written (a check failed), duplicated (a request decided twice).
The baseline column is empty: there is no peer to compare with; every figure but the kills,
the acknowledged and the retried must be 0.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from bench._serve import free_port, wait_ready

KEY = "bench-pseudonymisation-key-0123"
_WRITES = itertools.count(1)  # numbers the commands of every round (user names stay unique)
PASSWORD = "chaos-officer-password-1"


def _cli(
    env: dict[str, str], *argv: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "parcelscreen", *argv],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


class Service:
    """One ``parcelscreen serve --workers 2`` process group."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._path = log
        self._log = log.open("a")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "parcelscreen",
                "serve",
                "--workers",
                "2",
                "--port",
                str(self.port),
            ],
            env=env,
            stdout=self._log,
            stderr=self._log,
            start_new_session=True,
        )

    def ready(self, timeout: float = 120) -> None:
        wait_ready(self.url, self.proc, timeout, self._path)

    def workers(self) -> list[int]:
        import psutil

        return [c.pid for c in psutil.Process(self.proc.pid).children(recursive=True)]

    def kill(self, whole: bool) -> str:
        if not whole:
            pids = self.workers()
            if pids:
                os.kill(random.choice(pids), signal.SIGKILL)
                return "worker"
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        return "service"

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=30)
        self._log.close()


class Load:
    """Clients sending distinct parcels until stopped; what was answered, what was not."""

    def __init__(
        self, url: str, key: str, decls: list[dict[str, Any]], start: int, clients: int
    ) -> None:
        self.url, self.key, self.decls, self.clients = url, key, decls, clients
        self.next = start
        self.acknowledged: dict[str, str] = {}  # request ID -> item ID
        self.unanswered: dict[str, dict[str, Any]] = {}  # request ID -> declaration
        self.errors = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._run()))

    async def _run(self) -> None:
        async def client() -> None:
            headers = {"Authorization": f"Bearer {self.key}"}
            async with httpx.AsyncClient(base_url=self.url, headers=headers, timeout=10) as c:
                while not self.stop.is_set() and self.next < len(self.decls):
                    n, self.next = self.next, self.next + 1
                    body, rid = self.decls[n], f"chaos-{n}"
                    try:
                        r = await c.post(
                            "/v1/parcels:score", json=body, headers={"X-Request-ID": rid}
                        )
                    except httpx.HTTPError:
                        self.unanswered[rid] = body
                        await asyncio.sleep(0.05)
                        continue
                    if r.status_code == 200:
                        self.acknowledged[rid] = body["item_id"]
                    elif r.status_code == 503:  # nothing recorded: retry later
                        self.unanswered[rid] = body
                    else:
                        self.errors += 1

        await asyncio.gather(*(client() for _ in range(self.clients)))


def _writers(
    env: dict[str, str],
    work: Path,
    items: list[str],
    stop: threading.Event,
    done: list[str],
    failed: list[str],
) -> None:
    """Commands writing the record database from other processes, one after the other."""
    while not stop.is_set():
        n = next(_WRITES)
        kind = n % 4
        if kind == 0:
            out = _cli(env, "keys", "create", "--role", "sorter", "--name", f"chaos {n}")
        elif kind == 1:
            out = _cli(
                env,
                "users",
                "add",
                f"chaos{n}",
                "--password-stdin",
                "--role",
                "officer",
                stdin=PASSWORD + "\n",
            )
        elif kind == 2 and items:
            file = work / f"outcomes-{n}.jsonl"
            file.write_text(
                json.dumps(
                    {
                        "contract_version": "1",
                        "item_id": random.choice(items),
                        "recorded_at": "2026-03-09T14:00:00+00:00",
                        "inspected": True,
                        "selection_reason": "random_control",
                        "selection_probability": 0.003,
                        "result": "seized",
                        "substance": "ecstasy",
                        "quantity_g": 25.0,
                        "officer_ref": "NL-C-0042",
                    }
                )
                + "\n"
            )
            out = _cli(env, "outcomes", "import", str(file))
        else:
            out = _cli(env, "state", "prune", "--days", "36500")
        if out.returncode == 0:
            done.append(" ".join(out.args[3:5]))
        else:
            failed.append(f"{' '.join(out.args[3:5])}: {out.stderr.strip()[-300:]}")


def _on_record(state: Path) -> tuple[dict[str, int], int]:
    """Decision records per request ID, and history items, read straight from the file."""
    conn = sqlite3.connect(state)
    try:
        per_request = dict(
            conn.execute(
                "SELECT request_id, count(*) FROM decision_log WHERE "
                "kind = 'decision' GROUP BY request_id"
            ).fetchall()
        )
        (items,) = conn.execute("SELECT count(*) FROM history_item").fetchone()
    finally:
        conn.close()
    return per_request, int(items)


def run(
    rounds: int = 30,
    clients: int = 8,
    parcels: int = 60_000,
    replicas: int = 1,
    database: str = "sqlite",
) -> list[dict[str, Any]]:
    if database == "postgresql":  # replicas behind HAProxy (bench/replicas.py)
        from bench.replicas import chaos

        return chaos(rounds, clients, parcels, replicas)
    if replicas != 1:
        raise ValueError("bench chaos --replicas needs --database postgresql")
    from serving import Database, KeyStore, Settings
    from training import run_training
    from training.simulation import SimulationConfig, simulate, write_simulation

    rng = random.Random(7)
    random.seed(7)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        config = SimulationConfig(
            parcels=parcels, inspection_rate=0.3, random_share=0.3, seed=5, prevalence=0.005
        )  # enough seizures to train on
        write_simulation(simulate(config), work / "data")
        run_training(work / "data", work / "registry", KEY, validate=False)
        from bench.http import _declarations

        decls = _declarations(work / "data", parcels)
        root = Path(__file__).resolve().parent.parent
        env = {k: v for k, v in os.environ.items() if not k.startswith("PARCELSCREEN_")} | {
            "PARCELSCREEN_REGISTRY": str(work / "registry"),
            "PARCELSCREEN_DATA_DIR": str(work / "state"),
            "PARCELSCREEN_PSEUDONYMISATION_KEY": KEY,
            "PARCELSCREEN_RELOAD_SECONDS": "0",
            "PARCELSCREEN_POSTED_DAYS_BACK": "36500",  # the simulated parcels are dated 2026-01
            "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]),
        }
        settings = Settings(
            data_dir=work / "state", registry=work / "registry", pseudonymisation_key=KEY
        )
        db = Database(settings.state_path)
        key = KeyStore(db, settings.secret_key).create("sorter", "chaos")[1]
        db.close()
        acknowledged: dict[str, str] = {}
        kills = {"service": 0, "worker": 0}
        retried = unanswered_left = errors = 0
        checks_failed: list[str] = []
        writes_done: list[str] = []
        writes_failed: list[str] = []
        next_parcel = 0
        service = Service(env, work / "serve.log")
        service.ready()
        for k in range(rounds):
            load = Load(service.url, key, decls, next_parcel, clients)
            stop = threading.Event()
            writer = threading.Thread(
                target=_writers,
                args=(
                    env,
                    work,
                    list(acknowledged.values())[-200:],
                    stop,
                    writes_done,
                    writes_failed,
                ),
            )
            load.thread.start()
            writer.start()
            time.sleep(rng.uniform(1.0, 4.0))
            whole = k % 2 == 0
            kills[service.kill(whole=whole)] += 1
            time.sleep(0.5)  # the survivor (or nobody) answers on; the load sees failures
            load.stop.set()
            load.thread.join(timeout=60)
            stop.set()
            writer.join(timeout=300)
            next_parcel = load.next
            acknowledged |= load.acknowledged
            errors += load.errors
            if whole:  # restarted; after a worker's kill the supervisor starts another
                service.stop()
                service = Service(env, work / "serve.log")
            service.ready()
            with httpx.Client(
                base_url=service.url, timeout=30, headers={"Authorization": f"Bearer {key}"}
            ) as c:
                for rid, body in load.unanswered.items():  # each with its own request ID
                    r = c.post("/v1/parcels:score", json=body, headers={"X-Request-ID": rid})
                    retried += 1
                    if r.status_code == 200:
                        acknowledged[rid] = body["item_id"]
                    else:
                        unanswered_left += 1
            for argv in (["state", "check"], ["audit", "verify"]):  # no load meanwhile
                out = _cli(env, *argv)
                if out.returncode != 0:
                    checks_failed.append(
                        f"round {k}: {' '.join(argv)}: {out.stdout[-500:]}{out.stderr[-500:]}"
                    )
        service.stop()
        per_request, _ = _on_record(settings.state_path)
        lost = sum(1 for rid in acknowledged if per_request.get(rid, 0) == 0)
        duplicated = sum(1 for rid in acknowledged if per_request.get(rid, 0) > 1)
        half = len(checks_failed)

    def row(figure: str, value: float, unit: str = "") -> dict[str, Any]:
        return {"figure": figure, "ours": value, "baseline": None, "unit": unit}

    rows = [
        row("chaos: kills of the whole service", kills["service"], "SIGKILL"),
        row("chaos: kills of one worker", kills["worker"], "SIGKILL"),
        row("chaos: acknowledged decisions", len(acknowledged), "requests"),
        row("chaos: retried after a kill (same request ID)", retried, "requests"),
        row("chaos: lost (acknowledged, not on record)", lost, "must be 0"),
        row("chaos: half-written (state check or audit failed)", half, "must be 0"),
        row("chaos: duplicated (a request decided twice)", duplicated, "must be 0"),
        row("chaos: retries still unanswered", unanswered_left, "should be 0"),
        row("chaos: CLI writes done / failed", len(writes_done), f"{len(writes_failed)} failed"),
        row("chaos: answers other than 200 and 503", errors, "should be 0"),
    ]
    for failure in writes_failed[:3]:
        rows.append(
            {
                "figure": "chaos: CLI write failed",
                "ours": None,
                "baseline": None,
                "unit": "",
                "error": failure,
            }
        )
    for problem in checks_failed[:5]:
        rows.append(
            {
                "figure": "chaos: check failed",
                "ours": None,
                "baseline": None,
                "unit": "",
                "error": problem,
            }
        )
    return rows
