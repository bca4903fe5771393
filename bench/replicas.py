"""Replicas on PostgreSQL: ``bench chaos --replicas N --database postgresql`` and ``bench http
--replicas N --database postgresql``.

Both run ``parcelscreen serve`` replicas on their own loopback ports behind HAProxy with the
whole record in a fresh schema of the PostgreSQL on 127.0.0.1 (``tests/replica_set.py``, the
harness of the two-replica test, and its balancer configuration, ``deploy/haproxy.cfg``).

- chaos: ``rounds`` times, clients score distinct parcels through the balancer (each request
  its own ``X-Request-ID``; a request that gets no answer or 502/503/504 is retried with the
  same ID until answered), a random replica is SIGKILLed at a random moment (supervisor and
  workers: a lost machine), the load goes on through the others, the replica is started
  again; then, with no load, ``state check`` and ``audit verify`` must pass. Printed: kills,
  acknowledged, lost (acknowledged, not on record), half-written (a check failed), duplicated
  (a request decided twice, or an item counted twice in the history), and the client-visible
  errors during failover (each then retried).
- http: requests/s and latency through the balancer, beside one host on SQLite (``bench
  http``'s server, the same workers per host) measured in the same run.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

KEY = "bench-pseudonymisation-key-0123"
RETRYABLE = {502, 503, 504}


def _setup(work: Path, parcels: int, seed: int) -> tuple[Path, list[dict[str, Any]]]:
    from bench.http import _declarations
    from training import run_training
    from training.simulation import SimulationConfig, simulate, write_simulation

    config = SimulationConfig(
        parcels=parcels, inspection_rate=0.3, random_share=0.3, seed=seed, prevalence=0.005
    )  # enough seizures to train on
    write_simulation(simulate(config), work / "data")
    run_training(work / "data", work / "registry", KEY, validate=False)
    return work / "registry", _declarations(work / "data", parcels)


def _replica_set(work: Path, registry: Path, replicas: int, workers: int) -> Any:
    from serving import KeyStore, Record, Settings
    from tests.pg_record import fresh_schema
    from tests.replica_set import ReplicaSet

    where = fresh_schema()
    root = Path(__file__).resolve().parent.parent
    group = ReplicaSet(
        work / "replicas",
        registry,
        where,
        replicas=replicas,
        workers=workers,
        extra_env={
            "PARCELSCREEN_PSEUDONYMISATION_KEY": KEY,
            "PARCELSCREEN_POSTED_DAYS_BACK": "36500",
            "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]),
        },
    )
    settings = Settings(
        data_dir=work / "keys", registry=registry, pseudonymisation_key=KEY, **where
    )
    record = Record(settings)
    key = KeyStore(record.db, settings.secret_key).create("sorter", "bench")[1]
    record.close()
    return group, key, where


def _stop_on_sigterm() -> None:
    """A SIGTERM (``timeout``) ends the run through its clean-up: the replicas and the
    balancer run in sessions of their own, which the signal does not reach."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


class _Load:
    """Clients through the balancer until stopped; every request answered in the end (retried
    with the same request ID), or counted as given up."""

    def __init__(
        self, url: str, key: str, decls: list[dict[str, Any]], start: int, clients: int
    ) -> None:
        self.url, self.key, self.decls, self.clients = url, key, decls, clients
        self.next = start
        self.acknowledged: dict[str, str] = {}  # request ID: item ID
        self.failover_errors = 0  # answers other than 200 (or none), each retried
        self.other_errors = 0  # 4xx and other 5xx: not retried
        self.gave_up = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    async def _run(self) -> None:
        async def client() -> None:
            headers = {"Authorization": f"Bearer {self.key}"}
            async with httpx.AsyncClient(base_url=self.url, headers=headers, timeout=30) as c:
                while not self.stop.is_set() and self.next < len(self.decls):
                    n, self.next = self.next, self.next + 1
                    body, rid = self.decls[n], f"replicas-{n}"
                    for _ in range(300):  # about a minute of retries at most
                        try:
                            r = await c.post(
                                "/v1/parcels:score", json=body, headers={"X-Request-ID": rid}
                            )
                        except httpx.HTTPError:
                            self.failover_errors += 1
                            await asyncio.sleep(0.2)
                            continue
                        if r.status_code == 200:
                            self.acknowledged[rid] = body["item_id"]
                        elif r.status_code in RETRYABLE:
                            self.failover_errors += 1
                            await asyncio.sleep(0.2)
                            continue
                        else:
                            self.other_errors += 1
                        break
                    else:
                        self.gave_up += 1

        await asyncio.gather(*(client() for _ in range(self.clients)))


def chaos(
    rounds: int = 20, clients: int = 8, parcels: int = 60_000, replicas: int = 2, workers: int = 1
) -> list[dict[str, Any]]:
    from serving import Record, Settings
    from tests.pg_record import drop_schema

    rng = random.Random(7)
    _stop_on_sigterm()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        registry, decls = _setup(work, parcels, seed=5)
        group, key, where = _replica_set(work, registry, replicas, workers)
        kills = failover = other = gave_up = 0
        acknowledged: dict[str, str] = {}
        checks_failed: list[str] = []
        next_parcel = 0
        try:
            group.up()
            for k in range(rounds):
                load = _Load(group.url, key, decls, next_parcel, clients)
                load.thread.start()
                time.sleep(rng.uniform(1.0, 3.0))
                victim = rng.randrange(replicas)
                group.kill(victim)
                kills += 1
                time.sleep(1.0)  # the others answer on; retries of the victim's requests
                group.start(victim)
                group.wait_ready(victim)
                load.stop.set()
                load.thread.join(timeout=180)
                next_parcel = load.next
                acknowledged |= load.acknowledged
                failover += load.failover_errors
                other += load.other_errors
                gave_up += load.gave_up
                for argv in (["state", "check"], ["audit", "verify"]):  # no load meanwhile
                    out = group.cli(*argv)
                    if out.returncode != 0:
                        checks_failed.append(
                            f"round {k}: {' '.join(argv)}: {out.stdout[-400:]}{out.stderr[-400:]}"
                        )
                print(
                    f"round {k + 1}: {kills} kills, {len(acknowledged)} acknowledged, "
                    f"{failover} failover errors, {len(checks_failed)} checks failed",
                    file=sys.stderr,
                    flush=True,
                )
            settings = Settings(
                data_dir=work / "keys", registry=registry, pseudonymisation_key=KEY, **where
            )
            record = Record(settings)
            try:
                per_request = dict(
                    record.db.execute(
                        "SELECT request_id, count(*) FROM decision_log WHERE kind = 'decision' "
                        "GROUP BY request_id"
                    )
                )
                twice = int(
                    record.db.execute(
                        "SELECT count(*) FROM (SELECT item_id FROM history_item GROUP BY item_id "
                        "HAVING count(*) > 1) AS t"
                    )[0][0]
                )
            finally:
                record.close()
        finally:
            group.close()
            drop_schema(where["database_schema"])
        lost = sum(1 for rid in acknowledged if per_request.get(rid, 0) == 0)
        duplicated = sum(1 for rid in acknowledged if per_request.get(rid, 0) > 1) + twice

    def row(figure: str, value: float, unit: str = "") -> dict[str, Any]:
        return {"figure": figure, "ours": value, "baseline": None, "unit": unit}

    rows = [
        row(
            f"chaos, {replicas} replicas on PostgreSQL: kills of a whole replica", kills, "SIGKILL"
        ),
        row("chaos: acknowledged decisions", len(acknowledged), "requests"),
        row("chaos: lost (acknowledged, not on record)", lost, "must be 0"),
        row("chaos: half-written (state check or audit failed)", len(checks_failed), "must be 0"),
        row(
            "chaos: duplicated (a request decided twice, an item counted twice)",
            duplicated,
            "must be 0",
        ),
        row("chaos: client-visible errors during failover (each retried)", failover, "answers"),
        row("chaos: requests given up after a minute of retries", gave_up, "should be 0"),
        row("chaos: other answers (4xx, 500)", other, "should be 0"),
    ]
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


def http(
    seconds: float = 20, clients: int = 20, workers: int = 2, replicas: int = 2, rounds: int = 2
) -> list[dict[str, Any]]:
    """Through the balancer, beside one SQLite host, all measured here, one after the other.

    Every replica waits for one writer lock (one chain, one history), so the workers of all
    replicas take turns: fewer, larger batches each share one synced COMMIT. Both layouts
    are measured, ``replicas`` x 1 worker and ``replicas`` x ``workers``, ``rounds`` times,
    alternating with the SQLite host (``workers`` workers), and the median round of each is
    printed (this machine's speed moves by tens of percent within minutes)."""
    from bench.http import _serve_and_load

    _stop_on_sigterm()
    layouts = sorted({1, workers})
    runs: dict[str, list[dict[str, float]]] = {"sqlite": []}
    runs |= {f"pg{w}": [] for w in layouts}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        registry, decls = _setup(work, 60_000, seed=3)
        for k in range(rounds):
            runs["sqlite"].append(
                _serve_and_load(
                    registry, work / f"sqlite{k}", "flagged", decls, seconds, clients, workers
                )
            )
            for w in layouts:
                runs[f"pg{w}"].append(
                    _through_replicas(
                        work / f"pg{w}-{k}", registry, decls, seconds, clients, w, replicas
                    )
                )
            print(
                f"round {k + 1}: "
                + ", ".join(f"{name} {r[-1]['rps']:.0f}/s" for name, r in runs.items()),
                file=sys.stderr,
                flush=True,
            )

    def median(name: str) -> dict[str, float]:
        by_rps = sorted(runs[name], key=lambda r: r["rps"])
        return by_rps[(len(by_rps) - 1) // 2]

    def row(figure: str, o: float, b: float, unit: str) -> dict[str, Any]:
        return {
            "figure": figure,
            "ours": round(o, 3),
            "baseline": round(b, 3),
            "unit": unit,
            "ratio": round(o / b, 2) if b else None,
        }

    generator = "wrk" if shutil.which("wrk") else "httpx"
    single = median("sqlite")
    rows: list[dict[str, Any]] = []
    for w in layouts:
        ours = median(f"pg{w}")
        rows += [
            row(
                f"score through HAProxy, {replicas} replicas x {w} worker(s) on PostgreSQL "
                f"(baseline: one host on SQLite, {workers} workers), {clients} clients "
                f"({generator}), median of {rounds} rounds",
                ours["rps"],
                single["rps"],
                "requests/s",
            ),
            row("  latency p50", ours["p50"], single["p50"], "ms"),
            row("  latency p99", ours["p99"], single["p99"], "ms"),
            row("  errors", ours["errors"], single["errors"], "count"),
            {
                "figure": "  every round (requests/s, ours / baseline)",
                "ours": [round(r["rps"]) for r in runs[f"pg{w}"]],
                "baseline": [round(r["rps"]) for r in runs["sqlite"]],
                "unit": "requests/s",
            },
        ]
    return rows


def _through_replicas(
    work: Path,
    registry: Path,
    decls: list[dict[str, Any]],
    seconds: float,
    clients: int,
    workers: int,
    replicas: int,
) -> dict[str, float]:
    """One load of ``seconds`` through the balancer of a fresh replica set and schema."""
    from bench.http import _load, _wrk
    from tests.pg_record import drop_schema

    group, key, where = _replica_set(work, registry, replicas, workers)
    try:
        group.up()
        asyncio.run(_load(group.url, key, decls[:200], 1.0, clients))  # warm-up
        if shutil.which("wrk"):
            return _wrk(group.url, key, decls[200:], seconds, clients, work / "wrk")
        count, errors, lat = asyncio.run(_load(group.url, key, decls[200:], seconds, clients))
        return {
            "rps": count / seconds,
            "p50": float(np.percentile(lat, 50) * 1e3),
            "p99": float(np.percentile(lat, 99) * 1e3),
            "errors": errors,
        }
    finally:
        group.close()
        drop_schema(where["database_schema"])
