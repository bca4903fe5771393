"""Batch drift uses the service's alarm rules (issue 18): not measured on a small manifest,
nothing on a steady one, the moved feature on a shifted one; growing history and calendar
features never flagged by level."""

from __future__ import annotations

import collections
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from screening import CALENDAR_FEATURES, DRIFT_MIN_ROWS, GROWING_FEATURES
from serving.batch import BatchConfig, Capacity, screen
from tests.serving.batch_fixtures import World, world


@pytest.fixture(scope="module")
def w(trained: Any, tmp_path_factory: pytest.TempPathFactory) -> World:
    return world(trained.registry, trained.data, tmp_path_factory.mktemp("batch"), trained.key)


def run(w: World, table: pa.Table, out: Path) -> dict[str, Any]:
    """The run's summary, with its drift.json under ``"report"``."""
    pq.write_table(table, out.with_suffix(".parquet"))
    config = BatchConfig(
        out.with_suffix(".parquet"), out, w.spec(), Capacity.parse("2%"), progress_bar=False
    )
    summary = screen(config)
    return summary | {"report": json.loads((out / "drift.json").read_text())}


def test_a_small_manifest_is_not_measured(w: World, tmp_path: Path) -> None:
    summary = run(w, pq.read_table(w.manifest).slice(0, 50), tmp_path / "out")
    assert summary["drifted_features"] is None  # not [], which would read "no drift"
    assert summary["drift"].startswith("not measured: 50 row(s)")
    assert str(DRIFT_MIN_ROWS) in summary["drift"]


def test_a_steady_manifest_flags_nothing(w: World, tmp_path: Path) -> None:
    summary = run(w, pq.read_table(w.manifest), tmp_path / "out")
    report = summary["report"]
    assert summary["drifted_features"] == [] and summary["drift"].startswith("measured on 2000")
    assert report["measured"] and report["rows"] == 2000
    assert report["drifted"] == []
    assert set(report["not_compared"]["growing"]) <= GROWING_FEATURES
    assert report["not_compared"]["growing"]  # the history counts are in the reference
    assert set(report["not_compared"]["calendar"]) == CALENDAR_FEATURES


def test_a_new_origin_share_flags_the_origin(w: World, tmp_path: Path) -> None:
    table = pq.read_table(w.manifest)
    origins = table.column("origin_country").to_pylist()
    common = collections.Counter(origins).most_common()
    rare = common[-1][0]  # a country the reference saw, now a third of the manifest
    shifted = [rare if i % 3 == 0 else o for i, o in enumerate(origins)]
    index = table.schema.get_field_index("origin_country")
    table = table.set_column(index, "origin_country", pa.array(shifted, pa.string()))
    assert pc.count_distinct(table.column("origin_country")).as_py() == len(common)
    report = run(w, table, tmp_path / "out")["report"]
    assert report["measured"]
    assert "origin_code" in report["drifted"]
    assert not set(report["drifted"]) & (GROWING_FEATURES | CALENDAR_FEATURES)
