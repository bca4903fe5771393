"""A training set written before contract version 2 (no express column, parties without
id_number) still reads: the new columns come back empty."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from data_contracts import DECLARATION_SCHEMA, V1_DECLARATION_SCHEMA, make_s10
from tests.factories import declaration
from training import DataError
from training._dataset import read_table


def test_a_version_1_training_file_reads(tmp_path: Path) -> None:
    rows = []
    for i in range(3):
        row = declaration(item_id=make_s10("RR", 30_000_000 + i, "NL"))
        row["posted_at"] = datetime.fromisoformat(row["posted_at"])
        rows.append(row)
    table = pa.Table.from_pylist(rows, schema=V1_DECLARATION_SCHEMA)
    path = tmp_path / "declarations.parquet"
    pq.write_table(table, path)
    read = read_table(path, "declaration", validate=True, progress=lambda _m: None)
    assert read.schema.equals(DECLARATION_SCHEMA)
    assert read.column("express").null_count == 3


def test_a_column_of_another_type_is_still_refused(tmp_path: Path) -> None:
    path = tmp_path / "declarations.parquet"
    schema = pa.schema(
        [
            pa.field("item_id", pa.int64()) if f.name == "item_id" else f
            for f in V1_DECLARATION_SCHEMA
        ]
    )
    pq.write_table(schema.empty_table(), path)
    with pytest.raises(DataError, match="column item_id is int64"):
        read_table(path, "declaration", validate=False, progress=lambda _m: None)
