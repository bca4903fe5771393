"""The engine's one result (screening.ScoredBatch): its Arrow columns, which batch screening
writes, are its rows, which the service answers with; a chunk's results are those columns."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest

from screening import SCORED_SCHEMA, TOP_REASONS, Decision, ScoredBatch
from serving.batch import RESULT_SCHEMA, engine_for, score_chunk
from tests.serving.batch_fixtures import World, world

ROWS = 800


@pytest.fixture(scope="module")
def w(trained: Any, tmp_path_factory: pytest.TempPathFactory) -> World:
    return world(trained.registry, trained.data, tmp_path_factory.mktemp("scored"), trained.key)


def _rows(scored: ScoredBatch) -> list[dict[str, Any]]:
    """The batch's parcels as the service reads them, in the Arrow columns' terms."""
    out = []
    for parcel in scored:
        row = parcel.as_dict()
        out.append({name: row[name] for name in SCORED_SCHEMA.names})
    return out


def test_the_arrow_columns_are_the_rows_the_service_answers_with(w: World) -> None:
    engine = engine_for(w.spec())
    table = pq.read_table(w.manifest).slice(0, ROWS)
    scored = engine.score_frame(engine.frame(table), "flagged", record=False)
    arrow = scored.to_arrow()
    assert arrow.schema == SCORED_SCHEMA and len(scored) == arrow.num_rows == ROWS
    assert arrow.to_pylist() == _rows(scored)
    flagged = np.flatnonzero(scored.decision != Decision.PASS.value)
    assert 0 < len(flagged) < ROWS
    np.testing.assert_array_equal(scored.explained, flagged)
    wanted = set(flagged.tolist())
    for i, parcel in enumerate(scored):
        if i in wanted:
            assert parcel.reasons is not None and 0 < len(parcel.reasons) <= TOP_REASONS
            assert parcel.contributions is not None
            assert parcel.contributions.sum() == pytest.approx(parcel.margin, abs=1e-4)
        else:
            assert parcel.reasons is None and parcel.contributions is None
    assert scored.parcels is scored.parcels  # the rows are made once


def test_explain_modes_and_top(w: World) -> None:
    engine = engine_for(w.spec())
    frame = engine.frame(pq.read_table(w.manifest).slice(0, 200))
    none = engine.score_frame(frame, "none", record=False)
    assert len(none.explained) == 0 and none.to_arrow().column("reasons").null_count == 200
    every = engine.score_frame(frame, "all", record=False, top=None)
    assert len(every.explained) == 200
    assert max(len(r or []) for r in every.reasons) > TOP_REASONS
    np.testing.assert_array_equal(every.probability, none.probability)
    assert every.to_arrow().drop_columns(["reasons"]) == none.to_arrow().drop_columns(["reasons"])


@pytest.mark.parametrize("explain_all", [False, True])
def test_a_chunk_is_the_engines_columns_with_row_numbers(w: World, explain_all: bool) -> None:
    engine = engine_for(w.spec())
    table = pq.read_table(w.manifest).slice(100, 300)
    results, _ = score_chunk(engine, table, np.arange(100, 400), explain_all)
    assert results.schema == RESULT_SCHEMA
    assert results.column("row").to_pylist() == list(range(100, 400))
    scored = engine.score_frame(
        engine.frame(table),
        "all" if explain_all else "flagged",
        record=False,
        top=None if explain_all else TOP_REASONS,
    )
    assert results.drop_columns(["row"]) == scored.to_arrow()
