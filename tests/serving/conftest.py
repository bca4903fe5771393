"""A real model trained on simulated data, and a real uvicorn server on 127.0.0.1."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from data_contracts import make_s10
from serving import Role, Service, Settings, create_app
from tests.conftest import Trained
from tests.factories import declaration
from tests.pg_record import record_from_env

TEST_KEY = "development-only-pseudonymisation-key"


@dataclass
class Server:
    url: str
    service: Service
    settings: Settings
    keys: dict[str, str]
    clients: dict[str | None, httpx.Client] = field(default_factory=dict)

    def client(self, role: str | None = "sorter") -> httpx.Client:
        """A keep-alive client with the key of ``role`` (None: no key); closed at teardown."""
        if role not in self.clients:
            headers = {"Authorization": f"Bearer {self.keys[role]}"} if role else {}
            self.clients[role] = httpx.Client(base_url=self.url, headers=headers, timeout=30)
        return self.clients[role]


def start_server(settings: Settings) -> Generator[Server, None, None]:
    """Run create_app(settings) under uvicorn on an ephemeral port in a thread."""
    service = Service(settings)
    app = create_app(settings, service)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="warning", access_log=False, lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    keys = {role.value: service.keys.create(role, f"test {role.value}")[1] for role in Role}
    running = Server(f"http://127.0.0.1:{port}", service, settings, keys)
    try:
        yield running
    finally:
        for client in running.clients.values():
            client.close()
        server.should_exit = True
        thread.join(timeout=10)


def make_settings(tmp: Path, registry: Path, **changes: Any) -> Settings:
    values: dict[str, Any] = (
        {
            "data_dir": tmp,
            "registry": registry,
            "reload_seconds": 0,
            "capacity": 0.4,
            "random_share": 0.1,
            "max_batch": 20,
            "max_body_bytes": 64_000,
        }
        | record_from_env()
        | changes
    )
    return Settings(**values)


@pytest.fixture(scope="session")
def server(trained: Trained, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from start_server(make_settings(tmp_path_factory.mktemp("serving"), trained.registry))


@pytest.fixture(scope="module")
def swap_server(trained: Trained, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server over its own copy of the registry, for hot-swap tests."""
    root = tmp_path_factory.mktemp("swap")
    shutil.copytree(trained.registry, root / "registry")
    yield from start_server(make_settings(root / "state", root / "registry", reload_seconds=0.2))


_serial = iter(range(20_000_000, 30_000_000))


def parcel(**changes: Any) -> dict[str, Any]:
    """A valid declaration with a fresh item ID (changes as in tests.factories.declaration)."""
    changes.setdefault("item_id", make_s10("RR", next(_serial), "NL"))
    return declaration(**changes)


class _CountingLock:
    """A store's lock that counts the acquisitions that found it taken (and so waited)."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.waited = inner, 0

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        if self.inner.acquire(False):
            return True
        self.waited += 1
        return bool(self.inner.acquire(blocking, timeout))

    def release(self) -> None:
        self.inner.release()

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def live_while_store_held(server: Server, request: Callable[[], object]) -> bool:
    """Whether /v2/health/live answers while ``request`` waits for the held state store (as a
    batch waiting for the writer lock holds it): its wait must not be on the event loop. The
    liveness check is made once the request is seen waiting for the store's lock (a count,
    not a sleep that a busy machine may outrun)."""
    db = server.service.state_db
    counting = _CountingLock(db.lock)
    db.lock = counting  # type: ignore[assignment]
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with counting:
            held.set()
            release.wait(120)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(60), "the store's lock was never free to hold"
        waiting = threading.Thread(target=request)
        waiting.start()
        for _ in range(1200):  # a minute, only against a hang
            if counting.waited:
                break
            time.sleep(0.05)
        assert counting.waited, "the request never waited for the held store"
        try:
            live = httpx.get(f"{server.url}/v2/health/live", timeout=30)
            return live.status_code == 200 and not release.is_set()
        except httpx.TimeoutException:
            return False
        finally:
            release.set()
            waiting.join()
    finally:
        release.set()
        holder.join()
        db.lock = counting.inner
