"""The model's features: the one implementation used by training and every scoring path.

Every feature is declared once (``_declare.Feature``: name, kind, officer group, words) with
how it is computed: the parcel's own in ``_parcel``, the history's in ``history._features``;
:data:`FEATURES` is all of them in the model's order. A model trained with partners'
indicators reads the partner-seizure features (``_partner``) after them: its spec's names
end with :data:`EXCHANGE_FEATURES` (:attr:`FeatureSpec.reads_exchange`). ``FeatureSpec`` is
what a bundle stores about the features: names and order, category codes and the reference
statistics fitted on training data (typical weight and value per gram of each HS chapter).
``feature_matrix`` turns a :class:`ParcelFrame` and its history features (and partner-seizure
features, for a model that reads them) into the float32 matrix the model reads; missing
values stay NaN (the trees route them).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._declare import DeclarationError, Feature, check_groups, declared
from ._frame import ParcelFrame
from ._parcel import PARCEL, PARCEL_FEATURES, parcel_features, values_in_eur
from ._partner import EXCHANGE, EXCHANGE_FEATURES
from .history import HISTORY, HISTORY_FEATURES

FEATURE_VERSION = "2"

#: Reference exchange rates to EUR (approximate, 2026); a bundle stores the table it used.
FX_TO_EUR: dict[str, float] = {
    "EUR": 1.0,
    "USD": 0.92,
    "GBP": 1.17,
    "AUD": 0.60,
    "CAD": 0.67,
    "CNY": 0.13,
    "CHF": 1.05,
    "JPY": 0.0061,
    "HKD": 0.118,
    "SEK": 0.088,
    "NOK": 0.086,
    "DKK": 0.134,
    "PLN": 0.23,
    "CZK": 0.040,
    "HUF": 0.0025,
    "RON": 0.20,
    "BGN": 0.51,
    "TRY": 0.027,
    "RUB": 0.010,
    "UAH": 0.022,
    "INR": 0.011,
    "SGD": 0.68,
    "KRW": 0.00067,
    "TWD": 0.029,
    "THB": 0.026,
    "MYR": 0.20,
    "IDR": 0.000057,
    "VND": 0.000036,
    "PHP": 0.016,
    "NZD": 0.55,
    "ZAR": 0.050,
    "BRL": 0.17,
    "MXN": 0.050,
    "ARS": 0.0009,
    "CLP": 0.00098,
    "COP": 0.00022,
    "ILS": 0.25,
    "AED": 0.25,
    "SAR": 0.245,
    "EGP": 0.019,
    "NGN": 0.0006,
    "KES": 0.0071,
    "MAD": 0.092,
}


@dataclass
class FeatureSpec:
    """Feature names, order, codes and fitted reference statistics (stored in each bundle)."""

    version: str = FEATURE_VERSION
    names: list[str] = field(default_factory=lambda: [*PARCEL_FEATURES, *HISTORY_FEATURES])
    origins: list[str] = field(default_factory=list)
    destinations: list[str] = field(default_factory=list)
    chapter_weight_kg: dict[str, float] = field(default_factory=dict)
    chapter_value_per_gram: dict[str, float] = field(default_factory=dict)
    fx_to_eur: dict[str, float] = field(default_factory=lambda: dict(FX_TO_EUR))

    @property
    def reads_exchange(self) -> bool:
        """Whether the model reads the partner-seizure features (after all the others)."""
        return tuple(self.names[-len(EXCHANGE_FEATURES) :]) == EXCHANGE_FEATURES

    def with_exchange(self) -> FeatureSpec:
        """The same spec, the partner-seizure features read after the others."""
        if self.reads_exchange:
            return self
        return dataclasses.replace(self, names=[*self.names, *EXCHANGE_FEATURES])

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> FeatureSpec:
        data: dict[str, Any] = json.loads(text)
        spec = cls(**data)
        if spec.version != FEATURE_VERSION:
            raise ValueError(
                f"bundle features are version {spec.version}; this code computes "
                f"version {FEATURE_VERSION}"
            )
        return spec


def fit_feature_spec(frame: ParcelFrame, min_count: int = 50) -> FeatureSpec:
    """Fit codes and per-chapter medians on training parcels (no label is used)."""
    spec = FeatureSpec()
    value_eur, _ = values_in_eur(frame, spec.fx_to_eur)
    grams = frame.gross_weight_kg * 1000
    for name, column in (("origins", frame.origin), ("destinations", frame.destination)):
        codes, counts = np.unique(column.astype(str), return_counts=True)
        setattr(
            spec, name, sorted(str(c) for c, k in zip(codes, counts, strict=True) if k >= min_count)
        )
    chapters = frame.hs_chapter.astype(str)
    for chapter in np.unique(chapters):
        if not chapter:
            continue
        mask = (chapters == chapter) & (grams > 0) & np.isfinite(value_eur)
        if mask.sum() >= min_count:
            spec.chapter_weight_kg[chapter] = float(np.median(frame.gross_weight_kg[mask]))
            spec.chapter_value_per_gram[chapter] = float(np.median(value_eur[mask] / grams[mask]))
    return spec


#: Every feature the model reads, in the model's order: the parcel's, then its history's.
FEATURES: tuple[Feature, ...] = declared([*PARCEL, *HISTORY])
#: Every feature declared: those, then the partner-seizure features a model may also read.
DECLARED: tuple[Feature, ...] = declared([*FEATURES, *EXCHANGE])
check_groups(DECLARED)
_BY_NAME = {feature.name: feature for feature in DECLARED}


def feature(name: str) -> Feature:
    """The declaration of a feature, refused for a name that no feature has."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise DeclarationError(f"feature {name!r} is not declared") from None


def names_of_kind(kind: str) -> frozenset[str]:
    """The names of the features of one kind (``_declare.KINDS``)."""
    return frozenset(f.name for f in DECLARED if f.kind == kind)


def feature_matrix(
    frame: ParcelFrame,
    history: np.ndarray,
    spec: FeatureSpec,
    exchange: np.ndarray | None = None,
) -> np.ndarray:
    """The model's input: parcel features, history features and, for a spec that reads
    them, the partner-seizure features (``exchange``, required then), float32, spec order."""
    if history.shape != (len(frame), len(HISTORY_FEATURES)):
        raise ValueError(
            f"history matrix has shape {history.shape}, expected "
            f"({len(frame)}, {len(HISTORY_FEATURES)})"
        )
    parts = [parcel_features(frame, spec), history]
    if spec.reads_exchange:
        if exchange is None or exchange.shape != (len(frame), len(EXCHANGE_FEATURES)):
            raise ValueError(
                f"the model reads the partner-seizure features: expected an exchange matrix of "
                f"shape ({len(frame)}, {len(EXCHANGE_FEATURES)}), got "
                f"{None if exchange is None else exchange.shape}"
            )
        parts.append(exchange)
    matrix = np.hstack(parts).astype(np.float32)
    if matrix.shape[1] != len(spec.names):
        raise ValueError(f"{matrix.shape[1]} features computed, bundle expects {len(spec.names)}")
    return matrix
