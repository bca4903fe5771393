"""Open Inference Protocol v2 routes, and 503 without a model."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import numpy as np

from tests.serving.conftest import Server, make_settings, parcel, start_server

NAME = "parcelscreen-xgboost"


def test_health_and_metadata(server: Server) -> None:
    with httpx.Client(base_url=server.url) as anonymous:  # health answers anyone
        assert anonymous.get("/v2/health/live").json() == {"live": True}
        assert anonymous.get("/v2/health/ready").status_code == 200
    c = server.client("sorter")  # metadata needs a key (tests/serving/test_open_doors.py)
    assert c.get("/v2").json()["name"] == "parcelscreen"
    meta = c.get(f"/v2/models/{NAME}").json()
    assert meta["versions"] == [server.service.holder.served.model.version]
    assert c.get(f"/v2/models/{NAME}/ready").status_code == 200
    assert c.get("/v2/models/other").status_code == 404


def test_infer_on_features_matches_the_model(server: Server) -> None:
    model = server.service.holder.served.model
    k = len(model.spec.names)
    rows = np.random.default_rng(0).random((3, k)).astype(np.float32)
    request = {
        "inputs": [
            {"name": "features", "datatype": "FP32", "shape": [3, k], "data": rows.ravel().tolist()}
        ]
    }
    r = server.client().post(f"/v2/models/{NAME}/infer", json=request)
    assert r.status_code == 200, r.text
    outputs = {o["name"]: o["data"] for o in r.json()["outputs"]}
    np.testing.assert_allclose(outputs["margin"], model.margin(rows), atol=1e-6)
    (logged,) = [
        e
        for e in server.service.audit.records("features_scored")
        if e["request_id"] == r.headers["x-request-id"]
    ]
    assert json.loads(logged["detail"]) == {"rows": 3} and logged["model_version"] == model.version
    many = server.service.settings.max_batch + 1
    request["inputs"][0] |= {"shape": [many, k], "data": [0.5] * (many * k)}
    r = server.client().post(f"/v2/models/{NAME}/infer", json=request)
    assert r.status_code == 422 and "at most" in r.text


def test_infer_on_declarations_scores_them(server: Server) -> None:
    decls = [json.dumps(parcel()), parcel()]
    request = {
        "inputs": [{"name": "declaration", "datatype": "BYTES", "shape": [2], "data": decls}]
    }
    r = server.client().post(f"/v2/models/{NAME}/infer", json=request)
    assert r.status_code == 200, r.text
    outputs = {o["name"]: o["data"] for o in r.json()["outputs"]}
    assert len(outputs["decision"]) == 2 and outputs["mode"] == ["model", "model"]


def test_infer_rejects_bad_tensors(server: Server) -> None:
    bad = {"inputs": [{"name": "features", "datatype": "FP32", "shape": [1, 2], "data": [1, 2]}]}
    assert server.client().post(f"/v2/models/{NAME}/infer", json=bad).status_code == 422
    assert server.client(None).post(f"/v2/models/{NAME}/infer", json=bad).status_code == 401
    deep = {
        "inputs": [
            {"name": "declaration", "datatype": "BYTES", "shape": [1], "data": ["[" * 20_000]}
        ]
    }
    r = server.client().post(f"/v2/models/{NAME}/infer", json=deep)
    assert r.status_code == 422 and "not a JSON declaration" in r.text


def test_no_model_is_503(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "state", tmp_path / "empty-registry")
    running = start_server(settings)
    empty = next(running)
    try:
        r = empty.client().post("/v1/parcels:score", json=parcel())
        assert r.status_code == 503
        assert r.json()["error"]["code"] == "model_unavailable"
        assert empty.client().get("/v2/health/ready").status_code == 503
        assert empty.client().get("/v2/health/live").status_code == 200
    finally:
        running.close()
