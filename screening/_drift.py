"""Reference histograms and the population stability index (PSI) for drift monitoring.

A bundle stores, for the score and each feature, quantile bin edges fitted on the validation
period and the share of values in each bin (plus the share of missing values). PSI compares
a new batch with that reference; above 0.2 is the usual sign of a material shift.
"""

from __future__ import annotations

from typing import Any

import numpy as np

PSI_ALERT = 0.2
_FLOOR = 1e-4


def reference_histogram(values: np.ndarray, bins: int = 10) -> dict[str, Any]:
    """Quantile edges and bin shares of a reference sample (NaN counted apart)."""
    values = np.asarray(values, dtype=np.float64)
    finite = values[np.isfinite(values)]
    edges: np.ndarray = (
        np.unique(np.quantile(finite, np.linspace(0, 1, bins + 1)[1:-1]))
        if finite.size
        else np.empty(0)
    )
    shares = _shares(values, np.asarray(edges, dtype=np.float64))
    return {"edges": [float(e) for e in edges], "shares": shares}


def bin_counts(values: np.ndarray, edges: np.ndarray | list[float]) -> np.ndarray:
    """Counts per bin (right-closed search over ``edges``), then the count of missing values.

    Counts of several chunks add up, so a batch run can compute PSI over all its chunks.
    """
    values = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(values)
    counts = np.bincount(
        np.searchsorted(np.asarray(edges, dtype=np.float64), values[finite], side="right"),
        minlength=len(edges) + 1,
    )
    return np.append(counts, (~finite).sum()).astype(np.int64)


def _shares(values: np.ndarray, edges: np.ndarray) -> list[float]:
    total = max(len(values), 1)
    return [float(c / total) for c in bin_counts(values, edges)]


def psi_from_counts(reference: dict[str, Any], counts: np.ndarray) -> float:
    """Population stability index of binned counts against a reference histogram."""
    expected = np.maximum(np.asarray(reference["shares"], dtype=np.float64), _FLOOR)
    counts = np.asarray(counts, dtype=np.float64)
    actual = np.maximum(counts / max(counts.sum(), 1.0), _FLOOR)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def psi(reference: dict[str, Any], values: np.ndarray) -> float:
    """Population stability index of ``values`` against a reference histogram."""
    return psi_from_counts(reference, bin_counts(values, reference["edges"]))


def drift_report(
    reference: dict[str, Any], scores: np.ndarray, matrix: np.ndarray, names: list[str]
) -> dict[str, Any]:
    """PSI of the score and of every feature, with the features beyond the alert level."""
    features = {
        name: psi(reference["features"][name], matrix[:, i])
        for i, name in enumerate(names)
        if name in reference.get("features", {})
    }
    return {
        "score_psi": psi(reference["score"], scores),
        "feature_psi": features,
        "drifted": sorted(n for n, v in features.items() if v > PSI_ALERT),
        "alert_level": PSI_ALERT,
    }
