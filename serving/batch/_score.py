"""Scoring one chunk: the engine's frame, features, model and rules, decisions column-wise.

Features, history, probabilities, explanations and decisions (``screening.decide_many``, for
the whole chunk at once) come from ``screening``, the one scoring core.

History in a batch run is a snapshot: every parcel's history features are read from the
history store as it stood when the run started (``record=False``); the run never writes to
it. So a parcel's result depends on nothing but the parcel and that snapshot, which is what
makes a resumed run, and a Dask run over any partitioning, give the same output as one pass.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from screening import (
    ScoringEngine,
    bin_counts,
    decide_many,
    reasons,
    rule_score,
)

REASON_TYPE = pa.struct([("group", pa.string()), ("label", pa.string()),
                         ("contribution", pa.float64()), ("sentence", pa.string())])  # fmt: skip
RESULT_SCHEMA = pa.schema(
    [
        ("row", pa.int64()),
        ("item_id", pa.string()),
        ("probability", pa.float64()),
        ("band", pa.string()),
        ("decision", pa.string()),
        ("selection_reason", pa.string()),
        ("selection_probability", pa.float64()),
        ("reasons", pa.list_(REASON_TYPE)),
        ("model_version", pa.string()),
    ]
)
TOP_REASONS = 5


def _counts(edges: list[float], values: np.ndarray) -> list[int]:
    return [int(c) for c in bin_counts(values, edges)]


def drift_counts(reference: dict[str, Any], scores: np.ndarray, matrix: np.ndarray,
                 names: list[str]) -> dict[str, list[int]]:  # fmt: skip
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
    engine's own key (``engine.decision_key``), the one the service draws with."""
    model = engine.model
    frame = engine.frame(table)
    matrix = engine.features(frame, record=False)
    _, probability = model.probability(matrix)
    points = rule_score(matrix, model.spec, frame.origin)
    decision, band, reason, chosen = decide_many(
        frame.item_id, probability, points, model.thresholds, engine.policy, engine.decision_key
    )
    explained: list[list[dict[str, Any]] | None] = [None] * len(frame)
    wanted = np.arange(len(frame)) if explain_all else np.flatnonzero(decision != "pass")
    if len(wanted):
        contributions = model.contributions(matrix[wanted])
        for i, row in zip(wanted, contributions, strict=True):
            top = None if explain_all else TOP_REASONS
            explained[i] = [
                {"group": r.group, "label": r.label, "contribution": r.contribution,
                 "sentence": r.sentence}
                for r in reasons(row, matrix[i], model.spec, top)
            ]  # fmt: skip
    result = pa.table(
        {
            "row": pa.array(rows, pa.int64()),
            "item_id": pa.array(frame.item_id, pa.string()),
            "probability": pa.array(probability, pa.float64()),
            "band": pa.array(band, pa.string()),
            "decision": pa.array(decision, pa.string()),
            "selection_reason": pa.array(reason, pa.string()),
            "selection_probability": pa.array(chosen, pa.float64(), from_pandas=True),
            "reasons": pa.array(explained, pa.list_(REASON_TYPE)),
            "model_version": pa.array([model.version] * len(frame), pa.string()),
        },
        schema=RESULT_SCHEMA,
    )
    return result, drift_counts(model.reference, probability, matrix, model.spec.names)
