"""The v1 API: scoring, explanations, outcomes, and the admin routes (models, halt)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from data_contracts import Problem

from ._deps import Admin, Officer, RequestId, ServiceDep, Sorter
from ._errors import InvalidInput
from ._json import dump_json, parse_json

router = APIRouter()
JSON = "application/json"


def _json(payload: Any, status: int = 200) -> Response:
    return Response(dump_json(payload), status_code=status, media_type=JSON)


def _problem(message: str, expected: str, got: str) -> InvalidInput:
    return InvalidInput(message, [Problem("(body)", "(body)", message, expected, got)])


@router.post("/v1/parcels:score", summary="Score one declaration")
async def score(request: Request, service: ServiceDep, caller: Sorter, rid: RequestId) -> Response:
    """One ParcelDeclaration (JSON object) in; score, band, decision and reasons out."""
    raw = parse_json(await request.body())
    if not isinstance(raw, dict):
        raise _problem("expected one declaration as a JSON object", "object", type(raw).__name__)
    (result,) = service.score([raw], caller, rid)
    if "error" in result:
        problems = [Problem(**p) for p in result["error"]["problems"]]
        raise InvalidInput("the declaration breaks the contract", problems)
    return _json(result)


@router.post("/v1/parcels:score-batch", summary="Score several declarations")
async def score_batch(request: Request, service: ServiceDep, caller: Sorter,
                      rid: RequestId) -> Response:  # fmt: skip
    """``{"declarations": [...]}`` in; one result or one error entry per item, in order."""
    raw = parse_json(await request.body())
    items = raw.get("declarations") if isinstance(raw, dict) else raw
    if not isinstance(items, list):
        raise _problem("expected {\"declarations\": [...]}", "a list of declarations",
                       type(items).__name__)  # fmt: skip
    limit = service.settings.max_batch
    if len(items) > limit:
        raise _problem(f"at most {limit} declarations per call", f"<= {limit}", str(len(items)))
    results = service.score(items, caller, rid) if items else []
    return _json({"request_id": rid, "results": results,
                  "scored": sum("error" not in r for r in results),
                  "errors": sum("error" in r for r in results)})  # fmt: skip


@router.get("/v1/parcels/{item_id}/explanation", summary="Full explanation of a scored parcel")
async def explanation(item_id: str, service: ServiceDep, caller: Officer,
                      rid: RequestId) -> Response:  # fmt: skip
    return _json(service.explanation(item_id, caller, rid))


@router.post("/v1/outcomes", summary="Record an inspection outcome")
async def outcomes(request: Request, service: ServiceDep, caller: Officer,
                   rid: RequestId) -> Response:  # fmt: skip
    """One InspectionOutcome; stored for retraining and linked to the entity history."""
    raw = parse_json(await request.body())
    return _json(service.outcome(raw, caller, rid), status=201)


@router.get("/v1/status", summary="Model served and halt state")
async def status(service: ServiceDep, caller: Sorter) -> Response:
    return _json(service.status())


@router.post("/v1/admin/models:reload", summary="Load the model the registry alias points at")
def reload(service: ServiceDep, caller: Admin, rid: RequestId) -> Response:
    return _json(service.holder.reload(caller=caller.key_id, request_id=rid, force=True))


@router.post("/v1/admin/halt", summary="Halt model-based selection (human oversight)")
async def halt(request: Request, service: ServiceDep, caller: Admin, rid: RequestId) -> Response:
    body = await request.body()
    raw = parse_json(body) if body else {}
    reason = raw.get("reason", "") if isinstance(raw, dict) else ""
    return _json(service.set_halted(True, caller, rid, str(reason)))


@router.post("/v1/admin/resume", summary="Resume model-based selection")
async def resume(request: Request, service: ServiceDep, caller: Admin, rid: RequestId) -> Response:
    body = await request.body()
    raw = parse_json(body) if body else {}
    reason = raw.get("reason", "") if isinstance(raw, dict) else ""
    return _json(service.set_halted(False, caller, rid, str(reason)))


@router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
async def metrics(service: ServiceDep) -> Response:
    return Response(service.metrics_text(), media_type="text/plain; version=0.0.4")
