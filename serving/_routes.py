"""The v1 API: scoring, explanations, outcomes, and the admin routes (models, halt).

Routes read raw bodies (strict JSON, see ``_json``), so the OpenAPI document gets its request
schemas from ``openapi_extra``: the contract's JSON Schema for declarations and outcomes. The
scoring and explanation answers are the pydantic models of ``_responses`` (``response_model``
generates their schemas; the answer is the model's JSON), and so are the error answers
(``_wire.ErrorAnswer``, declared by ``error_responses``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from data_contracts import InspectionOutcome, ParcelDeclaration, Problem

from ._auth import Role
from ._deps import Admin, Monitor, Officer, RequestId, ServiceDep, Sorter, authorize
from ._errors import InvalidInput
from ._fast import score_body, score_checked
from ._json import dump_json, parse_json
from ._responses import Explanation, ScoreBatchResponse, ScoreResult, wire_json
from ._wire import REQUEST_ID_REUSED, conflict_response, error_responses

router = APIRouter()
JSON = "application/json"


def inline_schema(model: Any) -> dict[str, Any]:
    """A pydantic model's JSON Schema with its ``$defs`` references inlined (OpenAPI-ready)."""
    schema = model.model_json_schema(mode="validation")
    defs = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(v) for v in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            rest = {k: v for k, v in node.items() if k != "$ref"}
            return walk(defs[ref.removeprefix("#/$defs/")]) | walk(rest)
        return {k: walk(v) for k, v in node.items()}

    return dict(walk(schema))


def _body(schema: dict[str, Any], required: bool = True) -> dict[str, Any]:
    return {"requestBody": {"required": required, "content": {JSON: {"schema": schema}}}}


def _ok(
    schema: dict[str, Any], description: str = "Successful Response", status: int = 200
) -> dict[int | str, dict[str, Any]]:
    return {status: {"description": description, "content": {JSON: {"schema": schema}}}}


def _object(*required: str, **properties: Any) -> dict[str, Any]:
    return {"type": "object", "required": list(required), "properties": properties}


DECLARATION = inline_schema(ParcelDeclaration)
OUTCOME = inline_schema(InspectionOutcome)
_STR, _BOOL = {"type": "string"}, {"type": "boolean"}
_NSTR = {"type": ["string", "null"]}
REASON_IN = {
    "anyOf": [{"type": "object", "properties": {"reason": {"type": "string"}}}, {"type": "null"}]
}
HALT_OUT = _object("halted", "mode", "request_id", halted=_BOOL, mode=_STR, request_id=_STR)
OUTCOME_OUT = _object(
    "item_id",
    "stored",
    "outcome_id",
    "effective",
    "corrects",
    "linked_to_history",
    "request_id",
    item_id=_STR,
    stored=_BOOL,
    linked_to_history=_BOOL,
    request_id=_STR,
    outcome_id={"type": "integer", "description": "what a correction names in corrects"},
    effective={
        "type": "boolean",
        "description": "false: a correction waiting for a second "
        "officer's approval (four eyes), counted nowhere until approved",
    },
    corrects={"type": ["integer", "null"]},
)
OUTCOME_CONFLICT = conflict_response(
    "Outcomes are append-only: the item has an outcome already, and a correction must name "
    "it (corrects, correction_reason), or the one named is no longer current; "
    "current_outcome.outcome_id is the one to name"
)
APPROVAL_CONFLICT = conflict_response(
    "The outcome is not waiting for approval, or the outcome it corrects is no longer the "
    "item's current one"
)


def _json(payload: Any, status: int = 200) -> Response:
    return Response(dump_json(payload), status_code=status, media_type=JSON)


def _answer(model: BaseModel) -> Response:
    return Response(wire_json(model), media_type=JSON)


def _problem(message: str, expected: str, got: str) -> InvalidInput:
    return InvalidInput(message, [Problem("(body)", "(body)", message, expected, got)])


@router.post(
    "/v1/parcels:score",
    summary="Score one declaration",
    openapi_extra=_body(DECLARATION),
    response_model=ScoreResult,
    responses=error_responses(401, 403, 503) | REQUEST_ID_REUSED,
)
async def score(request: Request) -> Response:
    """One ParcelDeclaration (JSON object) in; score, band, decision and reasons out."""
    # answered by ``_fast.FastScore`` unless the app is mounted under a root path
    caller, rid = authorize(request, Role.SORTER), request.state.request_id
    body = await request.body()
    service = request.app.state.service
    result = await score_body(request.app.state.batcher, service.settings, caller, rid, body)
    return _answer(ScoreResult.model_validate(result))


@router.post(
    "/v1/parcels:score-batch",
    summary="Score several declarations",
    openapi_extra=_body(
        _object("declarations", declarations={"type": "array", "items": DECLARATION})
    ),
    response_model=ScoreBatchResponse,
    responses=error_responses(401, 403, 503),
)
async def score_batch(
    request: Request, service: ServiceDep, caller: Sorter, rid: RequestId
) -> Response:
    """``{"declarations": [...]}`` in; one result or one error entry per item, in order (the
    error entries list at most 100 problems in all, ``problems_omitted`` counts the rest)."""
    raw = parse_json(await request.body())
    items = raw.get("declarations") if isinstance(raw, dict) else raw
    for key in raw if isinstance(raw, dict) else ():
        if key != "declarations":
            raise InvalidInput(
                f"unknown key {key!r} in the body",
                [
                    Problem(
                        "(body)",
                        str(key)[:60],
                        "unknown key: the body holds only declarations",
                        "declarations",
                        str(key)[:60],
                    )
                ],
            )
    if not isinstance(items, list):
        raise _problem(
            'expected {"declarations": [...]}', "a list of declarations", type(items).__name__
        )
    limit = service.settings.max_batch
    if len(items) > limit:
        raise _problem(f"at most {limit} declarations per call", f"<= {limit}", str(len(items)))
    results, omitted = await score_checked(
        request.app.state.batcher, service.settings, items, caller, rid
    )
    answer = ScoreBatchResponse.model_validate(
        {
            "request_id": rid,
            "results": results,
            "scored": sum("error" not in r for r in results),
            "errors": sum("error" in r for r in results),
            "problems_omitted": omitted or None,
        }
    )
    return _answer(answer)


@router.get(
    "/v1/parcels/{item_id}/explanation",
    summary="Full explanation of a scored parcel",
    response_model=Explanation,
    responses=error_responses(401, 403, 404, 503),
)
async def explanation(
    item_id: str, service: ServiceDep, caller: Officer, rid: RequestId
) -> Response:
    found = await run_in_threadpool(service.explanation, item_id, caller, rid)
    return _answer(Explanation.model_validate(found))


@router.post(
    "/v1/outcomes",
    summary="Record an inspection outcome",
    status_code=201,
    openapi_extra=_body(OUTCOME),
    responses=_ok(OUTCOME_OUT, "Stored", 201) | error_responses(401, 403, 503) | OUTCOME_CONFLICT,
)
async def outcomes(
    request: Request, service: ServiceDep, caller: Officer, rid: RequestId
) -> Response:
    """One InspectionOutcome; stored for retraining and counted in the entity history. An
    item's later outcome is a correction naming the current one (``corrects``, with a
    ``correction_reason``); overturning a seizure with four eyes on waits for approval."""
    raw = parse_json(await request.body())
    return _json(await run_in_threadpool(service.outcome, raw, caller, rid), status=201)


@router.post(
    "/v1/outcomes/{outcome_id:int}:approve",
    summary="Approve a pending correction",
    responses=_ok(OUTCOME_OUT) | error_responses(401, 403, 404, 503) | APPROVAL_CONFLICT,
)
def approve_outcome(
    outcome_id: int, service: ServiceDep, caller: Officer, rid: RequestId
) -> Response:
    """Four eyes: a correction overturning a seizure becomes effective when an officer other
    than the one who asked approves it (403 to that one)."""
    return _json(service.record.approve_outcome(outcome_id, caller.key_id, rid))


@router.get(
    "/v1/status",
    summary="Model served and halt state",
    responses=_ok(
        _object(
            "model_version",
            "bundle_hash",
            "alias",
            "halted",
            "mode",
            model_version=_NSTR,
            bundle_hash=_NSTR,
            alias=_STR,
            halted=_BOOL,
            mode=_STR,
        )
    )
    | error_responses(401, 403),
)
async def status(service: ServiceDep, caller: Sorter) -> Response:
    return _json(await run_in_threadpool(service.status))


@router.post(
    "/v1/admin/models:reload",
    summary="Load the model the registry alias points at",
    responses=_ok(_object("changed", "version", changed=_BOOL, version=_NSTR))
    | error_responses(401, 403, 409, 503),
)
def reload(service: ServiceDep, caller: Admin, rid: RequestId) -> Response:
    return _json(service.holder.reload(caller=caller.key_id, request_id=rid, force=True))


@router.post(
    "/v1/admin/halt",
    summary="Halt model-based selection (human oversight)",
    openapi_extra=_body(REASON_IN, required=False),
    responses=_ok(HALT_OUT) | error_responses(401, 403, 503),
)
async def halt(request: Request, service: ServiceDep, caller: Admin, rid: RequestId) -> Response:
    reason = await _reason(request)
    return _json(await run_in_threadpool(service.set_halted, True, caller, rid, reason))


@router.post(
    "/v1/admin/resume",
    summary="Resume model-based selection",
    openapi_extra=_body(REASON_IN, required=False),
    responses=_ok(HALT_OUT) | error_responses(401, 403, 503),
)
async def resume(request: Request, service: ServiceDep, caller: Admin, rid: RequestId) -> Response:
    reason = await _reason(request)
    return _json(await run_in_threadpool(service.set_halted, False, caller, rid, reason))


async def _reason(request: Request) -> str:
    """The optional ``{"reason": ...}`` of a halt or resume (empty body: no reason)."""
    body = await request.body()
    raw = parse_json(body) if body else {}
    return str(raw.get("reason", "")) if isinstance(raw, dict) else ""


@router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
async def metrics(service: ServiceDep, caller: Monitor) -> Response:
    text = await run_in_threadpool(service.metrics_text)  # reads every worker's files
    return Response(text, media_type="text/plain; version=0.0.4")
