"""ASGI middleware: request ID, body-size limit (413) and request metrics, in one pass."""

from __future__ import annotations

import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._errors import PayloadTooLarge, ServingError, UnsupportedEncoding, error_body
from ._fast import FastScore
from ._json import dump_json
from ._metrics import Metrics

_RID = b"x-request-id"


def _valid(rid: str) -> bool:
    return 0 < len(rid) <= 64 and all(c.isalnum() or c in "._:-" for c in rid)


class ServiceMiddleware:
    def __init__(
        self, app: ASGIApp, max_body_bytes: int, metrics: Metrics, fast: FastScore | None = None
    ) -> None:
        self.app, self.max_body, self.metrics = app, max_body_bytes, metrics
        #: Answers ``POST /v1/parcels:score`` without FastAPI's routing (see ``_fast``).
        self.fast = fast

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = dict(scope["headers"])
        given = headers.get(_RID, b"").decode("latin-1")
        rid = given if _valid(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (_RID, rid.encode())]
            await send(message)

        fast = self.fast if self.fast is not None and self.fast.handles(scope) else None
        if fast is not None:
            scope["route"] = fast  # labels its metrics, a 413 included
        try:
            length = headers.get(b"content-length")
            if length is not None and (not length.isdigit() or int(length) > self.max_body):
                await self._refuse(send_with_id, PayloadTooLarge(self._message()))
                return
            encoding = headers.get(b"content-encoding", b"identity").strip().lower()
            if encoding not in (b"", b"identity"):
                name = encoding.decode("latin-1")[:40]
                await self._refuse(
                    send_with_id,
                    UnsupportedEncoding(
                        f"the request body is sent with Content-Encoding {name!r}: send it "
                        "uncompressed (the service does not inflate bodies)"
                    ),
                )
                return
            received = 0

            async def limited() -> Message:
                nonlocal received
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > self.max_body:
                        raise PayloadTooLarge(self._message())
                return message

            if fast is not None:
                await fast(scope, limited, send_with_id, rid)
            else:
                await self.app(scope, limited, send_with_id)
        finally:
            route: Any = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            self.metrics.observe_request(
                path, scope["method"], status, time.perf_counter() - started
            )

    def _message(self) -> str:
        return f"the request body is larger than the limit of {self.max_body} bytes"

    async def _refuse(self, send: Send, error: ServingError) -> None:
        """Answer before the body is read (413, 415), and close the connection."""
        body = dump_json(error_body(error))
        await send(
            {
                "type": "http.response.start",
                "status": error.status_code,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
