"""Open Inference Protocol (KServe v2) routes, for interoperability.

``/v2/models/{name}/infer`` takes exactly one input tensor, either:

* ``features``: ``FP32`` (or FP64), shape ``[n, k]`` with ``k`` the bundle's feature count, in
  the bundle's feature order (``/v2/models/{name}`` lists it). Outputs ``margin`` and
  ``probability`` (FP64, ``[n]``); no history is recorded and no decision is made, since
  feature vectors carry no item ID.
* ``declaration``: ``BYTES``, shape ``[n]``, each element one ParcelDeclaration as a JSON
  string (or object). This is the full scoring path: history, decision log, stored result.
  Outputs ``probability`` (FP64), ``band``, ``decision``, ``selection_reason``, ``mode``
  (BYTES). Any invalid declaration rejects the request with 422 naming it.

The model name is the bundle's ``model_name`` (``parcelscreen-xgboost``). Only the health
routes answer without a key: server and model metadata (the feature names and order, the
bundle hash) need a sorter's key, as inference does.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from data_contracts import DuplicateKey, Problem, loads_strict

from ._audit import Entry
from ._deps import RequestId, ServiceDep, Sorter
from ._errors import (
    InvalidInput,
    ModelUnavailable,
    NotFound,
    RequestIdReused,
    StoreUnavailable,
)
from ._fast import score_checked
from ._json import dump_json, parse_json
from ._runtime import Served
from ._wire import REQUEST_ID_REUSED, error_responses

router = APIRouter(prefix="/v2")
SERVER = "parcelscreen"
PROTOCOL_VERSION = "2"


_TENSOR = {
    "type": "object",
    "required": ["name", "datatype", "shape", "data"],
    "properties": {
        "name": {"type": "string"},
        "datatype": {"type": "string"},
        "shape": {"type": "array", "items": {"type": "integer"}},
        "data": {"type": "array"},
    },
}
INFER_IN = {
    "type": "object",
    "required": ["inputs"],
    "properties": {"id": {"type": "string"}, "inputs": {"type": "array", "items": _TENSOR}},
}
INFER_OUT = {
    "type": "object",
    "required": ["model_name", "model_version", "outputs"],
    "properties": {
        "model_name": {"type": "string"},
        "id": {"type": "string"},
        "model_version": {"type": "string"},
        "outputs": {"type": "array", "items": _TENSOR},
    },
}


_INFER_OK: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Successful Response",
        "content": {"application/json": {"schema": INFER_OUT}},
    }
}


def _ok(*required: str) -> dict[int | str, dict[str, Any]]:
    schema = {"type": "object", "required": list(required)}
    return {
        200: {
            "description": "Successful Response",
            "content": {"application/json": {"schema": schema}},
        }
    }


def _json(payload: Any) -> Response:
    return Response(dump_json(payload), media_type="application/json")


def _model(service: Any, name: str) -> Served:
    served: Served = service.holder.served
    model_name = str(served.model.info.get("model_name", "parcelscreen"))
    if name not in (model_name, service.settings.model_alias):
        raise NotFound(f"no model named {name!r}; this server serves {model_name!r}")
    return served


@router.get("/health/live", responses=_ok("live"))
async def live() -> Response:
    return _json({"live": True})


@router.get("/health/ready", responses=_ok("ready") | error_responses(503))
async def ready(service: ServiceDep) -> Response:
    """Ready for traffic: a model is loaded and the record database can be written and is
    still the file the service opened (``serving._health``); else 503 naming why."""
    if service.holder.loaded is None:
        raise ModelUnavailable("no model loaded")
    problem = await run_in_threadpool(service.record.db.health.problem)  # may probe a write
    if problem is not None:
        raise StoreUnavailable(problem)
    return _json({"ready": True})


@router.get("", responses=_ok("name", "version", "extensions") | error_responses(401, 403))
async def server_metadata(caller: Sorter) -> Response:
    from . import __version__

    return _json({"name": SERVER, "version": __version__, "extensions": []})


@router.get(
    "/models/{name}",
    responses=_ok("name", "versions", "inputs", "outputs") | error_responses(401, 403, 404, 503),
)
async def model_metadata(name: str, service: ServiceDep, caller: Sorter) -> Response:
    served = _model(service, name)
    k = len(served.model.spec.names)
    return _json(
        {
            "name": name,
            "versions": [served.model.version],
            "platform": "onnxruntime",
            "inputs": [
                {"name": "features", "datatype": "FP32", "shape": [-1, k]},
                {"name": "declaration", "datatype": "BYTES", "shape": [-1]},
            ],
            "outputs": [
                {"name": "probability", "datatype": "FP64", "shape": [-1]},
                {"name": "margin", "datatype": "FP64", "shape": [-1]},
                {"name": "decision", "datatype": "BYTES", "shape": [-1]},
            ],
            "parameters": {
                "feature_names": served.model.spec.names,
                "bundle_hash": served.model.bundle_hash,
            },
        }
    )


@router.get(
    "/models/{name}/ready", responses=_ok("name", "ready") | error_responses(401, 403, 404, 503)
)
async def model_ready(name: str, service: ServiceDep, caller: Sorter) -> Response:
    _model(service, name)
    return _json({"name": name, "ready": True})


def _step(where: int | str) -> str:
    return f"[{where}]" if isinstance(where, int) else f".{where}"


def _bad(field: str, problem: str, got: Any = None) -> InvalidInput:
    return InvalidInput(
        f"inputs: {problem}",
        [Problem("(request)", field, problem, got=None if got is None else str(got)[:120])],
    )


_FP32_MAX = float(np.finfo(np.float32).max)


def _tensor(data: Any, shape: list[int]) -> np.ndarray:
    """FP32 features from JSON numbers only: strings ("NaN", "inf"), booleans and numbers
    outside the FP32 range are refused, not converted."""
    pending: list[Any] = [data]
    while pending:
        value = pending.pop()
        if isinstance(value, list):
            pending.extend(value)
        elif isinstance(value, bool) or not isinstance(value, int | float):
            raise _bad("inputs[0].data", "expected JSON numbers only", repr(value))
        elif not -_FP32_MAX <= value <= _FP32_MAX:
            raise _bad("inputs[0].data", "number outside the FP32 range", value)
    try:
        array = np.asarray(data, dtype=np.float64).reshape(shape)
    except (TypeError, ValueError) as exc:
        raise _bad("inputs[0].data", f"does not fit shape {shape}: {exc}") from None
    return array


@router.post(
    "/models/{name}/infer",
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {"schema": INFER_IN}}}
    },
    responses=_INFER_OK | error_responses(401, 403, 404, 503) | REQUEST_ID_REUSED,
)
async def infer(
    name: str, request: Request, service: ServiceDep, caller: Sorter, rid: RequestId
) -> Response:
    served = _model(service, name)
    raw = parse_json(await request.body())
    inputs = raw.get("inputs") if isinstance(raw, dict) else None
    if not isinstance(inputs, list) or len(inputs) != 1 or not isinstance(inputs[0], dict):
        raise _bad("inputs", "expected exactly one input tensor")
    tensor = inputs[0]
    shape, data = tensor.get("shape"), tensor.get("data")
    if not (isinstance(shape, list) and all(isinstance(s, int) and s >= 0 for s in shape)):
        raise _bad("inputs[0].shape", "expected a list of non-negative integers", shape)
    if not isinstance(data, list):
        raise _bad("inputs[0].data", "expected a list", type(data).__name__)
    base = {"model_name": name, "model_version": served.model.version, "id": raw.get("id", rid)}
    if tensor.get("name") == "features":
        k = len(served.model.spec.names)
        if len(shape) != 2 or shape[1] != k or tensor.get("datatype") not in ("FP32", "FP64"):
            raise _bad("inputs[0]", f"features must be FP32 of shape [n, {k}]", shape)
        if shape[0] > service.settings.max_batch:
            raise _bad("inputs[0].shape", f"at most {service.settings.max_batch} rows", shape)
        matrix = _tensor(data, shape).astype(np.float32)
        margin, probability = served.model.probability(matrix)
        n = len(margin)
        await run_in_threadpool(
            service.audit.append,
            Entry(  # no decision, but the model
                "features_scored",
                request_id=rid,
                caller=caller.key_id,  # was asked: who, how much
                model_version=served.model.version,
                bundle_hash=served.model.bundle_hash,
                detail={"rows": n},
            ),
        )
        return _json(
            base
            | {
                "outputs": [
                    {
                        "name": "probability",
                        "datatype": "FP64",
                        "shape": [n],
                        "data": probability.tolist(),
                    },
                    {"name": "margin", "datatype": "FP64", "shape": [n], "data": margin.tolist()},
                ]
            }
        )
    if tensor.get("name") == "declaration" and tensor.get("datatype") == "BYTES":
        if shape != [len(data)]:
            raise _bad("inputs[0].shape", "must be [number of declarations]", shape)
        if len(data) > service.settings.max_batch:
            raise _bad("inputs[0].data", f"at most {service.settings.max_batch} declarations")
        decls = []
        for i, item in enumerate(data):
            try:
                decls.append(loads_strict(item) if isinstance(item, str) else item)
            except DuplicateKey as exc:  # as in a body: neither value is read (nor shown)
                where, key = exc.found[0]
                raise _bad(
                    f"inputs[0].data[{i}]" + "".join(_step(w) for w in (*where, key)),
                    f"the key {key!r} appears more than once in one object (JSON readers "
                    "differ on which value they keep, so neither is read)",
                ) from None
            except (ValueError, RecursionError):  # RecursionError: nested too deeply
                raise _bad(f"inputs[0].data[{i}]", "not a JSON declaration") from None
        results, omitted = await score_checked(
            request.app.state.batcher, service.settings, decls, caller, rid
        )
        errors = [p for r in results for p in r.get("error", {}).get("problems", [])]
        if errors:
            raise InvalidInput(
                "a declaration breaks the contract", [Problem(**p) for p in errors], omitted
            )
        for result in results:  # the request ID decided another declaration of an item
            if result.get("error", {}).get("code") == RequestIdReused.code:
                raise RequestIdReused(result["error"]["message"])
        n = len(results)
        if results:  # the model that scored them (a hot swap may have come in between)
            base["model_version"] = results[0].get("model_version", base["model_version"])

        def column(key: str) -> list[Any]:
            return [r[key] for r in results]

        return _json(
            base
            | {
                "outputs": [
                    {
                        "name": "probability",
                        "datatype": "FP64",
                        "shape": [n],
                        "data": column("probability"),
                    },
                    *(
                        {"name": key, "datatype": "BYTES", "shape": [n], "data": column(key)}
                        for key in ("band", "decision", "selection_reason", "mode", "item_id")
                    ),
                ]
            }
        )
    raise _bad(
        "inputs[0].name", "expected 'features' (FP32) or 'declaration' (BYTES)", tensor.get("name")
    )
