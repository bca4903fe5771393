"""Faults: a locked or full store during an outcome write, corrupted bundles, restarts.

A failed write answers 503 naming the store and loses nothing already acknowledged; a
corrupted bundle never replaces the model being served; the decision log's hash chain stays
valid across restarts of the service.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from data_contracts import make_s10
from parcelscreen.cli import main
from screening import ModelRegistry
from screening.bundles import write_manifest
from serving import ModelRefused, Service
from tests.conftest import Trained
from tests.factories import outcome
from tests.serving.conftest import Server, make_settings, parcel, start_server

_serial = iter(range(40_000_000, 41_000_000))


def _outcome() -> dict[str, object]:
    return outcome(item_id=make_s10("RR", next(_serial), "NL"))


@pytest.fixture()
def own_server(trained: Trained, tmp_path: Path) -> Iterator[Server]:
    shutil.copytree(trained.registry, tmp_path / "registry")
    yield from start_server(make_settings(tmp_path / "state", tmp_path / "registry"))


def _post_outcome(server: Server, acknowledged: list[str]) -> int:
    body = _outcome()
    r = server.client("officer").post("/v1/outcomes", json=body)
    if r.status_code == 201:
        acknowledged.append(str(body["item_id"]))
    else:
        assert r.status_code == 503, r.text[:300]
        error = r.json()["error"]
        assert error["code"] == "store_unavailable"
        assert "state.sqlite" in error["message"] and "retry" in error["message"]
    return r.status_code


def _stored(server: Server) -> list[str]:
    return [o["item_id"] for o in server.service.state.outcomes()]


@pytest.mark.slow
def test_locked_store_gives_503_and_keeps_acknowledged_outcomes(own_server: Server) -> None:
    acknowledged: list[str] = []
    for _ in range(3):
        assert _post_outcome(own_server, acknowledged) == 201
    holder = sqlite3.connect(own_server.settings.state_path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process holds the write lock (5 s busy wait)
    try:
        assert _post_outcome(own_server, acknowledged) == 503
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert _post_outcome(own_server, acknowledged) == 201
    assert _stored(own_server) == acknowledged
    assert own_server.client().get("/v2/health/ready").status_code == 200


def test_full_disk_gives_503_and_keeps_acknowledged_outcomes(own_server: Server) -> None:
    db = own_server.service.state_db
    ((pages,),) = db.execute("PRAGMA page_count")
    db.execute(f"PRAGMA max_page_count = {int(pages)}")  # the file cannot grow: disk full
    acknowledged: list[str] = []
    statuses = [_post_outcome(own_server, acknowledged) for _ in range(60)]
    assert 503 in statuses
    assert _stored(own_server) == acknowledged
    # scoring writes its result to the same store: a clear 503 too, never a 500
    r = own_server.client().post("/v1/parcels:score", json=parcel())
    assert r.status_code in (200, 503), r.text[:300]
    db.execute("PRAGMA max_page_count = 1073741823")  # space again
    assert _post_outcome(own_server, acknowledged) == 201
    assert _stored(own_server) == acknowledged


def _corrupt_copy(registry: ModelRegistry, version: str, rehash: bool) -> str:
    """A new version whose model.onnx is garbage; with ``rehash`` the manifest agrees, so
    only loading it can tell."""
    bad = registry.publish(registry.path(version), version=f"corrupt-{int(rehash)}")
    onnx = registry.path(bad) / "model.onnx"
    onnx.write_bytes(onnx.read_bytes()[:200] + b"\x00garbage")
    if rehash:
        write_manifest(registry.path(bad))
    return bad


@pytest.mark.parametrize("rehash", [False, True], ids=["hash mismatch", "consistent hashes"])
def test_corrupted_bundle_is_refused_and_the_old_model_serves_on(
    own_server: Server, rehash: bool
) -> None:
    registry = ModelRegistry(own_server.settings.registry)
    serving = registry.resolve("champion")
    registry.set_alias("champion", _corrupt_copy(registry, serving, rehash))
    r = own_server.client("admin").post("/v1/admin/models:reload")
    assert r.status_code == 409, r.text[:300]
    assert "refused" in r.json()["error"]["message"]
    scored = own_server.client().post("/v1/parcels:score", json=parcel())
    assert scored.status_code == 200 and scored.json()["model_version"] == serving
    assert own_server.client().get("/v2/health/ready").status_code == 200


@pytest.mark.parametrize("rehash", [False, True], ids=["hash mismatch", "consistent hashes"])
def test_corrupted_bundle_at_start_is_refused(
    trained: Trained, tmp_path: Path, rehash: bool
) -> None:
    """The service refuses to start on a corrupted bundle (it never serves it); a container
    health check then reports it unhealthy: failing fast beats serving without a model."""
    shutil.copytree(trained.registry, tmp_path / "registry")
    registry = ModelRegistry(tmp_path / "registry")
    bad = _corrupt_copy(registry, registry.resolve("champion"), rehash)
    registry.set_alias("champion", bad)
    service = Service(make_settings(tmp_path / "state", tmp_path / "registry"))
    try:
        with pytest.raises(ModelRefused, match=f"model {bad} refused"):
            service.start()
        assert service.holder.loaded is None
        assert [r["model_version"] for r in service.audit.records("model_refused")] == [bad]
    finally:
        service.close()


def test_restart_keeps_the_decision_log_chain_valid(
    trained: Trained,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = make_settings(tmp_path / "state", trained.registry)
    for _ in range(2):  # run, stop, start again on the same files
        servers = start_server(settings)
        server = next(servers)
        try:
            for _ in range(3):
                assert server.client().post("/v1/parcels:score", json=parcel()).status_code == 200
            assert server.client("officer").post("/v1/outcomes", json=_outcome()).status_code == 201
        finally:
            servers.close()
    monkeypatch.setenv("PARCELSCREEN_DATA_DIR", str(settings.data_dir))
    assert main(["audit", "verify"]) == 0
    report = capsys.readouterr().out
    assert '"ok": true' in report
    assert '"records": ' in report and '"records": 0' not in report
