"""uvicorn's httptools protocol, with the limits on request heads that it lacks.

uvicorn bounds a request head only under its h11 parser (``h11_max_incomplete_event_size``);
under httptools, which ``serve`` uses (about twice h11's requests per second), a head of any
size and any number of header lines is read into memory, and a client that sends a head
slowly, or only opens the connection, holds it for ever: the keep-alive time-out starts only
after a response. :class:`LimitedHttpToolsProtocol` adds, per connection:

* a head (request line and headers) over ``max_header_bytes``: 431, connection closed; the
  count runs on the bytes received, so a single 100 MB header is cut at the first read past
  the limit rather than buffered whole;
* more than ``max_headers`` header lines: 431, connection closed;
* a head not complete ``header_timeout`` seconds after the connection opened, or after the
  first byte of a request on a kept-alive connection: 408, connection closed (slow-loris);
* a body not complete ``body_timeout`` seconds after its head: connection closed (the
  request's handler sees a disconnect).

uvicorn's own settings cover the rest: ``limit_concurrency`` (503 past so many connections
and requests in progress per worker) and ``timeout_keep_alive`` (idle connections).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal, cast

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

Phase = Literal["head", "body", "idle"]


@dataclass(frozen=True, slots=True)
class HttpLimits:
    """Limits on one request's head and on the time its parts may take to arrive."""

    max_header_bytes: int = 16_384
    max_headers: int = 100
    header_timeout: float = 10.0
    body_timeout: float = 30.0


class _Refused(Exception):
    """Raised in a parser callback to stop parsing a request that is refused."""


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """:class:`HttpToolsProtocol` with :class:`HttpLimits` (see the module docstring)."""

    def __init__(self, *args: Any, limits: HttpLimits | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = limits or HttpLimits()
        self._phase: Phase = "idle"
        self._head_bytes = 0
        self._head_lines = 0
        self._timer: asyncio.TimerHandle | None = None
        self._refusal: bytes | None = None

    # -- the phases of a request, each with its deadline ---------------------------------------

    def _arm(self, seconds: float, on_time_out: Any) -> None:
        self._disarm()
        self._timer = self.loop.call_later(seconds, on_time_out)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _begin_head(self) -> None:
        self._phase, self._head_bytes, self._head_lines = "head", 0, 0
        self._arm(self.limits.header_timeout, self._head_timed_out)

    def _head_timed_out(self) -> None:
        self._timer = None
        self._refuse(
            408,
            "request_timeout",
            f"the request head did not arrive within {self.limits.header_timeout:g} s",
        )

    def _body_timed_out(self) -> None:
        self._timer = None
        self.logger.warning(
            "closing a connection: a request body did not arrive within %g s",
            self.limits.body_timeout,
        )
        if not self.transport.is_closing():
            self.transport.close()

    def _refuse(self, status: int, code: str, message: str) -> None:
        """Answer ``status`` (unless another answer is under way on this connection) and
        close the connection."""
        self._disarm()
        if self._refusal is not None or self.transport.is_closing():
            return
        body = json.dumps({"error": {"code": code, "message": message}}).encode()
        self._refusal = b"".join(
            [
                STATUS_LINE[status],
                b"content-type: application/json\r\n",
                b"content-length: ",
                str(len(body)).encode(),
                b"\r\n",
                b"connection: close\r\n\r\n",
                body,
            ]
        )
        if self.cycle is None or self.cycle.response_complete:
            self.transport.write(self._refusal)
        self.transport.close()

    # -- asyncio.Protocol ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._begin_head()  # a connection that sends nothing is closed as a slow head

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refusal is not None:
            return
        if self._phase == "idle" and (self.cycle is None or self.cycle.response_complete):
            self._begin_head()  # bytes between requests (even bare CRLFs) start a head
        if self._phase == "head":
            self._head_bytes += len(data)
        super().data_received(data)
        if self._phase == "head" and self._head_bytes > self.limits.max_header_bytes:
            self._refuse(431, "headers_too_large", self._too_large())

    def send_400_response(self, msg: str) -> None:
        if self._refusal is None:  # a malformed request, not one refused here
            super().send_400_response(msg)

    # -- parser callbacks ---------------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self._phase != "head":
            self._begin_head()
        super().on_message_begin()

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_lines += 1
        if self._head_lines > self.limits.max_headers:
            self._refuse(
                431, "headers_too_large", f"more than {self.limits.max_headers} header lines"
            )
            raise _Refused
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        size = len(self.url) + sum(len(n) + len(v) + 4 for n, v in self.headers)
        if size > self.limits.max_header_bytes:  # a whole head that came in one read
            self._refuse(431, "headers_too_large", self._too_large())
            raise _Refused
        self._phase = "body"
        self._arm(self.limits.body_timeout, self._body_timed_out)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._phase = "idle"
        self._disarm()
        super().on_message_complete()

    def _too_large(self) -> str:
        return f"the request head is larger than the limit of {self.limits.max_header_bytes} bytes"


def limited_protocol(limits: HttpLimits) -> type[asyncio.Protocol]:
    """What uvicorn's ``http`` option takes: it calls it as it would the protocol class. A
    partial of a module-level class, so that it pickles into ``serve --workers`` processes."""
    return cast(type[asyncio.Protocol], partial(LimitedHttpToolsProtocol, limits=limits))
