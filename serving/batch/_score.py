"""Scoring one chunk: the engine's scored batch, written to Arrow as it is.

Features, history, probabilities, decisions (column-wise, for the whole chunk at once) and
explanations are the engine's (``ScoringEngine.score_frame``, the one orchestration the
service uses too); this module adds the manifest's row numbers and the drift counts.

History in a batch run is what the service would have seen (issue 18): the store as it stood
when the run started (a snapshot the run never writes to) plus the run's own parcels before
each parcel in the service's order, counted once for the whole run before any chunk is scored
(``_in_run``). So a parcel's result depends on the manifest and that snapshot only, not on
the chunk or worker that scores it: a resumed run, and a Dask run over any partitioning, give
the same output as one pass.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pyarrow as pa

from screening import SCORED_SCHEMA, TOP_REASONS, ParcelFrame, ScoringEngine, bin_counts
from screening.exchange import ExchangeInputs
from screening.history import RunHistory

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
    engine: ScoringEngine,
    table: pa.Table | ParcelFrame,
    rows: np.ndarray,
    explain_all: bool = False,
    history: RunHistory | None = None,
    exchange: ExchangeInputs | None = None,
) -> tuple[pa.Table, dict[str, list[int]]]:
    """Results of a chunk's valid records (a table of them, or their frame; at manifest
    ``rows``) and drift counts, against the run's ``history`` (None: the engine's store as it
    stands, recording nothing). Random-control draws use the engine's own key
    (``engine.decision_key``), the one the service draws with; every parcel is explained in
    full with ``explain_all``, else the flagged ones' top reasons. A run's history was
    recorded for the whole run at once, so ``record`` asks it for each parcel's turn and
    writes nothing. ``exchange``: the partner-seizure inputs of a frame, for a model that
    reads them (of a table, computed here)."""
    frame = engine.frame(table) if isinstance(table, pa.Table) else table
    if exchange is None and isinstance(table, pa.Table):
        exchange = engine.exchange_inputs(table, frame)  # None unless the model reads them
    scorer = engine if history is None else with_history(engine, history)
    record = history is not None
    if explain_all:
        scored = scorer.score_frame(frame, "all", record=record, top=None, exchange=exchange)
    else:
        scored = scorer.score_frame(
            frame, "flagged", record=record, top=TOP_REASONS, exchange=exchange
        )
    result = scored.to_arrow().add_column(0, RESULT_SCHEMA.field("row"), pa.array(rows, pa.int64()))
    model = engine.model
    counts = drift_counts(model.reference, scored.probability, scored.features, model.spec.names)
    return result, counts


def with_history(engine: ScoringEngine, history: RunHistory) -> ScoringEngine:
    """The engine scoring against ``history`` (the same model, keys and policy)."""
    scorer = copy.copy(engine)
    scorer.history = history
    return scorer
