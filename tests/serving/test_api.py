"""The v1 API over a real uvicorn server and a real bundle: routes, roles, errors."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import xgboost

from data_contracts import ParcelDeclaration
from serving import input_hash, input_key
from serving._audit import canonical_json
from tests.factories import outcome
from tests.serving.conftest import TEST_KEY, Server, live_while_store_held, parcel

SCORE = "/v1/parcels:score"
BATCH = "/v1/parcels:score-batch"


def test_score_answers_every_field(server: Server) -> None:
    r = server.client().post(SCORE, json=parcel())
    assert r.status_code == 200, r.text
    body = r.json()
    for key in (
        "item_id",
        "probability",
        "band",
        "decision",
        "selection_reason",
        "selection_probability",
        "model_version",
        "bundle_hash",
        "request_id",
        "mode",
    ):
        assert key in body
    assert 0 <= body["probability"] <= 1
    assert body["mode"] == "model"
    assert r.headers["x-request-id"] == body["request_id"]
    assert body["model_version"] == server.service.holder.served.model.version


def test_flagged_parcels_carry_grouped_reasons(server: Server) -> None:
    results = server.client().post(BATCH, json={"declarations": [parcel() for _ in range(10)]})
    flagged = [r for r in results.json()["results"] if r["decision"] != "pass"]
    assert flagged, "capacity 0.4 should flag some parcels"
    for r in flagged:
        assert r["reasons"] and all(x["sentence"] and x["group"] for x in r["reasons"])


def test_caller_request_id_is_kept(server: Server) -> None:
    r = server.client().post(SCORE, json=parcel(), headers={"X-Request-ID": "sort-42"})
    assert r.json()["request_id"] == "sort-42"


def test_batch_scores_the_good_items_and_names_the_bad_one(server: Server) -> None:
    items = [parcel(), parcel(currency="XXX"), parcel()]
    r = server.client().post(BATCH, json={"declarations": items})
    assert r.status_code == 200
    results = r.json()["results"]
    assert "probability" in results[0] and "probability" in results[2]
    (problem,) = results[1]["error"]["problems"]
    assert problem["field"] == "currency" and problem["record"].startswith("#1")


def test_batch_over_the_limit_is_422(server: Server) -> None:
    r = server.client().post(BATCH, json={"declarations": [parcel()] * 21})
    assert r.status_code == 422
    assert "at most 20" in r.json()["error"]["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"item_id": ', "(body)"),  # malformed JSON
        (b'{"declared_value": NaN}', "(body)"),  # NaN is not JSON
        (b'{"declared_value": 1e999}', "(body)"),  # overflows to infinity
        (b"[1, 2]", "(body)"),  # not an object
        (b'"\xff"', "(body)"),  # not UTF-8
        (b"[" * 100_00 + b"]" * 100_00, "(body)"),  # nested too deeply
    ],
)
def test_malformed_bodies_are_422(server: Server, body: bytes, field: str) -> None:
    r = server.client().post(SCORE, content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["problems"][0]["field"] == field


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"gross_weight_kg": "heavy"}, "gross_weight_kg"),  # wrong type
        ({"lines.0.quantity": 0}, "lines[0].quantity"),  # below the minimum
        ({"item_id": "RR123456780NL"}, "item_id"),  # bad S10 check digit
        ({"sender.country": "ZZ"}, "sender.country"),  # unknown country
    ],
)
def test_contract_violations_name_the_field(
    server: Server, changes: dict[str, object], field: str
) -> None:
    r = server.client().post(SCORE, json=parcel(**changes))
    assert r.status_code == 422
    assert field in [p["field"] for p in r.json()["error"]["problems"]]


def test_huge_body_is_413(server: Server) -> None:
    r = server.client().post(SCORE, content=b" " * 100_000)
    assert r.status_code == 413
    assert "limit" in r.json()["error"]["message"]


def test_huge_chunked_body_is_413(server: Server) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(100):
            yield b" " * 1000

    r = server.client().post(SCORE, content=chunks())
    assert r.status_code == 413


@pytest.mark.parametrize(
    ("role", "method", "path", "status"),
    [
        (None, "post", SCORE, 401),  # no key
        ("bogus", "post", SCORE, 401),  # unknown key
        ("sorter", "get", "/v1/parcels/RR123456785NL/explanation", 403),  # sorter: score only
        ("sorter", "post", "/v1/outcomes", 403),
        ("officer", "post", "/v1/admin/halt", 403),  # officer: no admin
        ("officer", "post", "/v1/admin/models:reload", 403),
        ("officer", "get", "/v1/parcels/RR999999995NL/explanation", 404),  # unknown item
        ("sorter", "get", "/v1/no-such-route", 404),
    ],
)
def test_statuses(server: Server, role: str | None, method: str, path: str, status: int) -> None:
    if role == "bogus":
        with httpx.Client(base_url=server.url) as client:
            r = client.request(
                method.upper(), path, json={}, headers={"X-API-Key": "ps_000000000000_x"}
            )
    else:
        r = server.client(role).request(method.upper(), path, json={})
    assert r.status_code == status, r.text
    assert set(r.json()) == {"error"}


def test_revoked_key_is_401(server: Server) -> None:
    key_id, key = server.service.keys.create("sorter", "short-lived")
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}) as client:
        assert client.post(SCORE, json=parcel()).status_code == 200
        server.service.keys.revoke(key_id)
        assert client.post(SCORE, json=parcel()).status_code == 401


def test_explanation_matches_xgboost_pred_contribs(server: Server) -> None:
    scored = server.client().post(SCORE, json=parcel()).json()
    r = server.client("officer").get(f"/v1/parcels/{scored['item_id']}/explanation")
    assert r.status_code == 200
    body = r.json()
    model = server.service.holder.served.model
    names = model.spec.names
    features = np.array(
        [[np.nan if body["features"][n] is None else body["features"][n] for n in names]],
        dtype=np.float32,
    )
    booster = xgboost.Booster()
    booster.load_model(str(Path(model.path) / "booster.ubj"))
    expected = booster.predict(xgboost.DMatrix(features, missing=np.nan), pred_contribs=True)[0]
    ours = np.array([body["contributions"][n] for n in names] + [body["base_value"]])
    np.testing.assert_allclose(ours, expected, atol=1e-4)
    assert abs(sum(ours) - body["margin"]) < 1e-4
    assert len(body["reasons"]) >= 5 and body["probability"] == scored["probability"]


def test_outcome_is_stored_and_feeds_history(server: Server) -> None:
    sender = {"sender.name": "Outcome Test Sender", "sender.street": "Kade 9"}
    first = server.client().post(SCORE, json=parcel(**sender)).json()
    rec = outcome(item_id=first["item_id"], recorded_at="2026-03-02T10:00:00+00:00")
    r = server.client("officer").post("/v1/outcomes", json=rec)
    assert r.status_code == 201, r.text
    assert r.json()["linked_to_history"] is True
    later = parcel(posted_at="2026-03-03T09:00:00+00:00", **sender)
    second = server.client().post(SCORE, json=later).json()
    explained = server.client("officer").get(f"/v1/parcels/{second['item_id']}/explanation")
    assert explained.json()["features"]["sender_prev_seizures"] == 1
    assert any(o["item_id"] == first["item_id"] for o in server.service.state.outcomes())


def test_bad_outcome_is_422(server: Server) -> None:
    r = server.client("officer").post("/v1/outcomes", json=outcome(result=None))
    assert r.status_code == 422
    assert r.json()["error"]["problems"]


def test_halt_switch_uses_the_fallback_and_is_logged(server: Server) -> None:
    admin = server.client("admin")
    assert admin.post("/v1/admin/halt", json={"reason": "drift review"}).status_code == 200
    try:
        results = server.client().post(BATCH, json={"declarations": [parcel() for _ in range(8)]})
        for r in results.json()["results"]:
            assert r["mode"] == "halted-fallback"
            assert r["selection_reason"] in (None, "rule", "random_control")
        assert server.client().get("/v1/status").json()["halted"] is True
    finally:
        assert admin.post("/v1/admin/resume").status_code == 200
    assert server.client().post(SCORE, json=parcel()).json()["mode"] == "model"
    kinds = [r["kind"] for r in server.service.audit.records()]
    assert "halt" in kinds and "resume" in kinds


def test_audit_input_hash_matches_the_logged_decision(
    server: Server,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from parcelscreen.cli import main

    sent, bad = parcel(), parcel()
    bad["gross_weight_kg"] = -1
    scored = server.client().post(SCORE, json=sent).json()
    (record,) = [
        r
        for r in server.service.audit.records("decision")
        if r["request_id"] == scored["request_id"]
    ]
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps(sent) + "\n" + json.dumps(bad) + "\n")
    monkeypatch.setenv("PARCELSCREEN_PSEUDONYMISATION_KEY", TEST_KEY)
    assert main(["audit", "input-hash", str(path)]) == 1  # one record was invalid
    out, err = capsys.readouterr()
    printed = json.loads(out)
    assert (printed["item_id"], printed["input_hash"]) == (sent["item_id"], record["input_hash"])
    validated = ParcelDeclaration.model_validate(sent).model_dump(mode="json")
    plain = hashlib.sha256(canonical_json(validated).encode()).hexdigest()
    assert printed["unkeyed_sha256"] == plain  # what records from before the keyed hash hold
    assert "line 2" in err and "gross_weight_kg" in err


def test_decision_log_has_one_record_per_decision(server: Server) -> None:
    sent = parcel()
    scored = server.client().post(SCORE, json=sent).json()
    records = [
        r
        for r in server.service.audit.records("decision")
        if r["request_id"] == scored["request_id"]
    ]
    (record,) = records
    assert record["score"] == scored["probability"]
    validated = ParcelDeclaration.model_validate(sent).model_dump(mode="json")
    assert record["input_hash"] == input_hash(validated, input_key(TEST_KEY))  # keyed:
    assert record["input_hash"] != hashlib.sha256(canonical_json(validated).encode()).hexdigest()
    assert record["caller"] and record["caller"] not in server.keys["sorter"][-20:]
    assert json.loads(record["detail"])["mode"] == "model"
    assert server.service.audit.verify().ok


def test_metrics_exposes_requests_decisions_model_and_drift(server: Server) -> None:
    server.client().post(SCORE, json=parcel())
    text = server.client("monitor").get("/metrics").text
    counter = 'parcelscreen_http_requests_total{method="POST",route="/v1/parcels:score"'
    assert counter + ',status="200"}' in text
    assert "parcelscreen_http_request_duration_seconds_bucket" in text
    assert "parcelscreen_decisions_total{band=" in text
    assert "parcelscreen_model_info{" in text and "parcelscreen_score_psi " in text


def test_no_clear_names_or_addresses_in_any_store(server: Server) -> None:
    secret = {
        "sender.name": "Zebediah Quarterfield",
        "sender.street": "Xylophonestraat 77",
        "recipient.name": "Philomena Braithwaite",
        "recipient.street": "Quokka Lane 5",
    }
    server.client().post(SCORE, json=parcel(**secret))
    server.client().post(BATCH, json={"declarations": [parcel(**secret)]})
    for store in (server.service.state_db, server.service.audit.db):
        store.execute("PRAGMA wal_checkpoint(FULL)")
    files = [p for p in Path(server.settings.data_dir).rglob("*") if p.is_file()]
    assert files
    for path in files:
        data = path.read_bytes().lower()
        for value in secret.values():
            for word in value.lower().split():
                if len(word) > 3:
                    assert word.encode() not in data, f"{word!r} found in {path.name}"


def test_a_halt_reason_that_is_not_valid_unicode_still_halts_and_is_logged(
    server: Server,
) -> None:
    admin = server.client("admin")
    body = b'{"reason": "lone \\ud800 surrogate"}'  # valid JSON, not valid UTF-8 text
    r = admin.post("/v1/admin/halt", content=body, headers={"content-type": "application/json"})
    try:
        assert r.status_code == 200
        (record,) = [
            x
            for x in server.service.audit.records("halt")
            if x["request_id"] == r.json()["request_id"]
        ]
        assert json.loads(record["detail"])["reason"] == "lone ? surrogate"
        assert server.service.audit.verify().ok
    finally:
        assert admin.post("/v1/admin/resume").status_code == 200


def test_a_decision_is_counted_only_once_its_records_are_committed(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    from serving import StoreUnavailable

    def decisions() -> float:
        text = server.client("monitor").get("/metrics").text
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("parcelscreen_decisions_total{")
        )

    def full(*_args: object, **_kwargs: object) -> None:
        raise StoreUnavailable("the store audit.sqlite cannot be written now (disk full)")

    before = decisions()
    monkeypatch.setattr(server.service.audit, "append_many", full)
    r = server.client().post(SCORE, json=parcel())
    monkeypatch.undo()
    assert r.status_code == 503 and r.json()["error"]["code"] == "store_unavailable"
    assert decisions() == before
    assert server.client().post(SCORE, json=parcel()).status_code == 200
    assert decisions() == before + 1


def test_a_store_held_up_does_not_freeze_the_event_loop(server: Server) -> None:
    """Routes that read the state store wait off the event loop: liveness still answers."""
    assert live_while_store_held(server, lambda: server.client().get("/v1/status", timeout=15))
