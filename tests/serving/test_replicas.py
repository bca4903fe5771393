"""Two ``parcelscreen serve`` replicas on their own ports behind a real HAProxy, one real
PostgreSQL record: a replica killed under load loses nothing that was acknowledged, a client
retrying through the balancer gets the decision on record, and the record checks whole."""

from __future__ import annotations

import json
import re
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from serving import KeyStore, Record, Settings
from tests.conftest import Trained
from tests.pg_record import drop_schema, fresh_schema
from tests.replica_set import HAPROXY, ReplicaSet
from tests.serving.conftest import parcel

SCORE = "/v1/parcels:score"
RETRYABLE = {502, 503, 504}


@pytest.fixture
def replicas(trained: Trained, tmp_path: Path) -> Iterator[tuple[ReplicaSet, str]]:
    if shutil.which("haproxy") is None and not Path(HAPROXY).exists():
        pytest.skip("HAProxy is not installed (.ci/install-haproxy installs it)")
    where = fresh_schema()
    settings = Settings(data_dir=tmp_path / "keys", registry=trained.registry, **where)
    record = Record(settings)
    sorter = KeyStore(record.db, settings.secret_key).create("sorter", "replica test")[1]
    record.close()
    group = ReplicaSet(tmp_path, trained.registry, where)
    try:
        yield group.up(), sorter
    finally:
        group.close()
        drop_schema(where["database_schema"])


class Load:
    """Clients scoring distinct parcels through the balancer, one parcel a request; a request
    that fails (no answer, 502/503/504) is retried with the same body and X-Request-ID."""

    def __init__(self, url: str, key: str, clients: int = 4) -> None:
        self.url, self.key, self.clients = url, key, clients
        self.acked: dict[str, dict[str, Any]] = {}  # item ID: the answer
        self.failed_tries = 0  # client-visible errors before a retry succeeded
        self.gave_up: list[str] = []
        self.errors: list[BaseException] = []  # a thread's unexpected failure
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(k,)) for k in range(clients)]

    def start(self) -> Load:
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=120)

    def wait_for(self, acked: int, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while len(self.acked) < acked:
            assert not self.errors, repr(self.errors[0])
            assert time.monotonic() < deadline, f"only {len(self.acked)} acknowledged"
            time.sleep(0.05)

    def _run(self, k: int) -> None:
        try:
            self._load(k)
        except BaseException as exc:  # noqa: BLE001 - reported by wait_for and the test
            self.errors.append(exc)

    def _load(self, k: int) -> None:
        headers = {"Authorization": f"Bearer {self.key}"}
        n = 0
        with httpx.Client(base_url=self.url, headers=headers, timeout=30) as client:
            while not self._stop.is_set():
                n += 1
                body, rid = parcel(), f"replica-load-{k}-{n}"
                answer = self._send(client, body, rid)
                with self._lock:
                    if answer is None:
                        self.gave_up.append(body["item_id"])
                    else:
                        self.acked[body["item_id"]] = answer | {"request_id": rid}

    def _send(self, client: httpx.Client, body: dict[str, Any], rid: str) -> dict[str, Any] | None:
        for _ in range(60):
            try:
                r = client.post(SCORE, json=body, headers={"X-Request-ID": rid})
                if r.status_code == 200:
                    return dict(r.json())
                assert r.status_code in RETRYABLE, r.text
            except httpx.TransportError:
                pass
            with self._lock:
                self.failed_tries += 1
            time.sleep(0.2)
        return None


@pytest.mark.slow
def test_a_replica_killed_under_load_loses_nothing_acknowledged(
    replicas: tuple[ReplicaSet, str],
) -> None:
    group, key = replicas
    load = Load(group.url, key).start()
    try:
        load.wait_for(40)
        group.kill(0)  # a whole machine lost, mid-load
        killed_at = len(load.acked)
        load.wait_for(killed_at + 60)
    finally:
        load.stop()
    assert load.gave_up == [] and load.errors == []

    group.start(0)  # the machine comes back, and takes its share again
    group.wait_ready(0)
    after = Load(group.url, key, clients=2).start()
    try:
        after.wait_for(10)
    finally:
        after.stop()

    settings = Settings(data_dir=group.root / "replica1", registry=group.registry, **group.record)
    record = Record(settings)
    try:
        db = record.db
        for item, answer in load.acked.items():
            rows = db.execute(
                "SELECT request_id, summary FROM scored_result WHERE item_id = ?", (item,)
            )
            assert len(rows) == 1, f"{item}: acknowledged but not on record"
            request_id, summary = rows[0]
            assert request_id == answer["request_id"]
            assert json.loads(summary)["decision"] == answer["decision"]
        items = list(load.acked) + list(after.acked)
        logged = dict(
            db.execute(
                "SELECT item_id, count(*) FROM decision_log WHERE "
                "kind = 'decision' GROUP BY item_id"
            )
        )
        history = dict(db.execute("SELECT item_id, count(*) FROM history_item GROUP BY item_id"))
        assert {i: logged.get(i, 0) for i in items} == dict.fromkeys(items, 1)  # none twice
        assert {i: history.get(i, 0) for i in items} == dict.fromkeys(items, 1)
    finally:
        record.close()

    check = group.cli("state", "check", k=1)
    assert check.returncode == 0, check.stdout + check.stderr
    verify = group.cli("audit", "verify", k=1)
    assert verify.returncode == 0, verify.stdout + verify.stderr


@pytest.mark.slow
def test_a_client_cannot_name_its_own_address_through_the_balancer(
    replicas: tuple[ReplicaSet, str],
) -> None:
    """The replicas trust the balancer's X-Forwarded-For (as the Compose file sets them up);
    the balancer drops the one a client sends, so a guesser locked out of a user name cannot
    come back as another address by writing one."""
    group, _ = replicas
    with httpx.Client(base_url=group.url, timeout=30) as client:

        def attempt(address: str) -> int:
            page = client.get("/officer/login")
            csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
            assert csrf
            r = client.post(
                "/officer/login",
                data={"csrf": csrf[1], "username": "olga", "password": "wrong", "next": ""},
                headers={"X-Forwarded-For": address},
            )
            return r.status_code

        codes = [attempt("203.0.113.7") for _ in range(12)]
        assert 429 in codes, codes  # the user name is locked to this client
        assert attempt("203.0.113.8") == 429  # still this client: the header was not believed
