"""Refusals an attacker review asked for: an item twice in one batch, a request ID replayed
with another declaration, an implausible outcome time, a 5000-digit number, an unknown key
in a batch body (a real server, a real bundle)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.factories import outcome
from tests.serving.conftest import Server, parcel

SCORE = "/v1/parcels:score"
BATCH = "/v1/parcels:score-batch"


def _decisions(server: Server, item: str) -> list[dict[str, Any]]:
    return [r for r in server.service.audit.records("decision") if r["item_id"] == item]


def test_an_item_twice_in_one_batch_is_decided_once_and_the_second_named(server: Server) -> None:
    twice, other = parcel(), parcel()
    body = {"declarations": [twice, other, twice]}
    r = server.client().post(BATCH, json=body, headers={"X-Request-ID": "twice-1"})
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["scored"] == 2 and answer["errors"] == 1
    first, second, third = answer["results"]
    assert first["item_id"] == twice["item_id"] and second["item_id"] == other["item_id"]
    (problem,) = third["error"]["problems"]
    assert problem["record"] == f"#2 ({twice['item_id']})" and problem["field"] == "item_id"
    assert "appears twice in this batch" in problem["problem"]
    assert len(_decisions(server, twice["item_id"])) == 1


def test_a_replayed_request_id_with_another_declaration_is_409_and_records_nothing(
    server: Server,
) -> None:
    body = parcel()
    headers = {"X-Request-ID": "replay-amended-1"}
    assert server.client().post(SCORE, json=body, headers=headers).status_code == 200
    same = server.client().post(SCORE, json=body, headers=headers)
    assert same.status_code == 200  # a true retry is still answered from the record
    amended = dict(body, declared_value=body["declared_value"] + 100)
    r = server.client().post(SCORE, json=amended, headers=headers)
    assert r.status_code == 409, r.text
    message = r.json()["error"]["message"]
    assert "'replay-amended-1' was used for a different declaration of item" in message
    assert body["item_id"] in message and "use a new request ID" in message
    assert len(_decisions(server, body["item_id"])) == 1
    assert server.client().post(SCORE, json=amended).status_code == 200  # a new request ID
    doc = server.client().get("/openapi.json").json()
    assert "409" in doc["paths"][SCORE]["post"]["responses"]


def test_a_replayed_batch_answers_each_amended_record_with_its_own_error(server: Server) -> None:
    kept, changed = parcel(), parcel()
    headers = {"X-Request-ID": "replay-batch-1"}
    body = {"declarations": [kept, changed]}
    assert server.client().post(BATCH, json=body, headers=headers).status_code == 200
    amended = dict(changed, declared_value=changed["declared_value"] + 100)
    r = server.client().post(BATCH, json={"declarations": [kept, amended]}, headers=headers)
    assert r.status_code == 200, r.text
    first, second = r.json()["results"]
    assert first["item_id"] == kept["item_id"] and "error" not in first
    assert second["error"]["code"] == "request_id_reused"
    assert changed["item_id"] in second["error"]["message"]
    assert len(_decisions(server, changed["item_id"])) == 1


@pytest.mark.parametrize("when", ["1900-01-01T00:00:00+00:00", "2999-01-01T00:00:00+00:00"])
def test_an_outcome_recorded_outside_the_plausible_window_is_refused(
    server: Server, when: str
) -> None:
    item = parcel()["item_id"]
    r = server.client("officer").post("/v1/outcomes", json=outcome(item_id=item, recorded_at=when))
    assert r.status_code == 422, r.text
    (problem,) = r.json()["error"]["problems"]
    assert problem["field"] == "recorded_at" and "plausible window" in problem["problem"]
    assert not [r for r in server.service.audit.records() if r["item_id"] == item]


def test_a_five_thousand_digit_number_is_refused_in_plain_words(server: Server) -> None:
    body = b'{"declarations": [{"declared_value": ' + b"7" * 5000 + b"}]}"
    r = server.client().post(BATCH, content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 422
    message = r.json()["error"]["message"]
    assert "a number of 5000 digits is too long" in message
    assert "set_int_max_str_digits" not in r.text


def test_an_unknown_key_in_a_batch_body_is_refused_by_name(server: Server) -> None:
    r = server.client().post(BATCH, json={"declarations": [parcel()], "dry_run": True})
    assert r.status_code == 422, r.text
    (problem,) = r.json()["error"]["problems"]
    assert problem["field"] == "dry_run" and "unknown key" in problem["problem"]


def test_a_replayed_request_id_with_another_declaration_is_409_on_the_oip_route(
    server: Server,
) -> None:
    body = parcel()
    headers = {"X-Request-ID": "replay-oip-1"}

    def infer(decl: dict[str, Any]) -> Any:
        request = {
            "inputs": [{"name": "declaration", "datatype": "BYTES", "shape": [1], "data": [decl]}]
        }
        return server.client().post(
            "/v2/models/parcelscreen-xgboost/infer", json=request, headers=headers
        )

    assert infer(body).status_code == 200
    r = infer(dict(body, declared_value=body["declared_value"] + 100))
    assert r.status_code == 409, r.text
    assert "use a new request ID" in r.json()["error"]["message"]
    assert len(_decisions(server, body["item_id"])) == 1
