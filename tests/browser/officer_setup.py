"""A real service with the officer view, accounts of each role and a day of scored parcels;
and, for the browser tests, a manifest screened in batch and recorded in the same record
database before the service starts."""

from __future__ import annotations

import re
from collections.abc import Generator
from pathlib import Path
from typing import Any

import httpx
import pyarrow.parquet as pq

from serving import Record, Settings
from serving.officer import UserStore
from tests.serving.conftest import Server, make_settings, parcel, start_server

PASSWORD = "correct horse battery"
USERS = {"olga": "officer", "ada": "admin", "sam": "sorter"}
ORIGINS = ("NL", "CA", "ES", "DE", "CN")


def _declaration(i: int) -> dict[str, Any]:
    risky = i % 3 == 0
    changes: dict[str, Any] = {
        "origin_country": ORIGINS[i % len(ORIGINS)],
        "sender.country": ORIGINS[i % len(ORIGINS)],
        "sender.name": f"Sender {i % 17}",
        "recipient.name": f"Recipient {i}",
        "recipient.street": f"{i} Oak St",
        "gross_weight_kg": 0.05 + (i % 7) * 0.1,
        "declared_value": 1.0 if risky else 10.0 + i,
    }
    if risky:
        changes["category"] = "gift"
        changes["lines"] = [
            {"description": "gift", "quantity": 1, "net_weight_kg": 0.04, "value": 1.0}
        ]
    return parcel(**changes)


def screen_manifest(
    settings: Settings, registry: Path, data: Path, rows: int = 600, capacity: str = "10%"
) -> dict[str, Any]:
    """Screen the last ``rows`` simulated declarations as a batch manifest and record the
    run's decisions in the record database of ``settings`` (which it creates)."""
    from screening import ModelRegistry
    from serving.batch import BatchConfig, Capacity, EngineSpec, screen

    Record(settings).close()  # the record database the service will open
    table = pq.read_table(data / "declarations.parquet")
    manifest = settings.data_dir / "manifest-batch.parquet"
    pq.write_table(table.slice(table.num_rows - rows), manifest)
    models = ModelRegistry(registry)
    spec = EngineSpec(
        str(models.load("champion")),
        models.resolve("champion"),
        history=str(settings.state_path),
        pseudonymisation_key=settings.pseudonymisation_key,
        secret_key=settings.secret_key,
    )
    return screen(
        BatchConfig(
            manifest,
            settings.data_dir / "screened",
            spec,
            Capacity.parse(capacity),
            progress_bar=False,
            record=settings,
        )
    )


def officer_server(
    registry: Path, tmp: Path, parcels: int = 90, batch_from: Path | None = None
) -> Generator[Server, None, None]:
    """The service with accounts and ``parcels`` scored over HTTP; with ``batch_from`` (a
    simulated data set) a manifest of it screened in batch first (``server.batch``)."""
    settings = make_settings(
        tmp, registry, max_batch=500, max_body_bytes=2_000_000, shadow_check_seconds=0
    )
    batch = screen_manifest(settings, registry, batch_from) if batch_from else None
    for server in start_server(settings):
        server.batch = batch  # type: ignore[attr-defined]
        users = UserStore(server.service.state_db)
        for name, role in USERS.items():
            users.add(
                name,
                PASSWORD,
                "officer" if role == "sorter" else role,
                officer_ref=f"NL-C-{name.upper()}",
            )
        # a sorter's account, as an older release could make one (no longer: it can never
        # sign in); its sign-in is still refused for the role
        server.service.state_db.execute(
            "UPDATE officer_user SET role = 'sorter' WHERE username = 'sam'"
        )
        batch_body = {"declarations": [_declaration(i) for i in range(parcels)]}
        r = server.client("sorter").post("/v1/parcels:score-batch", json=batch_body)
        assert r.status_code == 200, r.text
        yield server


def sign_in(
    url: str, username: str, password: str = PASSWORD
) -> tuple[httpx.Client, httpx.Response]:
    """A client signed in (or refused) through the real form; the caller closes it."""
    client = httpx.Client(base_url=url, timeout=30)
    page = client.get("/officer/login")
    response = client.post(
        "/officer/login",
        data={"csrf": csrf_of(page.text), "username": username, "password": password, "next": ""},
    )
    return client, response


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field in the page"
    return found[1]
