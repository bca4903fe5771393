"""Coalesces concurrent score requests into one scoring call (dynamic batching).

Postal sorting sends many one-parcel requests at once. Each request's handler parses its body
and hands its declarations to :class:`ScoreBatcher`. One batch is scored at a time, on a
worker thread, while the event loop goes on reading requests; every request that arrives
meanwhile joins the next batch. A batch is scored with one engine call and one write per
store (results, decision log, entity history, officer view), and each request is answered
with its own items only after its records are committed, so batching changes no guarantee:
it only shares the fixed costs (numpy set-up, the ONNX call, SQLite transactions) between
requests and lets the loop parse requests while a batch waits on a store's lock.

Callers that send their next request as soon as they are answered (a sorting machine's
client, or a load generator) would otherwise split into two cohorts: those that arrived
during a batch make the next batch, while the ones just answered come back a moment later
and wait a whole batch. So after a batch, if fewer requests are waiting than were in flight
(just answered plus waiting), the batcher waits up to ``linger`` for the rest. Under light
load a batch holds one request and nothing waits: a lone request finds nothing in flight.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ._auth import Caller
from ._service import ScoreRequest, Service, validate_declarations

Pending = tuple[ScoreRequest, "asyncio.Future[list[dict[str, Any]]]"]


class ScoreBatcher:
    """Scores requests that arrive together in one call of :meth:`Service.score_many`."""

    def __init__(self, service: Service, max_items: int = 256, linger: float = 0.001) -> None:
        self.service = service
        #: A batch takes whole requests until this many declarations (at least one request).
        self.max_items = max_items
        #: Longest wait (seconds) for the callers just answered to send their next request.
        self.linger = linger
        self._pending: list[Pending] = []
        self._arrived: asyncio.Event | None = None
        self._running = False
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="score-batch")
        #: Requests of several declarations are validated here, off the scoring thread, so a
        #: large invalid batch delays no one else's scores.
        self._validator = ThreadPoolExecutor(max_workers=1, thread_name_prefix="validate")

    async def score(
        self, raws: Sequence[Any], caller: Caller, request_id: str
    ) -> list[dict[str, Any]]:
        loop = asyncio.get_running_loop()
        if len(raws) == 1:  # one declaration: its validation is small and bounded (capped)
            validated = validate_declarations(raws)
        else:
            validated = await loop.run_in_executor(self._validator, validate_declarations, raws)
        future: asyncio.Future[list[dict[str, Any]]] = loop.create_future()
        self._pending.append((ScoreRequest(raws, caller, request_id, validated), future))
        if self._arrived is not None:
            self._arrived.set()
        if not self._running:
            self._running = True
            loop.create_task(self._drain())
        return await future

    def _take(self) -> list[Pending]:
        taken, items = 0, 0
        for request, _ in self._pending:
            if taken and items + len(request.raws) > self.max_items:
                break
            taken += 1
            items += len(request.raws)
        batch, self._pending = self._pending[:taken], self._pending[taken:]
        return [(r, f) for r, f in batch if not f.cancelled()]

    async def _gather(self, expected: int) -> None:
        """Wait (at most ``linger``) until ``expected`` requests are pending, counted from
        when the answers of the last batch have gone out."""
        loop = asyncio.get_running_loop()
        await asyncio.sleep(0)  # the handlers answered by the last batch send their answers
        deadline = loop.time() + self.linger
        arrived = self._arrived = self._arrived or asyncio.Event()
        while len(self._pending) < expected:
            left = deadline - loop.time()
            if left <= 0:
                return
            arrived.clear()
            try:
                await asyncio.wait_for(arrived.wait(), left)
            except TimeoutError:
                return

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        expected = 0  # callers in flight: those just answered and those already waiting
        try:
            while self._pending:
                if self.linger > 0 and len(self._pending) < expected:
                    await self._gather(expected)
                batch = self._take()
                if not batch:
                    continue
                requests = [request for request, _ in batch]
                try:
                    answers = await loop.run_in_executor(
                        self._executor, self.service.score_many, requests
                    )
                except Exception as exc:  # a store or model failure answers every request in it
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for (_, future), answer in zip(batch, answers, strict=True):
                    if not future.done():
                        future.set_result(answer)
                expected = len(batch) + len(self._pending)
        finally:
            self._running = False

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        self._validator.shutdown(wait=True)
