"""The sorting hot path, ``POST /v1/parcels:score``, answered in plain ASGI.

Postal sorting sends one parcel per request, thousands a second. The FastAPI route does the
same work, but on the way it passes six middleware layers, the router and the dependency
solver, which cost about as much CPU as scoring the parcel. :class:`FastScore` answers that
one route straight from :class:`~serving._middleware.ServiceMiddleware`, which
:class:`~serving._app.ServingApp` calls before Starlette's own layers, with the same checks
in the same order (key and role, strict JSON, one object, the contract) and the same answers
and error bodies, through the same :class:`~serving._batcher.ScoreBatcher`. The FastAPI route
stays declared, so the OpenAPI document is unchanged; ``tests/serving`` runs every check of
the route against this path. It writes the service's answer dict straight to JSON, without
building the route's pydantic model (``_responses.ScoreResult``); a test holds the bytes
equal to the model's JSON on real answers.

Every route that scores declarations passes them through :func:`score_checked`, which refuses
a declaration posted outside the plausible window around the time of scoring before it
reaches the scorer (it would enter its sender's history), and caps the problems an answer
lists.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.datastructures import Headers
from starlette.types import Receive, Scope, Send

from data_contracts import (
    PostingWindow,
    Problem,
    looks_like_item_id,
    posting_problem,
    record_label,
)
from screening import ScreeningError

from ._auth import Caller, Role
from ._batcher import ScoreBatcher
from ._deps import caller_for
from ._errors import InvalidInput, RequestIdReused, cap_problems, error_body, retry_after
from ._json import dump_json, parse_json
from ._service import Service
from ._settings import Settings

log = logging.getLogger("serving")
PATH = "/v1/parcels:score"
_JSON = [(b"content-type", b"application/json")]
#: The body of every 500 answer (the app's handler of unexpected errors gives the same).
INTERNAL: dict[str, object] = {"error": {"code": "internal", "message": "internal error"}}


def _refused(problem: Problem) -> dict[str, Any]:
    return {
        "error": {
            "code": InvalidInput.code,
            "message": "the declaration breaks the contract",
            "problems": [problem.as_dict()],
        }
    }


def _twice(raw: Any, index: int, seen: set[str]) -> Problem | None:
    """The problem of a declaration whose item ID an earlier one of the same call has: one
    call decides an item once (the first occurrence); ``seen`` collects the item IDs."""
    item = raw.get("item_id") if isinstance(raw, dict) else None
    if not isinstance(item, str):
        return None
    if item not in seen:
        seen.add(item)
        return None
    label = record_label(index, raw) if looks_like_item_id(item) else f"#{index}"
    return Problem(
        label,
        "item_id",
        "the item appears twice in this batch: only its first declaration is scored",
        "each item once per call",
    )


async def score_checked(
    batcher: ScoreBatcher, settings: Settings, raws: list[Any], caller: Caller, rid: str
) -> tuple[list[dict[str, Any]], int]:
    """Score raw declarations, one result or one error entry each, in order; a declaration
    posted outside the window around now (settings ``posted_days_back``, ``posted_days_ahead``)
    gets its error entry here and is never scored or recorded, and so does a second
    declaration of an item the call holds already (the first is scored once). Error entries
    list at most MAX_PROBLEMS_PER_REQUEST problems in all; returns the results and how many
    were left out."""
    window = PostingWindow.now(settings.posted_days_back, settings.posted_days_ahead)
    results: list[dict[str, Any] | None] = []
    sent = []
    seen: set[str] = set()
    for index, raw in enumerate(raws):
        problem = _twice(raw, index, seen) or posting_problem(raw, record_label(index, raw), window)
        results.append(None if problem is None else _refused(problem))
        if problem is None:
            sent.append(raw)
    scored = iter(await batcher.score(sent, caller, rid) if sent else [])
    answers = [next(scored) if r is None else r for r in results]
    return answers, cap_problems(answers)


async def score_body(
    batcher: ScoreBatcher, settings: Settings, caller: Caller, rid: str, body: bytes
) -> dict[str, Any]:
    """The answer to one score request's body: strict JSON, one object, the contract and the
    posting window (422 naming the problems, up to a cap), then the score. The FastAPI route
    and :class:`FastScore` share it."""
    raw = parse_json(body)
    if not isinstance(raw, dict):
        why = "expected one declaration as a JSON object"
        raise InvalidInput(why, [Problem("(body)", "(body)", why, "object", type(raw).__name__)])
    (result,), _ = await score_checked(batcher, settings, [raw], caller, rid)
    if "error" in result:
        error = result["error"]
        if error["code"] == RequestIdReused.code:
            raise RequestIdReused(error["message"])
        raise InvalidInput(
            "the declaration breaks the contract",
            [Problem(**p) for p in error["problems"]],
            error.get("problems_omitted", 0),
        )
    return dict(result)


class FastScore:
    #: The route's path, as the request metrics label it.
    path = PATH

    def __init__(self, service: Service, batcher: ScoreBatcher) -> None:
        self.service, self.batcher = service, batcher

    @staticmethod
    def handles(scope: Scope) -> bool:
        return scope["method"] == "POST" and scope["path"] == PATH and not scope.get("root_path")

    async def __call__(self, scope: Scope, receive: Receive, send: Send, rid: str) -> None:
        headers = list(_JSON)
        try:
            status, body = 200, dump_json(await self._score(scope, receive, rid))
        except ScreeningError as exc:
            status, body = exc.status_code, dump_json(error_body(exc))
            if (seconds := retry_after(exc)) is not None:
                headers.append((b"retry-after", seconds.encode()))
        except Exception:
            log.exception("unexpected error on %s", PATH)
            status, body = 500, dump_json(INTERNAL)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [*headers, (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def _score(self, scope: Scope, receive: Receive, rid: str) -> dict[str, Any]:
        caller = caller_for(self.service, Headers(scope=scope), Role.SORTER)
        chunks, more = [], True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise InvalidInput("the client disconnected before the body arrived", [])
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        return await score_body(self.batcher, self.service.settings, caller, rid, b"".join(chunks))
