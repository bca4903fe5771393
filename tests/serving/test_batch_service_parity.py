"""Batch screening and the service give a parcel the same score, decision and reasons (issue 18,
"batch sees what the service would have seen").

Both start from the same record database, whose entity history holds the simulated period
before the manifest; the manifest is screened in batch (``screen``, not recorded), then the same
declarations are scored one by one through ``POST /v1/parcels:score`` in posting order, with
the same keys, capacity and random-control share.

A batch run reads history as a snapshot taken at its start, so the parcels of a manifest do
not count towards each other, where the service counts each parcel it has scored: the issue
asks batch to count them in posting order as the service does. Until it does, parity holds for
a manifest whose parcels share no sender, recipient, address, pair or office (tested), and not
for a manifest as posted (a strict expected failure, which turns into a failure the day batch
counts them).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from screening import History, Pseudonymiser, SQLiteBackend, frame_from_table
from serving.batch import BatchConfig, Capacity, screen
from tests.conftest import Trained
from tests.serving.batch_fixtures import SECRET, World, records, world
from tests.serving.conftest import Server, make_settings, start_server

ROWS = 400
CAPACITY, RANDOM_SHARE = 0.4, 0.1


@pytest.fixture(scope="module")
def w(trained: Trained, tmp_path_factory: pytest.TempPathFactory) -> World:
    return world(trained.registry, trained.data, tmp_path_factory.mktemp("parity"), trained.key)


def _posted(trained: Trained) -> pa.Table:
    return pq.read_table(trained.data / "declarations.parquet").sort_by("posted_at")


def _apart(table: pa.Table) -> pa.Table:
    """Rows of which no two share an entity of the history (sender, recipient, their
    addresses, the pair, the origin office)."""
    frame = frame_from_table(table, Pseudonymiser("parity-test-key-0123456789"))
    seen: set[tuple[str, str]] = set()
    keep = []
    for i in range(len(frame)):
        keys = {(name, str(tokens[i])) for name, tokens in frame.tokens.items()}
        if not keys & seen:
            keep.append(i)
            seen |= keys
    return table.take(keep)


@pytest.fixture(scope="module")
def server(trained: Trained, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("parity-service")
    settings = make_settings(
        root,
        trained.registry,
        capacity=CAPACITY,
        random_share=RANDOM_SHARE,
        pseudonymisation_key=trained.key,
        secret_key=SECRET,
    )
    table = _posted(trained)
    backend = SQLiteBackend(settings.state_path)
    try:
        History(backend).observe_frame(
            frame_from_table(table.slice(0, table.num_rows - ROWS), Pseudonymiser(trained.key))
        )
    finally:
        backend.close()
    yield from start_server(settings)


def _batch(w: World, server: Server, manifest: pa.Table, out: Path) -> dict[str, dict[str, Any]]:
    """The batch run's results by item ID, against a copy of the service's history as it is
    before the service scores the manifest."""
    path = out / "manifest.parquet"
    out.mkdir(parents=True, exist_ok=True)
    pq.write_table(manifest, path)
    spec = w.spec(
        history=str(server.settings.state_path), capacity=CAPACITY, random_share=RANDOM_SHARE
    )
    screen(BatchConfig(path, out / "screened", spec, Capacity.parse("2%"), progress_bar=False))
    rows = pq.read_table(out / "screened" / "results.parquet").to_pylist()
    return {r["item_id"]: r for r in rows}


def _service(server: Server, manifest: pa.Table) -> dict[str, dict[str, Any]]:
    found = {}
    for declaration in records(manifest):
        r = server.client("sorter").post("/v1/parcels:score", json=declaration)
        assert r.status_code == 200, r.text
        found[declaration["item_id"]] = r.json()
    return found


def _differences(batch: dict[str, dict[str, Any]], service: dict[str, dict[str, Any]]) -> list[str]:
    assert batch.keys() == service.keys()
    out = []
    for item, b in batch.items():
        s = service[item]
        if abs(b["probability"] - s["probability"]) > 1e-9 * max(1.0, s["probability"]):
            out.append(f"{item}: probability {b['probability']} (batch) {s['probability']}")
        for field in ("band", "decision", "selection_reason"):
            if b[field] != s[field]:
                out.append(f"{item}: {field} {b[field]} (batch) {s[field]}")
        if b["decision"] != "pass":
            groups = [(r["group"], round(r["contribution"], 6)) for r in b["reasons"] or []]
            theirs = [(r["group"], round(r["contribution"], 6)) for r in s["reasons"] or []]
            if groups != theirs[: len(groups)] or not groups:
                out.append(f"{item}: reasons {groups} (batch) {theirs}")
    return out


def test_parcels_apart_get_the_same_result_in_batch_and_service(
    w: World, server: Server, trained: Trained, tmp_path: Path
) -> None:
    table = _posted(trained)
    manifest = _apart(table.slice(table.num_rows - ROWS, ROWS // 2))
    assert manifest.num_rows >= 40
    batch = _batch(w, server, manifest, tmp_path)
    service = _service(server, manifest)
    assert not _differences(batch, service)
    assert {r["decision"] for r in batch.values()} >= {"pass", "inspect"}  # so it tells


@pytest.mark.xfail(
    strict=True,
    reason="issue 18: a batch run's history is a snapshot; the "
    "parcels of a manifest do not count towards each other yet",
)
def test_a_manifest_as_posted_gets_the_same_result_in_batch_and_service(
    w: World, server: Server, trained: Trained, tmp_path: Path
) -> None:
    table = _posted(trained)
    manifest = table.slice(table.num_rows - ROWS // 2)
    batch = _batch(w, server, manifest, tmp_path)
    service = _service(server, manifest)
    assert not _differences(batch, service)
