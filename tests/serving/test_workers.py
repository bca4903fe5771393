"""``parcelscreen serve --workers 2``: two processes share the stores, the halt switch and the
metrics (a real server on 127.0.0.1, real SQLite files)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from serving import Database, DecisionLog, KeyStore, Settings
from tests.conftest import Trained
from tests.served import free_port, wait_ready

from .conftest import parcel

pytestmark = pytest.mark.slow


def _score_all(url: str, key: str, bodies: list[dict[str, Any]]) -> list[httpx.Response]:
    async def run() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=len(bodies))
        async with httpx.AsyncClient(
            base_url=url, timeout=30, limits=limits, headers={"Authorization": f"Bearer {key}"}
        ) as c:
            return list(
                await asyncio.gather(*(c.post("/v1/parcels:score", json=b) for b in bodies))
            )

    return asyncio.run(run())


def _decisions(metrics: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("parcelscreen_decisions_total{")
    )


def test_two_workers_share_stores_halt_switch_and_metrics(trained: Trained, tmp_path: Path) -> None:
    port = free_port()
    env = os.environ | {
        "PARCELSCREEN_DATA_DIR": str(tmp_path),
        "PARCELSCREEN_REGISTRY": str(trained.registry),
        "PARCELSCREEN_RELOAD_SECONDS": "0",
        "PARCELSCREEN_CAPACITY": "0.4",
    }
    settings = Settings(data_dir=tmp_path, registry=trained.registry)
    db = Database(settings.state_path)
    keys = KeyStore(db, settings.secret_key)
    sorter, admin = keys.create("sorter")[1], keys.create("admin")[1]
    db.close()
    closing: list[Any] = []
    proc = subprocess.Popen(
        [sys.executable, "-m", "parcelscreen", "serve", "--workers", "2", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, proc, lambda: proc.stderr.read() if proc.stderr else "", timeout=90)

        bodies = [parcel() for _ in range(40)]
        answers = _score_all(url, sorter, bodies)
        assert [a.status_code for a in answers] == [200] * 40
        assert {a.json()["mode"] for a in answers} == {"model"}

        # every decision is in the one hash chain, written by whichever worker answered
        log = DecisionLog(settings.state_path)
        closing.append(log.close)
        assert log.verify().ok
        assert {r["item_id"] for r in log.records("decision")} == {b["item_id"] for b in bodies}

        # /metrics counts the decisions of both workers, whichever answers the scrape
        for _ in range(4):  # new connections: the kernel spreads them over both workers
            scrape = httpx.get(f"{url}/metrics", headers={"Authorization": f"Bearer {admin}"})
            assert _decisions(scrape.text) == 40

        # a halt through one worker holds for every worker
        halted = httpx.post(
            f"{url}/v1/admin/halt",
            json={"reason": "test"},
            headers={"Authorization": f"Bearer {admin}"},
        )
        assert halted.status_code == 200
        answers = _score_all(url, sorter, [parcel() for _ in range(30)])
        assert {a.json()["mode"] for a in answers} == {"halted-fallback"}
        assert log.verify().ok
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        if proc.stderr is not None:
            proc.stderr.close()
        for close in closing:
            close()
