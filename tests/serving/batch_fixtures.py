"""Manifests and engine settings for the batch tests, on the session's trained bundle.

The bundle is the ``trained`` session fixture of ``tests/conftest.py`` (a small real
model on simulated data); :func:`world` adds a manifest of its last simulated days.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from data_contracts import DECLARATION_CSV_COLUMNS, flatten_declaration
from screening import ModelRegistry
from serving.batch import EngineSpec

SECRET = "test-secret-0123456789abcdef"
MANIFEST_ROWS = 2000


@dataclass(frozen=True)
class World:
    root: Path
    bundle: Path
    version: str
    manifest: Path  # Parquet, MANIFEST_ROWS valid declarations, row groups of 250
    key: str  # the pseudonymisation key the bundle was trained with

    def spec(self, **kwargs: Any) -> EngineSpec:
        return EngineSpec(
            str(self.bundle),
            self.version,
            pseudonymisation_key=self.key,
            secret_key=SECRET,
            **kwargs,
        )


@functools.cache
def world(registry: Path, data: Path, root: Path, key: str) -> World:
    """The manifest (written once per session) beside the trained bundle."""
    registry_ = ModelRegistry(registry)
    table = pq.read_table(data / "declarations.parquet")
    manifest = root / "manifest.parquet"
    pq.write_table(table.slice(table.num_rows - MANIFEST_ROWS), manifest, row_group_size=250)
    return World(root, registry_.load("champion"), registry_.resolve("champion"), manifest, key)


def records(table: pa.Table) -> list[dict[str, Any]]:
    """Plain JSON-able dicts of a declaration table (times as ISO strings, nulls dropped)."""
    out = []
    for raw in table.to_pylist():
        raw["posted_at"] = raw["posted_at"].isoformat()
        out.append({k: v for k, v in raw.items() if v is not None})
    return out


def write_jsonl(table: pa.Table, path: Path) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records(table)), encoding="utf-8")
    return path


def csv_rows(table: pa.Table) -> list[dict[str, Any]]:
    return [row for r in records(table) for row in flatten_declaration(r)]


def write_csv(table: pa.Table, path: Path, bom: bool = False, crlf: bool = False) -> Path:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.DictWriter(
        buffer, fieldnames=DECLARATION_CSV_COLUMNS, lineterminator="\r\n" if crlf else "\n"
    )
    writer.writeheader()
    writer.writerows(csv_rows(table))
    path.write_text(("\ufeff" if bom else "") + buffer.getvalue(), encoding="utf-8", newline="")
    return path
