"""Scoring one chunk: the engine's scored batch, written to Arrow as it is.

Features, history, probabilities, decisions (column-wise, for the whole chunk at once) and
explanations are the engine's (``ScoringEngine.score_frame``, the one orchestration the
service uses too); this module adds the manifest's row numbers and the drift counts.

History in a batch run is a snapshot: every parcel's history features are read from the
history store as it stood when the run started (``record=False``); the run never writes to
it. So a parcel's result depends on nothing but the parcel and that snapshot, which is what
makes a resumed run, and a Dask run over any partitioning, give the same output as one pass.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from screening import SCORED_SCHEMA, TOP_REASONS, ScoringEngine, bin_counts

#: A batch's result rows: the manifest row number, then the engine's scored columns.
RESULT_SCHEMA = pa.schema([pa.field("row", pa.int64()), *SCORED_SCHEMA])


def _counts(edges: list[float], values: np.ndarray) -> list[int]:
    return [int(c) for c in bin_counts(values, edges)]


def drift_counts(
    reference: dict[str, Any], scores: np.ndarray, matrix: np.ndarray, names: list[str]
) -> dict[str, list[int]]:
    """Histogram counts of the score and each referenced feature, to be summed over chunks."""
    out = {"__score__": _counts(reference["score"]["edges"], scores)}
    features = reference.get("features", {})
    for i, name in enumerate(names):
        if name in features:
            out[name] = _counts(features[name]["edges"], matrix[:, i].astype(np.float64))
    return out


def score_chunk(
    engine: ScoringEngine, table: pa.Table, rows: np.ndarray, explain_all: bool = False
) -> tuple[pa.Table, dict[str, list[int]]]:
    """Results of a chunk's valid records, drift counts. Random-control draws use the
    engine's own key (``engine.decision_key``), the one the service draws with; every
    parcel is explained in full with ``explain_all``, else the flagged ones' top reasons."""
    frame = engine.frame(table)
    if explain_all:
        scored = engine.score_frame(frame, "all", record=False, top=None)
    else:
        scored = engine.score_frame(frame, "flagged", record=False, top=TOP_REASONS)
    result = scored.to_arrow().add_column(0, RESULT_SCHEMA.field("row"), pa.array(rows, pa.int64()))
    model = engine.model
    counts = drift_counts(model.reference, scored.probability, scored.features, model.spec.names)
    return result, counts
