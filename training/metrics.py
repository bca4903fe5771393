"""Capacity metrics for ranking parcels by risk.

Officers open only a small share of the flow, so the headline figures are precision and
recall among the top `fraction` of items by score (Precision@n%, Recall@n%), next to
average precision, ROC AUC, calibration error and the Brier score.

Every function accepts optional sample weights. With inverse-propensity weights (an item
selected with probability p carries weight 1/p) the weighted figures estimate what the
metric would be on the whole flow, not only on the inspected, labelled items.

Conventions:

- Ranking is by descending score; ties are broken by input order (the earlier row ranks
  first), via a stable sort. Results never depend on the platform's sort algorithm.
- Capacity is a share of the flow's mass. Unweighted, the top k = ceil(fraction * n) items
  are inspected. Weighted, the shortest prefix of the ranking whose weight reaches
  `fraction` of the total weight is inspected (whole items; the last one may overshoot).
  With unit weights the two rules agree.
- A figure that is undefined for the data (recall with no positives, AUC with one class)
  raises MetricError rather than returning a made-up number.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "DEFAULT_FRACTIONS",
    "MetricError",
    "brier",
    "capacity_report",
    "expected_calibration_error",
    "fraction_label",
    "pr_auc",
    "precision_at_k",
    "recall_at_k",
    "roc_auc",
    "sliced_report",
]

DEFAULT_FRACTIONS: tuple[float, ...] = (0.01, 0.02, 0.05, 0.10)
MISSING_SLICE = "<missing>"

# Relative slack when comparing cumulative weights with the capacity target, so that
# 0.07 * 100 = 7.000000000000001 still means 7 items, not 8.
_CAPACITY_SLACK = 1e-9

ArrayLike = npt.ArrayLike
FloatArray = npt.NDArray[np.float64]


class MetricError(ValueError):
    """Raised when inputs are malformed or a metric is undefined for the data given."""


# -- input checks -----------------------------------------------------------------------


def _labels(y_true: ArrayLike) -> FloatArray:
    y = np.asarray(y_true)
    if y.ndim != 1:
        raise MetricError(f"y_true must be one-dimensional, got shape {y.shape}")
    if y.size == 0:
        raise MetricError("y_true is empty; metrics need at least one row")
    if y.dtype == bool:
        return y.astype(np.float64)
    if not np.issubdtype(y.dtype, np.number):
        raise MetricError(f"y_true must hold 0/1 labels, got dtype {y.dtype}")
    bad = ~np.isin(y, (0, 1))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise MetricError(f"y_true must hold 0/1 labels; row {i} holds {y[i].item()!r}")
    return y.astype(np.float64)


def _values(name: str, values: ArrayLike, n: int) -> FloatArray:
    v = np.asarray(values, dtype=np.float64)
    if v.shape != (n,):
        raise MetricError(f"{name} must have shape ({n},) like y_true, got {v.shape}")
    bad = ~np.isfinite(v)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise MetricError(f"{name} must be finite; row {i} holds {v[i].item()!r}")
    return v


def _weights(weights: ArrayLike | None, n: int) -> FloatArray:
    if weights is None:
        return np.ones(n, dtype=np.float64)
    w = _values("weights", weights, n)
    if (w < 0).any():
        i = int(np.flatnonzero(w < 0)[0])
        raise MetricError(f"weights must be >= 0; row {i} holds {w[i].item()!r}")
    if w.sum() <= 0:
        raise MetricError("weights sum to zero; no row carries any mass")
    return w


def _fraction(fraction: float) -> float:
    if not (0.0 < fraction <= 1.0):
        raise MetricError(f"fraction must be in (0, 1], got {fraction!r}")
    return float(fraction)


def _probabilities(prob: ArrayLike, n: int) -> FloatArray:
    p = _values("prob", prob, n)
    if ((p < 0) | (p > 1)).any():
        i = int(np.flatnonzero((p < 0) | (p > 1))[0])
        raise MetricError(f"prob must lie in [0, 1]; row {i} holds {p[i].item()!r}")
    return p


def _ranking(scores: FloatArray) -> npt.NDArray[np.intp]:
    """Row indices by descending score, ties in input order."""
    return np.argsort(-scores, kind="stable")


# -- capacity metrics -------------------------------------------------------------------


def _inspected(scores: FloatArray, w: FloatArray, fraction: float) -> npt.NDArray[np.intp]:
    """Rows inspected at capacity `fraction`: the shortest top prefix reaching that mass."""
    order = _ranking(scores)
    total = float(w.sum())
    before = np.concatenate(([0.0], np.cumsum(w[order])[:-1]))
    target = fraction * total - _CAPACITY_SLACK * total
    k = max(1, int(np.count_nonzero(before < target)))
    return order[:k]


def _top_counts(
    y_true: ArrayLike, scores: ArrayLike, fraction: float, weights: ArrayLike | None
) -> tuple[float, float, float]:
    """(weighted positives inspected, weighted mass inspected, weighted positives overall)."""
    y = _labels(y_true)
    s = _values("scores", scores, y.size)
    w = _weights(weights, y.size)
    top = _inspected(s, w, _fraction(fraction))
    return float((w[top] * y[top]).sum()), float(w[top].sum()), float((w * y).sum())


def precision_at_k(
    y_true: ArrayLike, scores: ArrayLike, fraction: float, weights: ArrayLike | None = None
) -> float:
    """Share of positives among the top `fraction` of the flow by score."""
    hits, inspected, _ = _top_counts(y_true, scores, fraction, weights)
    if inspected <= 0:
        raise MetricError(f"the top {fraction:.4g} of the ranking carries zero weight")
    return hits / inspected


def recall_at_k(
    y_true: ArrayLike, scores: ArrayLike, fraction: float, weights: ArrayLike | None = None
) -> float:
    """Share of all positives found in the top `fraction` of the flow by score."""
    hits, _, positives = _top_counts(y_true, scores, fraction, weights)
    if positives <= 0:
        raise MetricError("recall is undefined: y_true holds no positives (with weight > 0)")
    return hits / positives


# -- threshold-free metrics -------------------------------------------------------------


def _class_masses(y: FloatArray, w: FloatArray) -> tuple[float, float]:
    pos = float((w * y).sum())
    neg = float((w * (1.0 - y)).sum())
    if pos <= 0 or neg <= 0:
        raise MetricError(
            f"metric needs both classes with weight > 0; got positive mass {pos:g}, "
            f"negative mass {neg:g}"
        )
    return pos, neg


def _tie_groups(sorted_scores: FloatArray) -> npt.NDArray[np.intp]:
    """Index of the last row of each run of equal scores in an already sorted array."""
    change = np.flatnonzero(np.diff(sorted_scores) != 0)
    return np.append(change, sorted_scores.size - 1)


def pr_auc(y_true: ArrayLike, scores: ArrayLike, weights: ArrayLike | None = None) -> float:
    """Average precision: sum over score thresholds of (recall step) * precision.

    Tied scores form one threshold, as in scikit-learn's ``average_precision_score``.
    """
    y = _labels(y_true)
    s = _values("scores", scores, y.size)
    w = _weights(weights, y.size)
    positives, _ = _class_masses(y, w)
    order = _ranking(s)
    ends = _tie_groups(s[order])
    tp = np.cumsum(w[order] * y[order])[ends]
    mass = np.cumsum(w[order])[ends]
    recall = tp / positives
    precision = np.divide(tp, mass, out=np.zeros_like(tp), where=mass > 0)
    steps = np.diff(np.concatenate(([0.0], recall)))
    return float((steps * precision).sum())


def roc_auc(y_true: ArrayLike, scores: ArrayLike, weights: ArrayLike | None = None) -> float:
    """Probability that a positive outscores a negative; a tie counts one half.

    Computed from ranks in O(n log n); with weights, each (positive, negative) pair counts
    with the product of their weights.
    """
    y = _labels(y_true)
    s = _values("scores", scores, y.size)
    w = _weights(weights, y.size)
    positives, negatives = _class_masses(y, w)
    order = np.argsort(s, kind="stable")
    ends = _tie_groups(s[order])
    pos_cum = np.cumsum(w[order] * y[order])[ends]
    neg_cum = np.cumsum(w[order] * (1.0 - y[order]))[ends]
    pos_group = np.diff(np.concatenate(([0.0], pos_cum)))
    neg_group = np.diff(np.concatenate(([0.0], neg_cum)))
    neg_below = neg_cum - neg_group
    wins = (pos_group * (neg_below + 0.5 * neg_group)).sum()
    return float(wins / (positives * negatives))


def expected_calibration_error(
    y_true: ArrayLike, prob: ArrayLike, bins: int = 10, weights: ArrayLike | None = None
) -> float:
    """Mass-weighted mean gap between predicted and observed rate over equal-mass bins.

    Rows are sorted by probability (ties in input order) and cut into `bins` groups of
    about equal weight: a row falls in bin floor(bins * mass_before_row / total_mass).
    Equal-mass bins keep every bin populated when nearly all probabilities are tiny.
    """
    if bins < 1:
        raise MetricError(f"bins must be >= 1, got {bins!r}")
    y = _labels(y_true)
    p = _probabilities(prob, y.size)
    w = _weights(weights, y.size)
    order = np.argsort(p, kind="stable")
    ws, ys, ps = w[order], y[order], p[order]
    total = float(ws.sum())
    before = np.concatenate(([0.0], np.cumsum(ws)[:-1]))
    slack = _CAPACITY_SLACK * total
    index = np.minimum(bins - 1, np.floor(bins * (before + slack) / total)).astype(np.intp)
    mass = np.bincount(index, weights=ws, minlength=bins)
    observed = np.bincount(index, weights=ws * ys, minlength=bins)
    predicted = np.bincount(index, weights=ws * ps, minlength=bins)
    filled = mass > 0
    gaps = np.abs(observed[filled] - predicted[filled])
    return float(gaps.sum() / total)


def brier(y_true: ArrayLike, prob: ArrayLike, weights: ArrayLike | None = None) -> float:
    """Weighted mean squared difference between probability and label."""
    y = _labels(y_true)
    p = _probabilities(prob, y.size)
    w = _weights(weights, y.size)
    return float((w * (p - y) ** 2).sum() / w.sum())


# -- reports ----------------------------------------------------------------------------


def fraction_label(fraction: float) -> str:
    """Report key for a capacity share: 0.01 -> '1%', 0.025 -> '2.5%'."""
    return f"{round(fraction * 100, 6):g}%"


def capacity_report(
    y_true: ArrayLike,
    scores: ArrayLike,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    weights: ArrayLike | None = None,
) -> dict[str, Any]:
    """Headline figures at each inspection capacity plus threshold-free ones.

    Keys: ``n``, ``positives`` (row counts, unweighted), ``weighted``, ``base_rate``
    (weighted), ``pr_auc``, ``roc_auc``, and for each fraction ``precision@1%``,
    ``recall@1%`` and ``lift@1%`` (precision over base rate).
    """
    y = _labels(y_true)
    s = _values("scores", scores, y.size)
    w = _weights(weights, y.size)
    positives, _ = _class_masses(y, w)
    base_rate = positives / float(w.sum())
    report: dict[str, Any] = {
        "n": int(y.size),
        "positives": int(y.sum()),
        "weighted": weights is not None,
        "base_rate": base_rate,
        "pr_auc": pr_auc(y, s, w),
        "roc_auc": roc_auc(y, s, w),
    }
    for fraction in fractions:
        label = fraction_label(fraction)
        precision = precision_at_k(y, s, fraction, w)
        report[f"precision@{label}"] = precision
        report[f"recall@{label}"] = recall_at_k(y, s, fraction, w)
        report[f"lift@{label}"] = precision / base_rate
    return report


def _slice_groups(name: str, column: ArrayLike, n: int) -> list[tuple[str, npt.NDArray[np.bool_]]]:
    """(key, row mask) per distinct value of a slice column; None/NaN become '<missing>'."""
    col = np.asarray(column)
    if col.shape != (n,):
        raise MetricError(f"slice {name!r} must have shape ({n},) like y_true, got {col.shape}")
    if col.dtype.kind in "biuUS":
        uniques, inverse = np.unique(col, return_inverse=True)
        return [(str(u), inverse == i) for i, u in enumerate(uniques.tolist())]
    keys = np.array([_slice_key(v) for v in col.tolist()], dtype=object)
    return [(k, keys == k) for k in sorted(set(keys.tolist()))]


def _slice_key(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING_SLICE
    return str(value)


def sliced_report(
    y_true: ArrayLike,
    scores: ArrayLike,
    slices: Mapping[str, ArrayLike],
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    weights: ArrayLike | None = None,
    min_rows: int = 200,
    min_positives: int = 10,
) -> dict[str, dict[str, dict[str, Any]]]:
    """`capacity_report` per value of each slice column: ``{column: {value: report}}``.

    A slice with fewer than `min_rows` rows, fewer than `min_positives` positive rows or no
    negatives gets ``{"skipped": reason, "n": ..., "positives": ...}`` instead of a figure
    too noisy to act on.
    """
    y = _labels(y_true)
    s = _values("scores", scores, y.size)
    w = _weights(weights, y.size)
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for name, column in slices.items():
        per_value: dict[str, dict[str, Any]] = {}
        for key, mask in _slice_groups(name, column, y.size):
            ys, ss, ws = y[mask], s[mask], w[mask]
            rows, pos = int(mask.sum()), int(ys.sum())
            reason = _skip_reason(rows, pos, ys, ws, min_rows, min_positives)
            if reason is not None:
                per_value[key] = {"skipped": reason, "n": rows, "positives": pos}
            else:
                per_value[key] = capacity_report(ys, ss, fractions, None if weights is None else ws)
        out[name] = per_value
    return out


def _skip_reason(
    rows: int,
    positives: int,
    y: FloatArray,
    w: FloatArray,
    min_rows: int,
    min_positives: int,
) -> str | None:
    if rows < min_rows:
        return f"too few rows: {rows} < min_rows {min_rows}"
    if positives < min_positives:
        return f"too few positives: {positives} < min_positives {min_positives}"
    if positives == rows:
        return "no negatives: every row is positive"
    if (w * y).sum() <= 0 or (w * (1 - y)).sum() <= 0:
        return "one class carries zero weight"
    return None
