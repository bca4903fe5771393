"""The scoring answers are pydantic models (serving._responses): the OpenAPI document's
response schemas are generated from them, and the hot path's JSON is the models' JSON."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import models_json_schema

from data_contracts import SelectionReason
from serving._responses import Explanation, ScoreBatchResponse, ScoreResult, wire_json

from .conftest import Server, parcel

SCORE, BATCH = "/v1/parcels:score", "/v1/parcels:score-batch"
ROUTES: list[tuple[str, str, type[BaseModel]]] = [
    ("post", SCORE, ScoreResult),
    ("post", BATCH, ScoreBatchResponse),
    ("get", "/v1/parcels/{item_id}/explanation", Explanation),
]


def _without_null_defaults(node: Any) -> Any:
    """A schema as FastAPI writes it into the document (it leaves out ``"default": null``)."""
    if isinstance(node, list):
        return [_without_null_defaults(v) for v in node]
    if isinstance(node, dict):
        return {
            k: _without_null_defaults(v)
            for k, v in node.items()
            if not (k == "default" and v is None)
        }
    return node


def test_the_response_schemas_of_the_document_are_the_models(server: Server) -> None:
    doc = server.client("sorter").get("/openapi.json").json()
    _, generated = models_json_schema(
        [(model, "serialization") for _, _, model in ROUTES],
        ref_template="#/components/schemas/{model}",
    )
    components = doc["components"]["schemas"]
    for name, schema in generated["$defs"].items():
        assert components[name] == _without_null_defaults(schema), name
    for method, path, model in ROUTES:
        ok = doc["paths"][path][method]["responses"]["200"]["content"]["application/json"]
        assert ok["schema"] == {"$ref": f"#/components/schemas/{model.__name__}"}
    reason = components["ScoreResult"]["properties"]["selection_reason"]
    assert {"$ref": "#/components/schemas/SelectionReason"} in reason["anyOf"]
    assert components["SelectionReason"]["enum"] == [r.value for r in SelectionReason]


def test_selection_reason_is_the_contract_enum() -> None:
    answer: dict[str, Any] = {
        "item_id": "RR000000000NL",
        "probability": 0.5,
        "band": "high",
        "decision": "inspect",
        "selection_reason": "random_control",
        "selection_probability": 0.01,
        "model_version": "v1",
        "bundle_hash": "h",
        "reasons": [],
        "mode": "model",
        "request_id": "r",
        "warnings": [],
    }
    assert ScoreResult.model_validate(answer).selection_reason is SelectionReason.RANDOM_CONTROL
    with pytest.raises(ValidationError, match="selection_reason"):
        ScoreResult.model_validate(answer | {"selection_reason": "hunch"})
    with pytest.raises(ValidationError, match="surprise"):
        ScoreResult.model_validate(answer | {"surprise": 1})  # no field the model does not name


def test_the_hot_path_writes_the_models_json(server: Server) -> None:
    """Real answers of the plain-ASGI score path, byte for byte the model's JSON: parcels
    with reasons, one with contract warnings, a retried request answered from the record."""
    client = server.client("sorter")
    bodies = []
    for i in range(12):
        changes = {"declared_value": 1.0} if i == 0 else {}
        r = client.post(SCORE, json=parcel(**changes), headers={"X-Request-ID": f"resp-{i}"})
        assert r.status_code == 200, r.text
        bodies.append(r.content)
    again = parcel()
    for _ in range(2):  # the second answer is the decision on record
        bodies.append(
            client.post(SCORE, json=again, headers={"X-Request-ID": "resp-again"}).content
        )
    answers = [ScoreResult.model_validate_json(body) for body in bodies]
    assert answers[0].warnings and any(a.reasons for a in answers)
    assert bodies[-1] == bodies[-2]
    for body, answer in zip(bodies, answers, strict=True):
        assert wire_json(answer) == body


def test_batch_and_explanation_answer_with_the_models(server: Server) -> None:
    client = server.client("sorter")
    items = [parcel(), parcel(currency="XXX"), parcel(declared_value=1.0)]
    r = client.post(BATCH, json={"declarations": items})
    assert r.status_code == 200, r.text
    batch = ScoreBatchResponse.model_validate_json(r.content)
    assert (batch.scored, batch.errors) == (2, 1) and wire_json(batch) == r.content
    assert "problems_omitted" not in r.json()  # left out when nothing was left out
    item = items[0]["item_id"]
    shown = server.client("officer").get(f"/v1/parcels/{item}/explanation")
    assert shown.status_code == 200, shown.text
    explanation = Explanation.model_validate_json(shown.content)
    assert explanation.item_id == item and wire_json(explanation) == shown.content
    assert len(explanation.contributions) == len(explanation.features) > 60
