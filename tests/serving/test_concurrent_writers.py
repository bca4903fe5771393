"""Commands run while ``parcelscreen serve --workers 2`` is under load write to the same
record database, and the service sees each write at once: no split database, no store file
open as "(deleted)", every acknowledged decision on record exactly once (issue: a CLI write
during serving used to leave the service writing to a deleted WAL)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from serving import Database, KeyStore, Settings
from tests.browser.officer_setup import sign_in
from tests.conftest import Trained
from tests.factories import outcome
from tests.served import free_port, wait_ready

from .conftest import parcel

pytestmark = pytest.mark.slow
STORE_FILES = ("state.sqlite", "state.sqlite-wal", "state.sqlite-shm")


def _cli(env: dict[str, str], *argv: str, stdin: str | None = None) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "parcelscreen", *argv],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, (argv, done.stderr[-2000:])
    if done.stdout.lstrip().startswith("{"):
        try:
            return dict(json.loads(done.stdout))  # one (indented) document
        except json.JSONDecodeError:
            pass
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    return json.loads(lines[-1]) if lines else {}


def _deleted_store_files(server: psutil.Process) -> list[str]:
    """Store files a server process or worker holds open although they were deleted."""
    found = []
    for proc in [server, *server.children(recursive=True)]:
        fd_dir = Path(f"/proc/{proc.pid}/fd")
        try:
            targets = [os.readlink(fd) for fd in fd_dir.iterdir()]
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        found += [
            t
            for t in targets
            if t.endswith(" (deleted)") and any(name in t for name in STORE_FILES)
        ]
    return found


class Load:
    """Steady scoring of fresh parcels (bounded in count), remembering what was answered."""

    def __init__(self, url: str, key: str) -> None:
        self.url, self.key = url, key
        self.answered: list[str] = []
        self.failures: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        with httpx.Client(
            base_url=self.url, timeout=30, headers={"Authorization": f"Bearer {self.key}"}
        ) as client:
            for n in range(3000):
                if self.stop.is_set():
                    return
                body = parcel()
                r = client.post(
                    "/v1/parcels:score", json=body, headers={"X-Request-ID": f"load-{n}"}
                )
                if r.status_code == 200:
                    self.answered.append(body["item_id"])
                else:
                    self.failures.append(f"{r.status_code} {r.text[:200]}")


def _within_a_second(check: Any) -> bool:
    deadline = time.monotonic() + 1.0
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_commands_write_while_two_workers_serve_and_nothing_splits(
    trained: Trained, tmp_path: Path
) -> None:
    port, url = free_port(), ""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARCELSCREEN_")} | {
        "PARCELSCREEN_DATA_DIR": str(tmp_path),
        "PARCELSCREEN_REGISTRY": str(trained.registry),
        "PARCELSCREEN_RELOAD_SECONDS": "0",
        "PARCELSCREEN_CAPACITY": "0.4",
        "PARCELSCREEN_POSTED_DAYS_BACK": "36500",
    }  # the test parcels are dated 2026-03
    settings = Settings(data_dir=tmp_path, registry=trained.registry)
    db = Database(settings.state_path)
    sorter = KeyStore(db, settings.secret_key).create("sorter")[1]
    db.close()
    log = tmp_path / "serve.log"
    out = log.open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "parcelscreen", "serve", "--workers", "2", "--port", str(port)],
        env=env,
        stdout=out,
        stderr=out,
    )
    url = f"http://127.0.0.1:{port}"
    load = Load(url, sorter)
    deleted: list[str] = []
    try:
        wait_ready(url, proc, log.read_text, timeout=90)
        server = psutil.Process(proc.pid)
        load.thread.start()
        time.sleep(1.0)

        # an officer account made from another process signs in at once
        _cli(
            env,
            "users",
            "add",
            "concurrent",
            "--password-stdin",
            "--role",
            "officer",
            stdin="a-long-enough-password-1\n",
        )

        def signs_in() -> bool:
            client, response = sign_in(url, "concurrent", "a-long-enough-password-1")
            client.close()
            return response.status_code in (302, 303)

        assert _within_a_second(signs_in), "the service did not see the new account"
        deleted += _deleted_store_files(server)

        # a key made from another process works at once; revoked, it is refused at once
        made = _cli(env, "keys", "create", "--role", "sorter", "--name", "concurrent")

        def status_with(key: str) -> int:
            return httpx.get(
                f"{url}/v1/status", timeout=10, headers={"Authorization": f"Bearer {key}"}
            ).status_code

        assert _within_a_second(lambda: status_with(made["key"]) == 200)
        _cli(env, "keys", "revoke", made["key_id"])
        assert _within_a_second(lambda: status_with(made["key"]) == 401)
        deleted += _deleted_store_files(server)

        # outcomes imported from a file, and each retention command, while scoring goes on
        waited = time.monotonic() + 60
        while len(load.answered) < 20:
            assert not load.failures and time.monotonic() < waited, load.failures[:3]
            time.sleep(0.1)
        outcomes = tmp_path / "outcomes.jsonl"
        outcomes.write_text(
            "".join(
                json.dumps(
                    outcome(item_id=item)
                    if n % 2
                    else outcome(item_id=item, result="clean", substance=None, quantity_g=None)
                )
                + "\n"
                for n, item in enumerate(load.answered[:10])
            )
        )
        imported = _cli(env, "outcomes", "import", str(outcomes))
        assert imported["recorded"] == 10 and imported["linked_to_history"] == 10
        for argv in (
            ["state", "prune", "--days", "36500"],
            ["history", "prune", "--days", "36500"],
            ["audit", "prune", "--days", "36500"],
        ):
            _cli(env, *argv)
            deleted += _deleted_store_files(server)
        time.sleep(1.0)
        deleted += _deleted_store_files(server)
    finally:
        load.stop.set()
        if load.thread.is_alive():
            load.thread.join(timeout=60)
        proc.terminate()
        proc.wait(timeout=30)
        out.close()
    assert deleted == [], deleted
    assert load.failures == []
    assert len(load.answered) > 50
    done = subprocess.run(
        [sys.executable, "-m", "parcelscreen", "state", "check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    report = json.loads(done.stdout)
    assert done.returncode == 0, report
    assert report["ok"], report["problems"]
    assert report["counts"]["scored_result"] == len(load.answered)
    verify = _cli(env, "audit", "verify")
    assert verify["ok"]
