"""Sustained load against a real server process: 60 s at a steady 50 requests/s.

``python -m parcelscreen serve`` runs as a subprocess on 127.0.0.1 over a copy of the
registry; the test paces requests (mostly scores, every tenth an outcome) from a small
thread pool. Halfway through, a new model version is promoted (alias moved, admin reload).
Asserted: zero failed requests, both versions served, the server's RSS grows by less than
``RSS_BOUND`` after warm-up, and after a SIGKILL every acknowledged decision is in the
decision log and its hash chain verifies.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil
import pytest

from data_contracts import make_s10
from screening import ModelRegistry
from serving import DEV_SECRET_KEY, Database, DecisionLog, KeyStore, Role
from tests.conftest import Trained
from tests.factories import outcome
from tests.serving.conftest import parcel

SECONDS = float(os.environ.get("PARCELSCREEN_LOAD_SECONDS", "60"))
RATE = 50.0  # requests per second
WARM_UP = 5.0
RSS_BOUND = 64 * 2**20  # includes a second model loaded by the promotion (measured: ~7 MiB)
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Load:
    """Paced requests from a thread pool; one keep-alive client per thread and role."""

    def __init__(self, url: str, keys: dict[str, str]) -> None:
        self.url, self.keys = url, keys
        self.local = threading.local()
        self.opened: list[httpx.Client] = []
        self.lock = threading.Lock()
        self.failures: list[str] = []
        self.versions: dict[str, int] = {}
        self.decisions = 0
        self.outcomes = 0
        self.serial = iter(range(50_000_000, 60_000_000))

    def client(self, role: str) -> httpx.Client:
        clients = self.local.__dict__.setdefault("clients", {})
        if role not in clients:
            headers = {"Authorization": f"Bearer {self.keys[role]}"}
            clients[role] = httpx.Client(base_url=self.url, headers=headers, timeout=30)
            with self.lock:
                self.opened.append(clients[role])
        return clients[role]  # type: ignore[no-any-return]

    def request(self, i: int) -> None:
        item = make_s10("RR", next(self.serial), "NL")
        try:
            if i % 10 == 9:
                r = self.client("officer").post("/v1/outcomes", json=outcome(item_id=item))
                ok = r.status_code == 201
            else:
                r = self.client("sorter").post("/v1/parcels:score", json=parcel(item_id=item))
                ok = r.status_code == 200
        except httpx.HTTPError as exc:
            with self.lock:
                self.failures.append(f"#{i}: {type(exc).__name__}: {exc}")
            return
        with self.lock:
            if not ok:
                self.failures.append(f"#{i}: {r.status_code} {r.text[:200]}")
            elif i % 10 == 9:
                self.outcomes += 1
            else:
                self.decisions += 1
                version = r.json()["model_version"]
                self.versions[version] = self.versions.get(version, 0) + 1

    def run(self, pool: ThreadPoolExecutor, start: int, seconds: float) -> list[Future[None]]:
        began = time.monotonic()
        futures = []
        for n in range(int(seconds * RATE)):
            delay = began + n / RATE - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            futures.append(pool.submit(self.request, start + n))
        return futures


@pytest.mark.slow
def test_sustained_load_with_a_promotion_fails_no_request(trained: Trained, tmp_path: Path) -> None:
    shutil.copytree(trained.registry, tmp_path / "registry")
    state = tmp_path / "state"
    keys_db = Database(state / "state.sqlite")
    store = KeyStore(keys_db, DEV_SECRET_KEY)
    keys = {role.value: store.create(role, "load test")[1] for role in Role}
    keys_db.close()
    port = _free_port()
    env = os.environ | {
        "PARCELSCREEN_REGISTRY": str(tmp_path / "registry"),
        "PARCELSCREEN_DATA_DIR": str(state),
        "PARCELSCREEN_PORT": str(port),
        "PARCELSCREEN_RELOAD_SECONDS": "0",
        "PARCELSCREEN_CAPACITY": "0.4",
    }
    log = (tmp_path / "server.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "parcelscreen", "serve"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, (tmp_path / "server.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "the server did not become ready"
            try:
                if httpx.get(f"{url}/v2/health/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        load = Load(url, keys)
        process = psutil.Process(proc.pid)
        registry = ModelRegistry(tmp_path / "registry")
        old = registry.resolve("champion")
        with ThreadPoolExecutor(max_workers=8) as pool:
            for f in load.run(pool, 0, WARM_UP):
                f.result()
            rss = [process.memory_info().rss]
            futures: list[Future[None]] = []
            for part in range(4):  # promote after the second quarter
                futures += load.run(pool, len(futures) + 10_000, SECONDS / 4)
                rss.append(process.memory_info().rss)
                if part == 1:
                    new = registry.publish(registry.path(old), version="promoted-2")
                    registry.set_alias("champion", new)
                    with httpx.Client(base_url=url, timeout=60) as admin:
                        r = admin.post(
                            "/v1/admin/models:reload",
                            headers={"Authorization": f"Bearer {keys['admin']}"},
                        )
                    assert r.status_code == 200 and r.json()["changed"] is True, r.text
            for f in futures:
                f.result()
        for client in load.opened:
            client.close()
        growth = rss[-1] - rss[0]
        print(
            f"\nload: {len(futures)} requests in {SECONDS:.0f} s, versions {load.versions}, "
            f"RSS {rss[0] / 2**20:.0f} -> {rss[-1] / 2**20:.0f} MiB "
            f"(growth {growth / 2**20:.1f} MiB; samples "
            f"{[round(r / 2**20) for r in rss]})"
        )
        assert load.failures == []
        assert set(load.versions) == {old, new}
        assert growth < RSS_BOUND
    finally:
        proc.send_signal(signal.SIGKILL)  # no clean shutdown: the log must be whole anyway
        proc.wait(timeout=10)
        log.close()
    audit = DecisionLog(state / "state.sqlite")
    try:
        assert len(audit.records("decision")) == load.decisions
        assert len(audit.records("outcome")) == load.outcomes
        report = audit.verify()
        assert report.ok, report.problems
    finally:
        audit.close()
