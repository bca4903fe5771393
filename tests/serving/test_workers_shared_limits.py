"""``parcelscreen serve --workers 2``: the sign-in throttle holds across both workers and is
not fooled by ``X-Forwarded-For``; a locked user name stays open to a client that has not
failed, and an admin unlocks it; a /metrics scrape sums both workers and writes nothing to
the state database. A real server on 127.0.0.1; clients connect from other loopback
addresses (127.0.0.2, ...) so that each test is a client of its own."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from parcelscreen.cli import main
from serving import Database, KeyStore, Record, Settings
from serving.officer import UserStore
from tests.browser.officer_setup import PASSWORD, csrf_of
from tests.conftest import Trained
from tests.served import free_port, wait_ready

from .conftest import parcel

pytestmark = pytest.mark.slow


@dataclass
class Workers:
    url: str
    env: dict[str, str]
    settings: Settings
    keys: dict[str, str]


@pytest.fixture(scope="module")
def workers(trained: Trained, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workers]:
    data = tmp_path_factory.mktemp("two-workers")
    port = free_port()
    env = os.environ | {
        "PARCELSCREEN_DATA_DIR": str(data),
        "PARCELSCREEN_REGISTRY": str(trained.registry),
        "PARCELSCREEN_RELOAD_SECONDS": "0",
        "PARCELSCREEN_CAPACITY": "0.4",
        "PARCELSCREEN_SHADOW_CHECK_SECONDS": "0",
    }
    env.pop("FORWARDED_ALLOW_IPS", None)  # uvicorn's own variable: the setting decides
    settings = Settings(data_dir=data, registry=trained.registry)
    db = Database(settings.state_path)
    keys = KeyStore(db, settings.secret_key)
    roles = {role: keys.create(role)[1] for role in ("monitor", "sorter")}
    users = UserStore(db)
    for name in ("olga", "nora", "otto"):
        users.add(name, PASSWORD, "officer")
    db.close()
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
        yield Workers(url, env, settings, roles)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        if proc.stderr is not None:
            proc.stderr.close()


def _sign_in(
    url: str, username: str, password: str, source: str, forwarded_for: str | None = None
) -> int:
    """One sign-in through the form from ``source``, on new connections (so the kernel
    spreads the attempts over both workers); the status of the POST."""
    headers = {"Connection": "close"}
    with httpx.Client(
        base_url=url,
        timeout=30,
        headers=headers,
        transport=httpx.HTTPTransport(local_address=source),
    ) as client:
        page = client.get("/officer/login")
        extra = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
        response = client.post(
            "/officer/login",
            headers=extra,
            data={
                "csrf": csrf_of(page.text),
                "username": username,
                "password": password,
                "next": "",
            },
        )
        return response.status_code


def test_failed_sign_ins_count_across_workers(workers: Workers) -> None:
    codes = [_sign_in(workers.url, "olga", "wrong guess", "127.0.0.2") for _ in range(12)]
    assert codes == [401] * 5 + [429] * 7  # 5 in all, not 5 per worker


def test_a_forwarded_for_header_from_loopback_is_not_trusted(workers: Workers) -> None:
    """Each attempt claims another client; uvicorn trusts no proxy by default, so all of
    them are the one client they come from, and its limit of 50 holds."""
    codes = [
        _sign_in(
            workers.url, f"guess{k}", "wrong guess", "127.0.0.3", forwarded_for=f"10.{k}.{k}.{k}"
        )
        for k in range(56)
    ]
    assert codes == [401] * 50 + [429] * 6


def test_a_locked_user_name_signs_in_from_a_client_that_has_not_failed(
    workers: Workers,
) -> None:
    codes = [_sign_in(workers.url, "nora", "wrong guess", "127.0.0.4") for _ in range(12)]
    assert codes[-1] == 429  # the name is locked for the guesser ...
    assert _sign_in(workers.url, "nora", PASSWORD, "127.0.0.4") == 429  # ... even if right
    assert _sign_in(workers.url, "nora", PASSWORD, "127.0.0.5") == 303  # the officer is in


def test_an_admin_unlocks_a_user_name(
    workers: Workers, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    codes = [_sign_in(workers.url, "otto", "wrong guess", "127.0.0.6") for _ in range(6)]
    assert codes[-1] == 429
    for name in ("PARCELSCREEN_DATA_DIR", "PARCELSCREEN_REGISTRY"):
        monkeypatch.setenv(name, workers.env[name])
    assert main(["users", "unlock", "otto"]) == 0
    assert '"failures_cleared": 5' in capsys.readouterr().out
    assert _sign_in(workers.url, "otto", PASSWORD, "127.0.0.6") == 303
    record = Record(workers.settings)
    try:
        (unlocked,) = record.audit.records("officer_unlock")
    finally:
        record.close()
    assert unlocked["caller"] == "cli" and json.loads(unlocked["detail"])["username"] == "otto"


def _store_content(settings: Settings) -> str:
    """A digest of what the state database holds (every table's rows, read in one read-only
    transaction): the same whenever the workers' checkpoints happen to run, unlike its files'
    bytes, so no waiting for them to stand still."""
    conn = sqlite3.connect(f"file:{settings.state_path}?mode=ro", uri=True)
    try:
        conn.execute("BEGIN")
        return hashlib.sha256("\n".join(conn.iterdump()).encode()).hexdigest()
    finally:
        conn.close()


def _decisions(text: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("parcelscreen_decisions_total{")
    )


def test_a_scrape_sums_both_workers_and_writes_nothing_to_the_state_database(
    workers: Workers,
) -> None:
    async def score_all() -> list[int]:
        headers = {"Authorization": f"Bearer {workers.keys['sorter']}"}
        async with httpx.AsyncClient(
            base_url=workers.url,
            timeout=30,
            headers=headers,
            limits=httpx.Limits(max_connections=40),
        ) as c:
            answers = await asyncio.gather(
                *(c.post("/v1/parcels:score", json=parcel()) for _ in range(40))
            )
        return [a.status_code for a in answers]

    before = _decisions(
        httpx.get(
            f"{workers.url}/metrics", headers={"Authorization": f"Bearer {workers.keys['monitor']}"}
        ).text
    )
    assert asyncio.run(score_all()) == [200] * 40
    held = _store_content(workers.settings)  # the scores' commits are in it (they answered)
    for _ in range(8):  # new connections: the kernel spreads them over both workers
        scrape = httpx.get(
            f"{workers.url}/metrics", headers={"Authorization": f"Bearer {workers.keys['monitor']}"}
        )
        assert scrape.status_code == 200
        assert _decisions(scrape.text) == before + 40  # both workers' decisions
    assert _store_content(workers.settings) == held  # a scrape's commit would show at once
