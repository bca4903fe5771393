"""The service refuses hostile bundles (409 on reload, logged, the old model serving on), an
alias leading out of the registry, and, where keys are trusted, unsigned or otherwise signed
bundles. The case that crashed the server process runs against a real ``parcelscreen serve``
process, so a crash fails the test instead of killing pytest."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import onnx
import pytest

from screening import SIGNATURE_NAME, ModelRegistry, generate_key_pair, load_private_key
from serving import DEV_SECRET_KEY, Database, DecisionLog, KeyStore, Role
from tests.conftest import Trained
from tests.screening.hostile import read_arrays, with_json, with_onnx, with_tables
from tests.served import free_port, wait_ready
from tests.serving.conftest import Server, make_settings, parcel, start_server

SCORE = "/v1/parcels:score"
RELOAD = "/v1/admin/models:reload"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def hostile_server(trained: Trained, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("hostile")
    shutil.copytree(trained.registry, root / "registry")
    yield from start_server(make_settings(root / "state", root / "registry"))


def _unit_col_is_bias(bundle: Path, out: Path) -> Path:
    # one past the last feature: today it adds into the bias column, silently
    return with_tables(bundle, out, lambda a: a["unit_cols"].__setitem__(0, a["meta"][1]))


def _narrow_graph(bundle: Path, out: Path) -> Path:
    def narrow(model: onnx.ModelProto) -> None:
        model.graph.input[0].type.tensor_type.shape.dim[1].dim_value = 10

    return with_onnx(bundle, out, narrow)


def _inverted_calibration(bundle: Path, out: Path) -> Path:
    return with_json(bundle, out, "calibration.json", lambda c: c | {"slope": -c["slope"]})


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (_unit_col_is_bias, "treeshap.npz: unit_cols: features must lie in"),
        (_narrow_graph, r"model.onnx: input features: has shape \(N, 10\)"),
        (_inverted_calibration, "calibration.json: slope: must lie in"),
    ],
    ids=["treeshap column out of range", "graph narrower than the spec", "calibration inverted"],
)
def test_hostile_bundle_is_refused_and_the_old_model_serves_on(
    hostile_server: Server,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    make: Callable[[Path, Path], Path],
    problem: str,
) -> None:
    registry = ModelRegistry(hostile_server.settings.registry)
    serving = hostile_server.service.holder.served.model.version
    version = f"hostile-{make.__name__.strip('_').replace('_', '-')}"
    bad = registry.publish(make(registry.path(serving), tmp_path / "bad"), version=version)
    registry.set_alias("champion", bad)
    try:
        with caplog.at_level(logging.ERROR, logger="serving"):
            r = hostile_server.client("admin").post(RELOAD)
        assert r.status_code == 409, r.text
        message = r.json()["error"]["message"]
        assert f"model {bad} refused, still serving {serving}" in message
        assert re.search(problem, message), message
        assert any(f"refused model {bad}" in m for m in caplog.messages), caplog.messages
        (refused,) = [
            e
            for e in hostile_server.service.audit.records("model_refused")
            if e["model_version"] == bad
        ]
        assert problem.split(":")[0] in json.dumps(refused)
        scored = hostile_server.client().post(SCORE, json=parcel())
        assert scored.status_code == 200 and scored.json()["model_version"] == serving
    finally:
        registry.set_alias("champion", serving)
    assert hostile_server.client("admin").post(RELOAD).json()["changed"] is False


def test_alias_out_of_the_registry_is_refused(
    hostile_server: Server, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    registry = ModelRegistry(hostile_server.settings.registry)
    serving = hostile_server.service.holder.served.model.version
    outside = tmp_path / "outside" / "bundleX"
    shutil.copytree(registry.path(serving), outside)  # a sound bundle, outside the registry
    aliases = registry.root / "aliases.json"
    before = aliases.read_text()
    state = json.loads(before)
    state["aliases"]["champion"] = os.path.relpath(outside, registry.root / "versions")
    aliases.write_text(json.dumps(state))
    try:
        with caplog.at_level(logging.ERROR, logger="serving"):
            r = hostile_server.client("admin").post(RELOAD)
        assert r.status_code == 409 and "not a version name" in r.json()["error"]["message"]
        assert any("alias champion gives no model" in m for m in caplog.messages)
        scored = hostile_server.client().post(SCORE, json=parcel())
        assert scored.status_code == 200 and scored.json()["model_version"] == serving
    finally:
        aliases.write_text(before)


# -- signatures ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def signing(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("keys")
    for name in ("ours", "theirs"):
        generate_key_pair(folder / f"{name}.key", folder / f"{name}.pub")
    return {name: folder / name for name in ("ours", "theirs")}


@pytest.fixture(scope="module")
def trusting_server(
    trained: Trained, signing: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """A server that trusts our key only, over a registry whose champion we signed."""
    root = tmp_path_factory.mktemp("trusting")
    shutil.copytree(trained.registry, root / "registry")
    ModelRegistry(root / "registry").sign(
        "champion", load_private_key(signing["ours"].with_suffix(".key"))
    )
    yield from start_server(
        make_settings(
            root / "state",
            root / "registry",
            trusted_bundle_keys=str(signing["ours"].with_suffix(".pub")),
        )
    )


@pytest.mark.parametrize(
    ("signer", "expected"),
    [
        (None, 409),  # unsigned
        ("theirs", 409),  # signed by a key the service does not trust
        ("tampered", 409),  # signed by ours, then the manifest changed
        ("ours", 200),  # signed by ours: served
    ],
)
def test_service_loads_only_bundles_signed_by_a_trusted_key(
    trusting_server: Server, signing: dict[str, Path], signer: str | None, expected: int
) -> None:
    registry = ModelRegistry(trusting_server.settings.registry)
    serving = trusting_server.service.holder.served.model.version
    key = (
        load_private_key(signing["theirs" if signer == "theirs" else "ours"].with_suffix(".key"))
        if signer
        else None
    )
    new = registry.publish(registry.path(serving), version=f"signed-{signer}", signing_key=key)
    if signer is None:  # a copy of the signed champion keeps its signature: drop it
        (registry.path(new) / SIGNATURE_NAME).unlink()
    if signer == "tampered":
        manifest = registry.path(new) / "manifest.json"
        manifest.write_text(manifest.read_text().replace('"format": 1', '"format": 1 '))
    registry.set_alias("champion", new)
    try:
        r = trusting_server.client("admin").post(RELOAD)
        assert r.status_code == expected, r.text
        version = new if expected == 200 else serving
        scored = trusting_server.client().post(SCORE, json=parcel())
        assert scored.status_code == 200 and scored.json()["model_version"] == version
    finally:
        registry.set_alias("champion", serving)
        trusting_server.client("admin").post(RELOAD)


# -- the crash case, against a real server process -----------------------------------------


def _serve(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "parcelscreen", "serve"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


@pytest.mark.slow
def test_server_process_refuses_the_probe_bundle_and_survives(
    trained: Trained, tmp_path: Path
) -> None:
    """unit_cols[:] = 2e9 (hashes recomputed), published and reloaded, killed the server
    (exit -11), and a server started on that alias crash-looped."""
    shutil.copytree(trained.registry, tmp_path / "registry")
    registry = ModelRegistry(tmp_path / "registry")
    serving = registry.resolve("champion")
    bad = with_tables(
        registry.path(serving),
        tmp_path / "bad",
        lambda a: a["unit_cols"].__setitem__(slice(None), 2_000_000_000),
    )
    assert (read_arrays(bad)["unit_cols"] == 2_000_000_000).all()
    hostile = registry.publish(bad, version="probe-1")
    state = tmp_path / "state"
    keys_db = Database(state / "state.sqlite")
    keys = {role.value: KeyStore(keys_db, DEV_SECRET_KEY).create(role, "probe")[1] for role in Role}
    keys_db.close()
    port = free_port()
    env = os.environ | {
        "PARCELSCREEN_REGISTRY": str(tmp_path / "registry"),
        "PARCELSCREEN_DATA_DIR": str(state),
        "PARCELSCREEN_PORT": str(port),
        "PARCELSCREEN_RELOAD_SECONDS": "0",
        "PARCELSCREEN_CAPACITY": "0.4",
    }
    url = f"http://127.0.0.1:{port}"
    proc = _serve(env, tmp_path / "server.log")
    try:
        wait_ready(url, proc, lambda: (tmp_path / "server.log").read_text(), timeout=120)
        registry.set_alias("champion", hostile)
        headers = {"Authorization": f"Bearer {keys['admin']}"}
        try:
            r = httpx.post(f"{url}{RELOAD}", headers=headers, timeout=120)
        except httpx.HTTPError as exc:  # the process died under the request
            time.sleep(1)
            pytest.fail(
                f"reload killed the server ({exc!r}, exit {proc.poll()}): "
                + (tmp_path / "server.log").read_text()[-2000:]
            )
        assert r.status_code == 409, r.text
        assert "unit_cols" in r.json()["error"]["message"]
        sorter = {"Authorization": f"Bearer {keys['sorter']}"}
        scored = httpx.post(f"{url}{SCORE}", json=parcel(), headers=sorter, timeout=30)
        assert scored.status_code == 200 and scored.json()["model_version"] == serving
        assert proc.poll() is None
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    log = (tmp_path / "server.log").read_text()
    assert f"refused model {hostile}" in log, log[-2000:]
    audit = DecisionLog(state / "state.sqlite")
    try:
        assert [r["model_version"] for r in audit.records("model_refused")] == [hostile]
    finally:
        audit.close()
    # started on the hostile alias: refuses to start (an exit status), never a crash
    restart = _serve(env, tmp_path / "restart.log")
    code = restart.wait(timeout=120)
    text = (tmp_path / "restart.log").read_text()
    assert code > 0, f"exit {code}: {text[-2000:]}"
    assert f"model {hostile} refused" in text and "unit_cols" in text, text[-2000:]
