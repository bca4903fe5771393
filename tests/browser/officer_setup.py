"""A real service with the officer view, accounts of each role and a day of scored parcels."""

from __future__ import annotations

import re
from collections.abc import Generator
from pathlib import Path
from typing import Any

import httpx

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
        changes["lines"] = [{"description": "gift", "quantity": 1, "net_weight_kg": 0.04,
                             "value": 1.0}]  # fmt: skip
    return parcel(**changes)


def officer_server(registry: Path, tmp: Path, parcels: int = 90) -> Generator[Server, None, None]:
    settings = make_settings(tmp, registry, max_batch=500, max_body_bytes=2_000_000,
                             shadow_check_seconds=0)  # fmt: skip
    for server in start_server(settings):
        users = UserStore(server.service.state_db)
        for name, role in USERS.items():
            users.add(name, PASSWORD, role, officer_ref=f"NL-C-{name.upper()}")
        batch = {"declarations": [_declaration(i) for i in range(parcels)]}
        r = server.client("sorter").post("/v1/parcels:score-batch", json=batch)
        assert r.status_code == 200, r.text
        yield server


def sign_in(url: str, username: str,
            password: str = PASSWORD) -> tuple[httpx.Client, httpx.Response]:
    """A client signed in (or refused) through the real form; the caller closes it."""
    client = httpx.Client(base_url=url, timeout=30)
    page = client.get("/officer/login")
    response = client.post("/officer/login", data={
        "csrf": csrf_of(page.text), "username": username, "password": password, "next": ""})
    return client, response


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field in the page"
    return found[1]
