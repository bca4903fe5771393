"""Parcel features: the one implementation used by training and every scoring path.

``FeatureSpec`` is what a bundle stores about the features: names and order, category codes
and the reference statistics fitted on training data (typical weight and value per gram of
each HS chapter). ``feature_matrix`` turns a :class:`ParcelFrame` and its history features
into the float32 matrix the model reads; missing values stay NaN (the trees route them).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from data_contracts import ItemCategory, MailClass

from ._frame import ParcelFrame
from .history import HISTORY_FEATURES

FEATURE_VERSION = "2"

#: Reference exchange rates to EUR (approximate, 2026); a bundle stores the table it used.
FX_TO_EUR: dict[str, float] = {
    "EUR": 1.0, "USD": 0.92, "GBP": 1.17, "AUD": 0.60, "CAD": 0.67, "CNY": 0.13, "CHF": 1.05,
    "JPY": 0.0061, "HKD": 0.118, "SEK": 0.088, "NOK": 0.086, "DKK": 0.134, "PLN": 0.23,
    "CZK": 0.040, "HUF": 0.0025, "RON": 0.20, "BGN": 0.51, "TRY": 0.027, "RUB": 0.010,
    "UAH": 0.022, "INR": 0.011, "SGD": 0.68, "KRW": 0.00067, "TWD": 0.029, "THB": 0.026,
    "MYR": 0.20, "IDR": 0.000057, "VND": 0.000036, "PHP": 0.016, "NZD": 0.55, "ZAR": 0.050,
    "BRL": 0.17, "MXN": 0.050, "ARS": 0.0009, "CLP": 0.00098, "COP": 0.00022, "ILS": 0.25,
    "AED": 0.25, "SAR": 0.245, "EGP": 0.019, "NGN": 0.0006, "KES": 0.0071, "MAD": 0.092,
}  # fmt: skip

#: Words in descriptions that mark the usual cover goods of drug parcels (DOMAIN.md).
TEXT_GROUPS: dict[str, tuple[str, ...]] = {
    "cosmetics": ("cream", "cosmetic", "soap", "lotion", "perfume", "bath", "makeup", "candle"),
    "food": ("tea", "coffee", "candy", "chocolate", "sweets", "snack", "spice", "herb", "cookie"),
    "media": ("dvd", "cd", "book", "magazine", "vinyl", "game", "blu"),
    "supplements": ("vitamin", "supplement", "capsule", "protein", "powder", "tablet", "pill"),
    "paper": ("document", "letter", "card", "paper", "photo", "postcard", "certificate"),
    "clothing": ("shirt", "sock", "dress", "jacket", "cloth", "hoodie", "shoe", "scarf"),
}

#: One substring search per group (the same test as "any word of the group occurs").
_TEXT_PATTERNS = tuple(re.compile("|".join(map(re.escape, w))) for w in TEXT_GROUPS.values())
_CATEGORIES = tuple(c.value for c in ItemCategory)
_MAIL_CLASSES = tuple(c.value for c in MailClass)

PARCEL_FEATURES: tuple[str, ...] = (
    "gross_weight_g",
    "value_eur",
    "value_per_gram_eur",
    "postal_charges_eur",
    "lines",
    "quantity",
    "line_value_gap",
    "net_over_gross_weight",
    "vague_description_share",
    "missing_hs_share",
    "value_placeholder",
    "weight_vs_chapter",
    "value_per_gram_vs_chapter",
    "sender_address_missing",
    "recipient_address_missing",
    "sender_contact_given",
    "importer_ref_given",
    "foreign_origin_line_share",
    "domestic",
    "origin_code",
    "destination_code",
    "hs_chapter",
    "currency_known",
    "hour_utc",
    "weekday",
    "description_chars",
    *(f"text_{group}" for group in TEXT_GROUPS),
    *(f"category_{c}" for c in _CATEGORIES),
    *(f"mail_class_{c}" for c in _MAIL_CLASSES),
)


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


#: From this many rows, a function of a text column is computed once per distinct value.
_DISTINCT_ROWS = 64


def _distinct(values: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(code of each row, distinct values) for many rows; None for a few."""
    if len(values) < _DISTINCT_ROWS:
        return None
    codes, distinct = pd.factorize(np.asarray(values, dtype=object), use_na_sentinel=False)
    return codes, distinct


def _per_value(values: np.ndarray, fn: Callable[[Any], float],
               distinct: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:  # fmt: skip
    """``fn`` of every value as float64: row by row for a few rows, else once per distinct
    value (the same numbers either way; columns of text repeat a great deal)."""
    found = distinct if distinct is not None else _distinct(values)
    if found is None:
        return np.array([fn(v) for v in values], dtype=np.float64).reshape(len(values))
    codes, uniques = found
    per_unique = np.array([fn(v) for v in uniques], dtype=np.float64).reshape(len(uniques))
    return np.asarray(per_unique[codes])


def _found(pattern: re.Pattern[str], text: str) -> float:
    return float(pattern.search(text) is not None)


def _value_eur(frame: ParcelFrame, fx: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
    rate = _per_value(frame.currency, lambda c: fx.get(c, np.nan))
    return frame.declared_value * rate, rate


def fit_feature_spec(frame: ParcelFrame, min_count: int = 50) -> FeatureSpec:
    """Fit codes and per-chapter medians on training parcels (no label is used)."""
    spec = FeatureSpec()
    value_eur, _ = _value_eur(frame, spec.fx_to_eur)
    grams = frame.gross_weight_kg * 1000
    for name, column in (("origins", frame.origin), ("destinations", frame.destination)):
        codes, counts = np.unique(column.astype(str), return_counts=True)
        setattr(spec, name, sorted(str(c) for c, k in zip(codes, counts, strict=True)
                                   if k >= min_count))  # fmt: skip
    chapters = frame.hs_chapter.astype(str)
    for chapter in np.unique(chapters):
        if not chapter:
            continue
        mask = (chapters == chapter) & (grams > 0) & np.isfinite(value_eur)
        if mask.sum() >= min_count:
            spec.chapter_weight_kg[chapter] = float(np.median(frame.gross_weight_kg[mask]))
            spec.chapter_value_per_gram[chapter] = float(np.median(value_eur[mask] / grams[mask]))
    return spec


def _codes(values: np.ndarray, known: list[str]) -> np.ndarray:
    index = {v: i + 1 for i, v in enumerate(known)}
    return _per_value(values, lambda v: index.get(v, 0))


def _log_ratio(values: np.ndarray, chapters: np.ndarray, reference: dict[str, float],
               distinct: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:  # fmt: skip
    ref = _per_value(chapters, lambda c: reference.get(c, np.nan), distinct)
    with np.errstate(divide="ignore", invalid="ignore"):
        out: np.ndarray = np.log(values / ref)
    out[~np.isfinite(out)] = np.nan
    return out


def _safe_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        out: np.ndarray = a / b
    out[~np.isfinite(out)] = np.nan
    return out


def parcel_features(frame: ParcelFrame, spec: FeatureSpec) -> np.ndarray:
    """Features of the declarations themselves, (n, len(PARCEL_FEATURES)) float64."""
    n = len(frame)
    value_eur, rate = _value_eur(frame, spec.fx_to_eur)
    grams = frame.gross_weight_kg * 1000
    value_per_gram = _safe_div(value_eur, grams)
    chapters = frame.hs_chapter.astype(str)
    by_chapter = _distinct(chapters)
    seconds = frame.posted_us // 1_000_000
    text = frame.description
    by_text = _distinct(text)
    columns: list[np.ndarray] = [
        grams,
        value_eur,
        value_per_gram,
        frame.postal_charges * rate,
        frame.n_lines,
        frame.line_quantity,
        _safe_div(
            np.abs(frame.declared_value - frame.line_value),
            np.maximum(np.maximum(frame.declared_value, frame.line_value), 0.01),
        ),  # fmt: skip
        _safe_div(frame.line_net_weight, frame.gross_weight_kg),
        frame.vague_lines / frame.n_lines,
        frame.missing_hs_lines / frame.n_lines,
        np.isin(frame.declared_value, (0.0, 1.0)).astype(np.float64),
        _log_ratio(frame.gross_weight_kg, chapters, spec.chapter_weight_kg, by_chapter),
        _log_ratio(value_per_gram, chapters, spec.chapter_value_per_gram, by_chapter),
        frame.sender_missing,
        frame.recipient_missing,
        frame.sender_contact,
        frame.importer_ref,
        frame.foreign_origin_lines / frame.n_lines,
        (frame.origin == frame.destination).astype(np.float64),
        _codes(frame.origin, spec.origins),
        _codes(frame.destination, spec.destinations),
        _per_value(chapters, lambda c: float(c) if c else np.nan, by_chapter),
        np.isfinite(rate).astype(np.float64),
        ((seconds % 86_400) // 3_600).astype(np.float64),
        (((seconds // 86_400) + 3) % 7).astype(np.float64),  # 1970-01-01 was a Thursday: 0 = Mon
        _per_value(text, len, by_text),
    ]
    for pattern in _TEXT_PATTERNS:
        columns.append(_per_value(text, functools.partial(_found, pattern), by_text))
    columns.extend((frame.category == c).astype(np.float64) for c in _CATEGORIES)
    columns.extend((frame.mail_class == c).astype(np.float64) for c in _MAIL_CLASSES)
    return np.column_stack(columns) if n else np.empty((0, len(PARCEL_FEATURES)))


def feature_matrix(frame: ParcelFrame, history: np.ndarray, spec: FeatureSpec) -> np.ndarray:
    """The model's input: parcel features then history features, float32, spec order."""
    if history.shape != (len(frame), len(HISTORY_FEATURES)):
        raise ValueError(f"history matrix has shape {history.shape}, expected "
                         f"({len(frame)}, {len(HISTORY_FEATURES)})")  # fmt: skip
    matrix = np.hstack([parcel_features(frame, spec), history]).astype(np.float32)
    if matrix.shape[1] != len(spec.names):
        raise ValueError(f"{matrix.shape[1]} features computed, bundle expects {len(spec.names)}")
    return matrix
