"""Concurrent score requests are scored together, and each gets its own answer and records."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import httpx

from serving import Service
from serving._service import ScoreRequest

from .conftest import Server, parcel


def _concurrently(
    server: Server, bodies: list[dict[str, Any]], keys: list[str]
) -> list[httpx.Response]:
    async def run() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            return list(
                await asyncio.gather(
                    *(
                        client.post(
                            "/v1/parcels:score",
                            json=body,
                            headers={"Authorization": f"Bearer {key}", "X-Request-ID": f"req-{i}"},
                        )
                        for i, (body, key) in enumerate(zip(bodies, keys, strict=True))
                    )
                )
            )

    return asyncio.run(run())


def test_concurrent_requests_share_a_scoring_call_and_keep_their_own_answers(
    server: Server, monkeypatch: Any
) -> None:
    calls: list[list[ScoreRequest]] = []
    original = Service.score_many

    # the first batch is held until all 24 requests have reached the batcher, so the others
    # wait together whatever the machine's load (a count, not a race against the clock)
    import serving._batcher as batcher_module

    arrived, all_arrived = [0], threading.Event()
    validate = getattr(batcher_module, "validate_declarations")  # noqa: B009 - not exported

    def counted(raws: Any) -> Any:
        arrived[0] += 1  # on the event loop: one request reached the batcher
        if arrived[0] == 24:
            all_arrived.set()
        return validate(raws)

    def spy(self: Service, requests: list[ScoreRequest]) -> list[list[dict[str, Any]]]:
        if not calls:
            assert all_arrived.wait(60), f"only {arrived[0]} of 24 requests reached the batcher"
        calls.append(list(requests))
        return original(self, requests)

    monkeypatch.setattr(batcher_module, "validate_declarations", counted)
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
    """Stands in for :class:`Service`: records each batch's callers. While a batch runs (on
    the batcher's thread) it lets the event loop turn a few times, so that every caller able
    to send its next request has sent it before the batch ends: which requests arrive during
    a batch is then fixed by the order of events, not by how fast the machine is. During the
    first batch, it lets the second cohort of callers start."""

    def __init__(self, loop: asyncio.AbstractEventLoop, second: asyncio.Event) -> None:
        self.loop, self.second = loop, second
        self.batches: list[list[str]] = []

    def score_many(self, requests: list[ScoreRequest]) -> list[list[dict[str, Any]]]:
        self.batches.append([r.request_id.split("/")[0] for r in requests])
        if len(self.batches) == 1:
            self.loop.call_soon_threadsafe(self.second.set)
        for _ in range(3):  # each round trip runs everything the loop had ready
            asyncio.run_coroutine_threadsafe(asyncio.sleep(0), self.loop).result(timeout=60)
        return [[{"item_id": r.request_id}] for r in requests]


def _closed_loop(linger: float, clients: int, rounds: int) -> tuple[_Counting, int]:
    """``clients`` callers, each sending its next request as soon as it is answered. The first
    half start together; the others start while the first batch runs (as sorting lines start
    one after another), so without the linger the two cohorts would stay split."""
    from serving._auth import Caller, Role
    from serving._batcher import ScoreBatcher

    gathers = 0
    caller = Caller("k", Role.SORTER)

    async def run() -> _Counting:
        nonlocal gathers
        service = _Counting(asyncio.get_running_loop(), asyncio.Event())
        batcher = ScoreBatcher(service, linger=linger)  # type: ignore[arg-type]
        gather = batcher._gather

        async def counted(expected: int) -> None:
            nonlocal gathers
            gathers += 1
            await gather(expected)

        batcher._gather = counted  # type: ignore[method-assign]

        async def client(name: str, late: bool) -> None:
            if late:
                await service.second.wait()
            for k in range(rounds):
                (answer,) = await batcher.score([{}], caller, f"{name}/{k}")
                assert answer == {"item_id": f"{name}/{k}"}

        first = (clients + 1) // 2
        try:
            await asyncio.gather(*(client(f"c{i}", i >= first) for i in range(clients)))
        finally:
            batcher.close()
        return service

    service = asyncio.run(run())
    return service, gathers


def test_callers_just_answered_join_the_next_batch() -> None:
    """Callers that started in two cohorts end up in one batch: a batch waits (at most the
    linger) for the callers the previous one answered."""
    service, gathers = _closed_loop(linger=0.5, clients=6, rounds=20)
    assert sum(len(b) for b in service.batches) == 6 * 20
    assert gathers > 0
    # the first batch holds the first cohort; from the second on, every caller is in every
    # batch, until the first cohort (one round ahead) is done
    assert sorted(service.batches[0]) == ["c0", "c1", "c2"]
    assert all(sorted(b) == [f"c{i}" for i in range(6)] for b in service.batches[1:-1])
    assert sorted(service.batches[-1]) == ["c3", "c4", "c5"]


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
    assert [sorted(b) for b in service.batches] == [["c0", "c1", "c2"], ["c3", "c4", "c5"]] * 20
