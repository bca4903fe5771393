"""Batch screening and the service give a parcel the same score, decision and reasons (issue 18,
"batch sees what the service would have seen").

Both start from the same record database, whose entity history holds the simulated period
before the manifest; the manifest is screened in batch (``screen``, not recorded), then the same
declarations are scored one by one through ``POST /v1/parcels:score`` in the run's order
(``screening.history.RUN_ORDER``: posting time, then item ID), with the same keys, capacity and
random-control share. The service counts each parcel it has scored towards the next; so does a
batch run, in that order, across its chunks.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from data_contracts import check_digit
from screening import TOP_REASONS, History, Pseudonymiser, SQLiteBackend, frame_from_table
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
    """The simulated declarations in the order the service scores a batch's parcels."""
    table = pq.read_table(trained.data / "declarations.parquet")
    return table.sort_by([("posted_at", "ascending"), ("item_id", "ascending")])


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


def _batch(
    w: World,
    server: Server,
    manifest: pa.Table,
    out: Path,
    explain_all: bool = False,
    chunk_rows: int = 64,
) -> dict[str, dict[str, Any]]:
    """The batch run's results by item ID, against a copy of the service's history as it is
    before the service scores the manifest; in chunks (of 64 rows), so that the parcels of a
    manifest count towards each other across chunks."""
    path = out / "manifest.parquet"
    out.mkdir(parents=True, exist_ok=True)
    pq.write_table(manifest, path, row_group_size=chunk_rows)
    spec = w.spec(
        history=str(server.settings.state_path), capacity=CAPACITY, random_share=RANDOM_SHARE
    )
    config = BatchConfig(
        path,
        out / "screened",
        spec,
        Capacity.parse("2%"),
        chunk_rows=chunk_rows,
        explain_all=explain_all,
        progress_bar=False,
    )
    screen(config)
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


def test_a_manifest_as_posted_gets_the_same_result_in_batch_and_service(
    w: World, server: Server, trained: Trained, tmp_path: Path
) -> None:
    table = _posted(trained)
    manifest = table.slice(table.num_rows - ROWS // 2)
    batch = _batch(w, server, manifest, tmp_path)
    service = _service(server, manifest)
    assert not _differences(batch, service)


SENDER = {
    "name": "Twenty Parcels Trading Ltd",
    "street": "17 Quay Road",
    "city": "Harbourton",
    "postcode": "HT1 7QR",
    "country": "GB",
}


def _new_item(item_id: str, n: int) -> str:
    """An item ID of the same service and country as ``item_id`` with serial 9876540n."""
    serial = f"{98765400 + n:08d}"
    return f"{item_id[:2]}{serial}{check_digit(serial)}{item_id[-2:]}"


def _sender_counts(reasons: list[dict[str, Any]]) -> int:
    """The sender's earlier parcels, as the sender's reason words them."""
    (words,) = [r["sentence"] for r in reasons if r["group"] == "sender_history"]
    if re.match(r"(The )?[Ff]irst parcel seen for this sender", words):
        return 0
    found = re.search(r"(\d+|[Oo]ne) earlier parcels? for this sender", words)
    assert found, words
    return 1 if found.group(1).lower() == "one" else int(found.group(1))


def test_twenty_parcels_of_one_sender_count_up_in_batch_as_in_the_service(
    w: World, server: Server, trained: Trained, tmp_path: Path
) -> None:
    """Twenty parcels of a sender new to the history, in one manifest written in reverse
    posting order and read in chunks of 6: batch gives them 0, 1, ... 19 earlier parcels of
    the sender, exactly as the service does scoring them one by one. Two share a posting
    time: the item ID orders them (``RUN_ORDER``), in both."""
    table = _posted(trained)
    rows = table.slice(table.num_rows - ROWS - 100, 20).to_pylist()
    start = table.column("posted_at")[-1].as_py() + timedelta(hours=1)
    for n, row in enumerate(rows):
        row["item_id"] = _new_item(row["item_id"], n)
        row["sender"] = dict(row["sender"], **SENDER, id_number=None)
        row["posted_at"] = start + timedelta(minutes=n - int(n == 8))  # 7 and 8 tie
    manifest = pa.Table.from_pylist(rows[::-1], schema=table.schema)
    batch = _batch(w, server, manifest, tmp_path, explain_all=True, chunk_rows=6)
    ordered = manifest.sort_by([("posted_at", "ascending"), ("item_id", "ascending")])
    service = _service(server, ordered)
    top = {item: r | {"reasons": r["reasons"][:TOP_REASONS]} for item, r in batch.items()}
    assert not _differences(top, service)  # the service answers with the top reasons
    officer = server.client("officer")
    counts = []
    for item in ordered.column("item_id").to_pylist():
        r = officer.get(f"/v1/parcels/{item}/explanation")
        assert r.status_code == 200, r.text
        theirs = r.json()
        assert _sender_counts(batch[item]["reasons"]) == theirs["features"]["sender_prev_parcels"]
        counts.append(_sender_counts(batch[item]["reasons"]))
    assert counts == list(range(20))
