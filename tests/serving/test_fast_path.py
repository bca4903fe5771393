"""The plain-ASGI fast path of POST /v1/parcels:score answers exactly as the FastAPI route."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from serving._fast import FastScore

from .conftest import Server, parcel


def _answers(server: Server, bad: dict[str, Any]) -> list[tuple[int, Any]]:
    keys = server.keys
    cases: list[tuple[str | None, bytes]] = [
        (None, b"{}"),  # no key: 401
        ("ps_nope_nope", b"{}"),  # unknown key: 401
        (keys["sorter"], b"{not json"),  # malformed JSON: 422
        (keys["sorter"], b"[1, 2]"),  # not one object: 422
        (keys["sorter"], httpx.Request("POST", "/", json=bad).content),  # contract: 422
        (keys["sorter"], b'{"gross_weight_kg": NaN}'),  # strict JSON: 422
    ]
    out = []
    with httpx.Client(base_url=server.url, timeout=30) as client:
        for key, body in cases:
            headers = {"Content-Type": "application/json"}
            if key:
                headers["Authorization"] = f"Bearer {key}"
            r = client.post("/v1/parcels:score", content=body, headers=headers)
            out.append((r.status_code, r.json()))
        ok = parcel()
        r = client.post(
            "/v1/parcels:score", json=ok, headers={"Authorization": f"Bearer {keys['sorter']}"}
        )
        answer = r.json()
        out.append(
            (
                r.status_code,
                {k: v for k, v in answer.items() if k != "request_id"} | {"item_id": "same"},
            )
        )
    return out


def test_fast_path_and_fastapi_route_answer_alike(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = parcel()
    bad["gross_weight_kg"] = -1
    fast = _answers(server, bad)
    monkeypatch.setattr(FastScore, "handles", staticmethod(lambda scope: False))
    routed = _answers(server, bad)
    assert [s for s, _ in fast] == [401, 401, 422, 422, 422, 422, 200]
    assert [s for s, _ in routed] == [s for s, _ in fast]
    for (_, a), (_, b) in zip(fast[:-1], routed[:-1], strict=True):
        assert a == b
    a, b = fast[-1][1], routed[-1][1]
    assert a.keys() == b.keys() and a["mode"] == b["mode"] == "model"


def _count(server: Server, status: int) -> float:
    """parcelscreen_http_requests_total of POST /v1/parcels:score with ``status``."""
    series = (
        'parcelscreen_http_requests_total{method="POST",route="/v1/parcels:score",'
        f'status="{status}"}} '
    )
    text = server.client("admin").get("/metrics").text
    return sum(float(line[len(series) :]) for line in text.splitlines() if line.startswith(series))


def test_score_route_is_answered_before_the_middleware_stack(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hot path skips Starlette's stack but keeps the request ID, body limit and metrics;
    every other route, and the score route where the fast path declines, takes the stack."""
    stacked: list[str] = []
    inner = FastAPI.__call__

    async def counted(self: FastAPI, scope: Any, receive: Any, send: Any) -> None:
        stacked.append(scope.get("path", ""))
        await inner(self, scope, receive, send)

    before = _count(server, 200), _count(server, 413)
    monkeypatch.setattr(FastAPI, "__call__", counted)
    client = server.client("sorter")
    r = client.post("/v1/parcels:score", json=parcel(), headers={"X-Request-ID": "hot-1"})
    assert r.status_code == 200 and r.headers["x-request-id"] == "hot-1"
    assert r.json()["request_id"] == "hot-1"
    headers = {"Content-Type": "application/json", "X-Request-ID": "hot-2"}
    too_big = b" " * (server.settings.max_body_bytes + 1)
    big = client.post("/v1/parcels:score", content=too_big, headers=headers)
    assert big.status_code == 413 and big.headers["x-request-id"] == "hot-2"
    assert stacked == []
    monkeypatch.setattr(FastAPI, "__call__", inner)
    assert (_count(server, 200), _count(server, 413)) == (before[0] + 1, before[1] + 1)
    monkeypatch.setattr(FastAPI, "__call__", counted)
    assert client.get("/v2/health/live").status_code == 200
    monkeypatch.setattr(FastScore, "handles", staticmethod(lambda scope: False))
    assert client.post("/v1/parcels:score", json=parcel()).status_code == 200
    assert stacked == ["/v2/health/live", "/v1/parcels:score"]


def test_an_error_escaping_the_hot_path_gets_the_json_500(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(self: FastScore, scope: Any, receive: Any, send: Any, rid: str) -> None:
        raise RuntimeError("broken on purpose")

    monkeypatch.setattr(FastScore, "__call__", broken)
    with httpx.Client(base_url=server.url, timeout=30) as client:  # a fresh connection
        r = client.post(
            "/v1/parcels:score",
            json=parcel(),
            headers={"Authorization": f"Bearer {server.keys['sorter']}"},
        )
    assert r.status_code == 500
    assert r.json() == {"error": {"code": "internal", "message": "internal error"}}
