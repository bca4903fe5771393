"""Concurrent score requests are scored together, and each gets its own answer and records."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from serving import Service
from serving._service import ScoreRequest

from .conftest import Server, parcel


def _concurrently(server: Server, bodies: list[dict[str, Any]],
                  keys: list[str]) -> list[httpx.Response]:  # fmt: skip
    async def run() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            return list(await asyncio.gather(*(
                client.post("/v1/parcels:score", json=body,
                            headers={"Authorization": f"Bearer {key}",
                                     "X-Request-ID": f"req-{i}"})
                for i, (body, key) in enumerate(zip(bodies, keys, strict=True)))))  # fmt: skip

    return asyncio.run(run())


def test_concurrent_requests_share_a_scoring_call_and_keep_their_own_answers(
    server: Server, monkeypatch: Any
) -> None:
    calls: list[list[ScoreRequest]] = []
    original = Service.score_many

    def spy(self: Service, requests: list[ScoreRequest]) -> list[list[dict[str, Any]]]:
        calls.append(list(requests))
        return original(self, requests)

    monkeypatch.setattr(Service, "score_many", spy)
    bodies = [parcel() for _ in range(24)]
    bodies[5]["gross_weight_kg"] = -1  # one bad declaration among them
    keys = [server.keys["sorter"] if i % 2 else server.keys["officer"] for i in range(24)]
    answers = _concurrently(server, bodies, keys)

    assert sum(len(c) for c in calls) == 24
    assert max(len(c) for c in calls) > 1, "concurrent requests were never scored together"
    for i, (body, answer) in enumerate(zip(bodies, answers, strict=True)):
        if i == 5:
            assert answer.status_code == 422
            assert "gross_weight_kg" in answer.text
            continue
        assert answer.status_code == 200, answer.text
        out = answer.json()
        assert out["item_id"] == body["item_id"]
        assert out["request_id"] == answer.headers["x-request-id"] == f"req-{i}"

    records = {r["item_id"]: r for r in server.service.audit.records("decision")}
    callers = {r["caller"] for r in records.values()}
    for i, body in enumerate(bodies):
        if i == 5:
            assert body["item_id"] not in records
            continue
        record = records[body["item_id"]]
        assert record["request_id"] == f"req-{i}"
        assert record["caller"] == keys[i].split("_")[1]
    assert len(callers) >= 2
    assert server.service.audit.verify().ok


def test_a_store_failure_answers_every_request_in_the_batch(
    server: Server, monkeypatch: Any
) -> None:
    from serving import StoreUnavailable

    def fail(self: Service, requests: list[ScoreRequest]) -> list[list[dict[str, Any]]]:
        raise StoreUnavailable("the store state.sqlite cannot be written now")

    monkeypatch.setattr(Service, "score_many", fail)
    answers = _concurrently(server, [parcel() for _ in range(6)], [server.keys["sorter"]] * 6)
    assert [a.status_code for a in answers] == [503] * 6
    assert all("cannot be written" in a.text for a in answers)


class _Counting:
    """Stands in for :class:`Service`: records each batch's callers; a batch takes 3 ms."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def score_many(self, requests: list[ScoreRequest]) -> list[list[dict[str, Any]]]:
        self.batches.append([r.request_id.split("/")[0] for r in requests])
        time.sleep(0.003)  # so that requests arrive while a batch runs
        return [[{"item_id": r.request_id}] for r in requests]


def _closed_loop(linger: float, clients: int, rounds: int) -> tuple[_Counting, int]:
    """``clients`` callers, each sending its next request as soon as it is answered."""
    from serving._auth import Caller, Role
    from serving._batcher import ScoreBatcher

    service = _Counting()
    batcher = ScoreBatcher(service, linger=linger)  # type: ignore[arg-type]
    gathers = 0
    gather = batcher._gather

    async def counted(expected: int) -> None:
        nonlocal gathers
        gathers += 1
        await gather(expected)

    batcher._gather = counted  # type: ignore[method-assign]
    caller = Caller("k", Role.SORTER)

    async def client(name: str, start: float) -> None:
        await asyncio.sleep(start)  # the callers start one by one, as sorting lines do
        for k in range(rounds):
            (answer,) = await batcher.score([{}], caller, f"{name}/{k}")
            assert answer == {"item_id": f"{name}/{k}"}

    async def run() -> None:
        await asyncio.gather(*(client(f"c{i}", 0.001 * i) for i in range(clients)))

    try:
        asyncio.run(run())
    finally:
        batcher.close()
    return service, gathers


def test_callers_just_answered_join_the_next_batch() -> None:
    """Callers that started one by one end up in one batch: each batch waits (briefly) for
    the callers the previous one answered."""
    service, gathers = _closed_loop(linger=0.5, clients=6, rounds=20)
    assert sum(len(b) for b in service.batches) == 6 * 20
    assert gathers > 0
    # the first batches gather the callers, the last lose those that are done
    assert all(sorted(b) == [f"c{i}" for i in range(6)] for b in service.batches[2:-2])


def test_a_lone_caller_never_waits() -> None:
    service, gathers = _closed_loop(linger=0.5, clients=1, rounds=20)
    assert [len(b) for b in service.batches] == [1] * 20
    assert gathers == 0


def test_without_linger_the_callers_stay_split() -> None:
    """The behaviour the wait removes: the callers answered by one batch come back while the
    next runs, so two cohorts alternate for good."""
    service, gathers = _closed_loop(linger=0, clients=6, rounds=20)
    assert gathers == 0
    assert sum(len(b) for b in service.batches) == 6 * 20
    assert all(len(b) < 6 for b in service.batches[2:-2])
