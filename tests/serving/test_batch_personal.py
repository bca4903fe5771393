"""Batch screening's quarantine keeps the record, the field and the reason, never the personal
data that made a record bad: no file the run writes holds a name or address in clear."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from serving.batch import BatchConfig, Capacity, screen
from tests.serving.batch_fixtures import World, records, world

MARK = "Secretname"


@pytest.fixture(scope="module")
def w(trained: Any, tmp_path_factory: pytest.TempPathFactory) -> World:
    return world(trained.registry, trained.data, tmp_path_factory.mktemp("batch"), trained.key)


def test_quarantine_files_hold_no_personal_data(w: World, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    recs = records(pq.read_table(w.manifest).slice(0, 12))
    recs[1]["sender"]["name"] = f"Alice {MARK} " + "x" * 300  # too long
    recs[3]["recipient"]["nickname"] = f"Bobby {MARK}"  # unknown key under a party
    recs[5]["sender_email"] = f"alice.{MARK}@example.ch"  # flat key at the top level
    recs[7]["recipient"]["country"] = f"{MARK}thur"  # a city for a country
    lines = [json.dumps(r) for r in recs]
    lines[9] = '{"sender": {"name": "Alice ' + MARK + '", "street": "Geheimweg 7"}, "ite'
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    summary = screen(
        BatchConfig(manifest, out, w.spec(), Capacity.parse("2%"), progress_bar=False, chunk_rows=4)
    )
    assert (summary["rows_read"], summary["rows_quarantined"]) == (12, 5)
    assert summary["reconciled"]
    quarantine = pq.read_table(out / "quarantine.parquet").to_pylist()
    assert [(q["row"], q["field"]) for q in quarantine] == [
        (2, "sender.name"),
        (4, "recipient.(unknown field)"),
        (6, "sender_email"),
        (8, "recipient.country"),
        (10, "(record)"),
    ]
    assert MARK not in str(quarantine)
    written = [p for p in out.rglob("*") if p.is_file()]
    assert any(p.name == "quarantine.csv" for p in written)
    assert [p for p in written if MARK.encode() in p.read_bytes()] == []
