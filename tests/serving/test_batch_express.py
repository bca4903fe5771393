"""Batch screening of a manifest that holds postal items and express consignments (contract
version 2) in every form, and of a version 1 manifest without the new columns."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from data_contracts import DECLARATION_SCHEMA, V1_DECLARATION_SCHEMA
from serving.batch import BatchConfig, Capacity, screen
from tests.serving.batch_fixtures import World, world, write_csv, write_jsonl

ROWS, EXPRESS_EVERY = 240, 4


@pytest.fixture(scope="module")
def w(trained: Any, tmp_path_factory: pytest.TempPathFactory) -> World:
    return world(trained.registry, trained.data, tmp_path_factory.mktemp("batch"), trained.key)


def _mixed(w: World) -> pa.Table:
    """The manifest's first rows, every fourth turned into an express consignment whose
    sender gives a trader ID (every other one of them without a name)."""
    rows = pq.read_table(w.manifest).slice(0, ROWS).to_pylist()
    for i, row in enumerate(rows):
        row["contract_version"] = "2"
        if i % EXPRESS_EVERY:
            continue
        house = f"{7_000_000_000 + i}"
        row["item_id"] = f"UPS:{house}"
        row["express"] = {"carrier": "UPS", "house_consignment": house, "transport_document": None}
        row["sender"]["id_number"] = f"DE{100_000_000 + i % 7}"
        if i % (2 * EXPRESS_EVERY) == 0:
            row["sender"]["name"] = None
    return pa.Table.from_pylist(rows, schema=DECLARATION_SCHEMA)


def _run(w: World, manifest: Path, out: Path) -> dict[str, Any]:
    return screen(
        BatchConfig(
            manifest, out, w.spec(), Capacity.parse("5%"), progress_bar=False, chunk_rows=100
        )
    )


def test_a_manifest_of_both_kinds_screens_in_every_form(w: World, tmp_path: Path) -> None:
    table = _mixed(w)
    parquet = tmp_path / "m.parquet"
    pq.write_table(table, parquet)
    results = {}
    for manifest in (
        parquet,
        write_csv(table, tmp_path / "m.csv"),
        write_jsonl(table, tmp_path / "m.jsonl"),
    ):
        out = tmp_path / manifest.suffix[1:]
        summary = _run(w, manifest, out)
        assert (summary["rows_read"], summary["rows_scored"]) == (ROWS, ROWS), summary
        assert summary["reconciled"]
        results[manifest.suffix] = pq.read_table(out / "results.parquet")
    ids = results[".parquet"].column("item_id").to_pylist()
    assert sum(1 for i in ids if i.startswith("UPS:")) == ROWS // EXPRESS_EVERY
    for other in (results[".csv"], results[".jsonl"]):
        assert other.column("item_id").to_pylist() == ids
        assert other.column("probability").to_pylist() == pytest.approx(
            results[".parquet"].column("probability").to_pylist(), rel=1e-9
        )


def test_a_bad_express_row_is_quarantined_with_its_field(w: World, tmp_path: Path) -> None:
    rows = _mixed(w).to_pylist()
    rows[0]["express"]["carrier"] = "FDX"  # the details no longer make its item ID
    manifest = tmp_path / "bad.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=DECLARATION_SCHEMA), manifest)
    summary = _run(w, manifest, tmp_path / "out")
    assert (summary["rows_scored"], summary["rows_quarantined"]) == (ROWS - 1, 1), summary
    quarantine = pq.read_table(tmp_path / "out" / "quarantine.parquet").to_pylist()
    assert [(q["row"], q["item_id"], q["field"]) for q in quarantine] == [
        (1, rows[0]["item_id"], "express")
    ]
    assert "FDX:" in quarantine[0]["reason"]


def test_a_version_1_manifest_still_screens(w: World, tmp_path: Path) -> None:
    table = pq.read_table(w.manifest).slice(0, 100)
    rows = table.to_pylist()
    for row in rows:
        row["contract_version"] = "1"
        for role in ("sender", "recipient"):
            row[role].pop("id_number")
    manifest = tmp_path / "v1.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=V1_DECLARATION_SCHEMA), manifest)
    summary = _run(w, manifest, tmp_path / "v1")
    assert (summary["rows_read"], summary["rows_scored"]) == (100, 100), summary
