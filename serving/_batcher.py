"""Coalesces concurrent score requests into one scoring call (dynamic batching).

Postal sorting sends many one-parcel requests at once. Each request's handler parses its body
and hands its declarations to :class:`ScoreBatcher`; the first one schedules a flush on the
event loop, and by the time it runs every request that arrived in the same loop turn has
joined. The flush scores them all with one engine call and one write per store (results,
decision log, entity history, officer view), then answers each request with its own items.
Nothing is answered before its records are committed, so batching changes no guarantee: it
only shares the fixed costs (numpy set-up, the ONNX call, SQLite transactions) between
requests. Under light load a batch holds one request and nothing waits for a timer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from ._auth import Caller
from ._service import ScoreRequest, Service


class ScoreBatcher:
    """Scores requests that arrive together in one call of :meth:`Service.score_many`."""

    def __init__(self, service: Service, max_items: int = 256) -> None:
        self.service = service
        #: A flush takes whole requests until this many declarations (at least one request).
        self.max_items = max_items
        self._pending: list[tuple[ScoreRequest, asyncio.Future[list[dict[str, Any]]]]] = []
        self._scheduled = False

    async def score(self, raws: Sequence[Any], caller: Caller,
                    request_id: str) -> list[dict[str, Any]]:  # fmt: skip
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[dict[str, Any]]] = loop.create_future()
        self._pending.append((ScoreRequest(raws, caller, request_id), future))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)
        return await future

    def _take(self) -> list[tuple[ScoreRequest, asyncio.Future[list[dict[str, Any]]]]]:
        taken, items = 0, 0
        for request, _ in self._pending:
            if taken and items + len(request.raws) > self.max_items:
                break
            taken += 1
            items += len(request.raws)
        batch, self._pending = self._pending[:taken], self._pending[taken:]
        return batch

    def _flush(self) -> None:
        batch = [(r, f) for r, f in self._take() if not f.cancelled()]
        if self._pending:
            asyncio.get_running_loop().call_soon(self._flush)
        else:
            self._scheduled = False
        if not batch:
            return
        try:
            answers = self.service.score_many([request for request, _ in batch])
        except Exception as exc:  # a store or model failure answers every request in it
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), answer in zip(batch, answers, strict=True):
            if not future.done():
                future.set_result(answer)
