"""The app factory: ``create_app(settings)`` wires the service, routes, errors and middleware."""

from __future__ import annotations

import gc
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import Receive, Scope, Send

from data_contracts import Problem
from screening import ScreeningError

from ._batcher import ScoreBatcher
from ._deps import Sorter
from ._errors import InvalidInput, error_body, retry_after
from ._fast import INTERNAL, FastScore
from ._json import dump_json
from ._middleware import ServiceMiddleware
from ._oip import router as oip_router
from ._routes import router as v1_router
from ._service import Service
from ._settings import Settings
from .officer import mount_officer

log = logging.getLogger("serving")


class ServingApp(FastAPI):
    """FastAPI, with ``POST /v1/parcels:score`` answered before Starlette's middleware stack.

    The sorting hot path gets its request ID, body limit and metrics from
    :class:`ServiceMiddleware` and its answers from :class:`FastScore`, as before, but no
    longer passes Starlette's error layer, FastAPI's telemetry and body-limit layers and
    their wrappers of every message on the way out: in four alternating in-process pairs
    (scoring stubbed out) the event loop's median CPU per score request was 18 to 53% lower
    (about a quarter in the middle pair). An error that escapes it still gets the app's JSON
    500, as Starlette's error layer would give. Every other request, the score route under a
    root path, and every request once other middleware has been added to the app, take the
    whole stack (OpenTelemetry instrumentation of FastAPI, where configured, then sees no
    score requests).
    """

    #: Set by :func:`create_app`: the middleware instance that answers the hot path.
    hot_path: ServiceMiddleware | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        hot = self.hot_path
        if (
            hot is None
            or scope["type"] != "http"
            or hot.fast is None
            or self.root_path
            or len(self.user_middleware) != 1
            or not hot.fast.handles(scope)
        ):
            await super().__call__(scope, receive, send)
            return
        scope["app"] = self
        try:
            await hot(scope, receive, send)
        except Exception:
            log.exception("unexpected error on %s", scope["path"])
            with suppress(Exception):  # refused where the answer had started already
                await _error(500, INTERNAL)(scope, receive, send)
            raise


def _error(status: int, body: dict[str, object]) -> Response:
    return Response(dump_json(body), status_code=status, media_type="application/json")


def create_app(settings: Settings | None = None, service: Service | None = None) -> FastAPI:
    """The service's ASGI app; the model loads and the registry watcher starts at startup."""
    settings = settings or Settings()
    service = service or Service(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service.start()
        # the model, stores and routes are built: keep them out of the cyclic collector's
        # scans (fewer and shorter pauses under load)
        gc.collect()
        gc.freeze()
        # the loop thread (HTTP) and the batch thread (scoring) take turns holding the GIL;
        # a shorter turn than the default 5 ms keeps request parsing and answers flowing
        sys.setswitchinterval(0.001)
        try:
            yield
        finally:
            batcher.close()
            service.close()

    from . import __version__

    # the API document and its viewer need a key, as the model's metadata does (own routes)
    app = ServingApp(
        title="parcelscreen",
        version=__version__,
        lifespan=lifespan,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.service = service
    app.state.batcher = batcher = ScoreBatcher(service, linger=settings.batch_linger_ms / 1000)
    app.include_router(v1_router)
    app.include_router(oip_router)
    mount_officer(app, service)

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi(caller: Sorter) -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False)
    async def docs(request: Request, caller: Sorter) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(openapi_url=f"{root}/openapi.json", title="parcelscreen")

    @app.exception_handler(ScreeningError)
    async def screening_error(request: Request, exc: ScreeningError) -> Response:
        response = _error(exc.status_code, error_body(exc))
        if (seconds := retry_after(exc)) is not None:
            response.headers["Retry-After"] = seconds
        return response

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        problems = [
            Problem("(request)", ".".join(str(p) for p in e.get("loc", ())), str(e.get("msg", "")))
            for e in exc.errors()
        ]
        return _error(422, error_body(InvalidInput("the request is invalid", problems)))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        return _error(exc.status_code, {"error": {"code": "http", "message": str(exc.detail)}})

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s", request.url.path)
        return _error(500, INTERNAL)

    fast = FastScore(service, batcher)
    app.add_middleware(
        ServiceMiddleware,
        max_body_bytes=settings.max_body_bytes,
        metrics=service.metrics,
        fast=fast,
    )
    app.hot_path = ServiceMiddleware(app.router, settings.max_body_bytes, service.metrics, fast)
    return app


def app_from_env() -> FastAPI:
    """The app with settings from the environment: the factory each worker process calls
    when ``parcelscreen serve`` runs several (``uvicorn serving:app_from_env --factory``)."""
    return create_app(Settings())
