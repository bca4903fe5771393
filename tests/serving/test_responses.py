"""The scoring answers are pydantic models (serving._responses): the OpenAPI document's
response schemas are generated from them, and the hot path's JSON is the models' JSON."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import models_json_schema

from data_contracts import SelectionReason
from serving._responses import Explanation, ScoreBatchResponse, ScoreResult, wire_json
from serving._wire import ErrorAnswer, OutcomeConflictAnswer
from tests.factories import outcome

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


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def test_the_error_schemas_of_the_document_are_the_models(server: Server) -> None:
    """Every 4xx and 5xx answer of the document is ErrorAnswer, an outcome's 409
    OutcomeConflictAnswer; their schemas (and their parts') are the models'."""
    doc = server.client("sorter").get("/openapi.json").json()
    _, generated = models_json_schema(
        [(model, "serialization") for model in (ErrorAnswer, OutcomeConflictAnswer)],
        ref_template="#/components/schemas/{model}",
    )
    components = doc["components"]["schemas"]
    assert {"ErrorAnswer", "ErrorDetail", "ProblemOut", "OutcomeConflictAnswer"} <= set(
        generated["$defs"]
    )
    for name, schema in generated["$defs"].items():
        assert components[name] == _without_null_defaults(schema), name
    declared: set[str] = set()
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if not status.startswith(("4", "5")):
                    continue
                conflict = status == "409" and path.startswith("/v1/outcomes")
                model = OutcomeConflictAnswer if conflict else ErrorAnswer
                schema = response["content"]["application/json"]["schema"]
                assert schema == _ref(model), f"{method} {path} {status}"
                declared.add(f"{status} {model.__name__}")
    assert {
        "401 ErrorAnswer",
        "422 ErrorAnswer",
        "503 ErrorAnswer",
        "409 OutcomeConflictAnswer",
    } <= declared


def test_error_answers_are_the_models_json(server: Server) -> None:
    """Real error answers (no key, a contract violation, an unknown item, an outcome that
    conflicts with the record) are the models' (an error without problems leaves the list
    out, which the schema allows: it is not required)."""
    answers = [
        server.client(None).post(SCORE, json=parcel()),
        server.client("sorter").post(SCORE, json=parcel(currency="XXX")),
        server.client("sorter").post(SCORE, content=b"{not json"),
        server.client("officer").get("/v1/parcels/RR999999999NL/explanation"),
    ]
    assert [r.status_code for r in answers] == [401, 422, 422, 404]
    for r in answers:
        answer = ErrorAnswer.model_validate_json(r.content)
        assert answer.model_dump(mode="json", exclude_unset=True) == r.json()
    assert ErrorAnswer.model_validate_json(answers[1].content).error.problems
    item = parcel()
    assert server.client("sorter").post(SCORE, json=item).status_code == 200
    officer = server.client("officer")
    first = outcome(item_id=item["item_id"], recorded_at="2026-03-09T14:00:00+00:00")
    assert officer.post("/v1/outcomes", json=first).status_code == 201
    again = officer.post("/v1/outcomes", json=first | {"recorded_at": "2026-03-10T09:00:00+00:00"})
    assert again.status_code == 409, again.text
    conflict = OutcomeConflictAnswer.model_validate_json(again.content)
    assert conflict.error.current_outcome
    assert conflict.model_dump(mode="json", exclude_unset=True) == again.json()
    with pytest.raises(ValidationError, match="current_outcome"):
        ErrorAnswer.model_validate_json(again.content)  # only the conflict model names it
