"""Rules of the kind customs use today (origin, category, value per gram, description).

They are the baseline a model must beat, and the fallback when model-based selection is halted
(human oversight). They read the same feature matrix as the model.
"""

from __future__ import annotations

import numpy as np

from ._features import FeatureSpec

#: Countries where darknet vendors concentrate (RAND RR1607 shares by revenue; DOMAIN.md).
RISK_ORIGINS: tuple[str, ...] = ("US", "GB", "AU", "DE", "NL", "CA", "FR", "ES", "PL", "BE")


_USED = (
    "value_per_gram_vs_chapter",
    "value_per_gram_eur",
    "gross_weight_g",
    "category_gift",
    "category_documents",
    "vague_description_share",
    "missing_hs_share",
    "sender_address_missing",
)


def rule_score(matrix: np.ndarray, spec: FeatureSpec, origin: np.ndarray) -> np.ndarray:
    """Points per parcel: risky origin, gift or documents, low value per gram, vague text."""
    index = {name: i for i, name in enumerate(spec.names)}

    def column(name: str) -> np.ndarray:
        return matrix[:, index[name]].astype(np.float64)

    col = {name: column(name) for name in _USED}
    cheap = np.nan_to_num(col["value_per_gram_vs_chapter"], nan=0.0) < -1.5
    very_cheap = np.nan_to_num(col["value_per_gram_eur"], nan=1.0) < 0.02
    light = col["gross_weight_g"] < 250
    points = (
        2.0 * np.isin(origin, RISK_ORIGINS)
        + 1.5 * (col["category_gift"] + col["category_documents"])
        + 1.0 * cheap
        + 1.0 * very_cheap
        + 1.0 * light
        + 1.0 * (col["vague_description_share"] > 0)
        + 0.5 * (col["missing_hs_share"] > 0)
        + 0.5 * (col["sender_address_missing"] > 0)
    )
    # a tiny, deterministic tie-break so equal points do not rank by file order
    return np.asarray(points + 1e-3 * np.nan_to_num(-np.log1p(col["value_per_gram_eur"]), nan=0.0))
