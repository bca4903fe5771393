"""Scoring one chunk: the engine's frame, features, model and rules, decisions column-wise.

Features, history, probabilities and explanations come from ``screening`` (the one scoring
core). Decisions are taken for the whole chunk at once by :func:`decide_many`, which gives
the verdict ``screening.decide`` gives row by row (a test proves it) without its per-row cost.

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
    BAND_SHARES,
    Band,
    Decision,
    DecisionPolicy,
    ScoringEngine,
    reasons,
    rule_score,
    threshold_at,
    uniform_draw,
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


def decide_many(
    item_ids: np.ndarray,
    probability: np.ndarray,
    rule_points: np.ndarray,
    thresholds: dict[str, float],
    policy: DecisionPolicy,
    key: bytes,
    rule_cut: float = 5.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Decisions of many parcels: (decision, band, selection_reason, selection_probability)."""
    n = len(probability)
    band = np.full(n, Band.LOW.value, dtype=object)
    for level, share in reversed(BAND_SHARES):
        band[probability >= threshold_at(thresholds, share)] = level.value
    model_share = policy.capacity * (1 - policy.random_share)
    decision = np.full(n, Decision.PASS.value, dtype=object)
    reason = np.full(n, None, dtype=object)
    chosen = np.full(n, np.nan)
    if policy.halted:
        picked = rule_points >= rule_cut
        reason[picked] = "rule"
    else:
        picked = probability >= threshold_at(thresholds, model_share)
        reason[picked] = "model"
    decision[picked] = Decision.INSPECT.value
    chosen[picked] = 1.0
    rest = np.flatnonzero(~picked)
    draws = np.fromiter((uniform_draw(key, str(item_ids[i])) for i in rest), np.float64, len(rest))
    random = rest[draws < policy.random_rate]
    decision[random] = Decision.INSPECT.value
    reason[random] = "random_control"
    chosen[random] = policy.random_rate
    if not policy.halted:
        review = np.zeros(n, dtype=bool)
        review[rest] = probability[rest] >= threshold_at(
            thresholds, model_share * policy.review_factor
        )
        review[random] = False
        decision[review] = Decision.REVIEW.value
    return decision, band, reason, chosen


def _counts(edges: list[float], values: np.ndarray) -> list[int]:
    """Bin counts as ``screening.psi`` bins (right-closed search, NaN counted apart)."""
    finite = np.isfinite(values)
    found = np.bincount(np.searchsorted(np.asarray(edges, dtype=np.float64), values[finite],
                                        side="right"), minlength=len(edges) + 1)  # fmt: skip
    return [int(c) for c in found] + [int((~finite).sum())]


def drift_counts(reference: dict[str, Any], scores: np.ndarray, matrix: np.ndarray,
                 names: list[str]) -> dict[str, list[int]]:  # fmt: skip
    """Histogram counts of the score and each referenced feature, to be summed over chunks."""
    out = {"__score__": _counts(reference["score"]["edges"], scores)}
    features = reference.get("features", {})
    for i, name in enumerate(names):
        if name in features:
            out[name] = _counts(features[name]["edges"], matrix[:, i].astype(np.float64))
    return out


def score_chunk(engine: ScoringEngine, key: bytes, table: pa.Table, rows: np.ndarray,
                explain_all: bool = False) -> tuple[pa.Table, dict[str, list[int]]]:  # fmt: skip
    """Results of a chunk's valid records (``key``: of random-control draws), drift counts."""
    model = engine.model
    frame = engine.frame(table)
    matrix = engine.features(frame, record=False)
    _, probability = model.probability(matrix)
    points = rule_score(matrix, model.spec, frame.origin)
    decision, band, reason, chosen = decide_many(
        frame.item_id, probability, points, model.thresholds, engine.policy, key
    )
    explained: list[list[dict[str, Any]] | None] = [None] * len(frame)
    wanted = np.arange(len(frame)) if explain_all else np.flatnonzero(decision != "pass")
    if len(wanted):
        contributions = model.contributions(matrix[wanted])
        for i, row in zip(wanted, contributions, strict=True):
            top = None if explain_all else TOP_REASONS
            explained[i] = [r.as_dict() for r in reasons(row, matrix[i], model.spec, top)]
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
