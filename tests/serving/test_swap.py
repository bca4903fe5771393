"""Model hot swap under concurrent requests, and a tampered bundle refused."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest

from screening import ModelRegistry
from tests.serving.conftest import Server, parcel

SCORE = "/v1/parcels:score"


@pytest.mark.slow
def test_hot_swap_under_load_fails_no_request(swap_server: Server) -> None:
    registry = ModelRegistry(swap_server.settings.registry)
    old = registry.resolve("champion")
    new = registry.publish(registry.path(old), version="swap-2")
    failures: list[str] = []
    versions: set[str] = set()
    lock = threading.Lock()
    started = threading.Barrier(5)

    # each thread sends requests until it has had 25 answers from the new model: the test
    # waits for the watcher (every 0.2 s, then the load and warm-up) by counting answers, not
    # by guessing how long the swap takes on a busy machine; the clock only guards a hang
    deadline = time.monotonic() + 300

    def load() -> None:
        headers = {"Authorization": f"Bearer {swap_server.keys['sorter']}"}
        with httpx.Client(base_url=swap_server.url, headers=headers, timeout=30) as client:
            started.wait()
            from_new = 0
            while from_new < 25 and not failures and time.monotonic() < deadline:
                r = client.post(SCORE, json=parcel())
                with lock:
                    if r.status_code != 200:
                        failures.append(f"{r.status_code} {r.text[:200]}")
                    else:
                        versions.add(r.json()["model_version"])
                        from_new += r.json()["model_version"] == new

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    started.wait()
    registry.set_alias("champion", new)  # the watcher (every 0.2 s) picks it up
    for t in threads:
        t.join(timeout=330)
    assert failures == []
    assert time.monotonic() < deadline, "the new model never answered"
    assert swap_server.service.holder.served.model.version == new
    assert new in versions
    assert versions <= {old, new}
    kinds = [r["kind"] for r in swap_server.service.audit.records()]
    assert "model_loaded" in kinds


def test_tampered_bundle_is_refused_and_the_old_model_serves_on(swap_server: Server) -> None:
    registry = ModelRegistry(swap_server.settings.registry)
    serving = swap_server.service.holder.served.model.version
    bad = registry.publish(registry.path(serving), version="tampered-3")
    with (registry.path(bad) / "thresholds.json").open("a") as f:
        f.write(" ")
    registry.set_alias("champion", bad)
    try:
        r = swap_server.client("admin").post("/v1/admin/models:reload")
        assert r.status_code == 409
        assert "refused" in r.json()["error"]["message"]
        scored = swap_server.client().post(SCORE, json=parcel())
        assert scored.status_code == 200 and scored.json()["model_version"] == serving
        refused = swap_server.service.audit.records("model_refused")
        assert refused and refused[-1]["model_version"] == bad
    finally:
        registry.set_alias("champion", serving)
    r = swap_server.client("admin").post("/v1/admin/models:reload")
    assert r.status_code == 200 and r.json()["changed"] is False


def test_a_consistently_hashed_but_broken_bundle_is_refused(
    swap_server: Server, tmp_path: Path
) -> None:
    import json
    import shutil

    from screening.bundles import write_manifest

    registry = ModelRegistry(swap_server.settings.registry)
    serving = swap_server.service.holder.served.model.version
    broken = tmp_path / "broken"
    shutil.copytree(registry.path(serving), broken)
    calibration = json.loads((broken / "calibration.json").read_text())
    (broken / "calibration.json").write_text(json.dumps(calibration | {"extra": 1}))
    write_manifest(broken)  # hashes agree: only loading the bundle shows it is broken
    bad = registry.publish(broken, version="broken-4")
    registry.set_alias("champion", bad)
    try:
        r = swap_server.client("admin").post("/v1/admin/models:reload")
        message = r.json()["error"]["message"]  # the check at load names the file and field
        assert r.status_code == 409 and "calibration.json: must hold exactly slope" in message
        refused = swap_server.service.audit.records("model_refused")
        assert refused[-1]["model_version"] == bad
        scored = swap_server.client().post(SCORE, json=parcel())
        assert scored.status_code == 200 and scored.json()["model_version"] == serving
    finally:
        registry.set_alias("champion", serving)
