"""The parcel features (of the declaration itself), each declared once with its column.

Every :class:`ParcelFeature` names its kind, officer group and words (``_declare``) and the
function that computes its column over a whole frame from shared intermediate columns
(:class:`_Inputs`); :func:`parcel_features` evaluates them in declaration order, so the
matrix's columns and their names cannot disagree. One row is a frame of one row: the same
functions give the same numbers (a test holds it).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from data_contracts import ItemCategory, MailClass

from ._declare import Feature, declared
from ._frame import ParcelFrame

if TYPE_CHECKING:
    from ._features import FeatureSpec

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


#: From this many rows, a function of a text column is computed once per distinct value.
_DISTINCT_ROWS = 64


def _distinct(values: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(code of each row, distinct values) for many rows; None for a few."""
    if len(values) < _DISTINCT_ROWS:
        return None
    codes, distinct = pd.factorize(np.asarray(values, dtype=object), use_na_sentinel=False)
    return codes, distinct


def _per_value(
    values: np.ndarray,
    fn: Callable[[Any], float],
    distinct: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
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


def values_in_eur(frame: ParcelFrame, fx: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
    rate = _per_value(frame.currency, lambda c: fx.get(c, np.nan))
    return frame.declared_value * rate, rate


def _codes(values: np.ndarray, known: list[str]) -> np.ndarray:
    index = {v: i + 1 for i, v in enumerate(known)}
    return _per_value(values, lambda v: index.get(v, 0))


def _log_ratio(
    values: np.ndarray,
    chapters: np.ndarray,
    reference: dict[str, float],
    distinct: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
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


class _Inputs:
    """What the parcel features of a frame are computed from: the frame, the spec, and the
    intermediate columns several features share (each computed once, when first asked)."""

    def __init__(self, frame: ParcelFrame, spec: FeatureSpec) -> None:
        self.frame, self.spec = frame, spec

    @functools.cached_property
    def value_and_rate(self) -> tuple[np.ndarray, np.ndarray]:
        return values_in_eur(self.frame, self.spec.fx_to_eur)

    @property
    def value_eur(self) -> np.ndarray:
        return self.value_and_rate[0]

    @property
    def rate(self) -> np.ndarray:
        return self.value_and_rate[1]

    @functools.cached_property
    def grams(self) -> np.ndarray:
        return self.frame.gross_weight_kg * 1000

    @functools.cached_property
    def value_per_gram(self) -> np.ndarray:
        return _safe_div(self.value_eur, self.grams)

    @functools.cached_property
    def chapters(self) -> np.ndarray:
        return self.frame.hs_chapter.astype(str)

    @functools.cached_property
    def by_chapter(self) -> tuple[np.ndarray, np.ndarray] | None:
        return _distinct(self.chapters)

    @functools.cached_property
    def seconds(self) -> np.ndarray:
        return self.frame.posted_us // 1_000_000

    @functools.cached_property
    def by_text(self) -> tuple[np.ndarray, np.ndarray] | None:
        return _distinct(self.frame.description)

    def of_text(self, fn: Callable[[Any], float]) -> np.ndarray:
        return _per_value(self.frame.description, fn, self.by_text)

    def vs_chapter(self, values: np.ndarray, reference: dict[str, float]) -> np.ndarray:
        return _log_ratio(values, self.chapters, reference, self.by_chapter)

    def per_line(self, counts: np.ndarray) -> np.ndarray:
        return np.asarray(counts / self.frame.n_lines)


@dataclass(frozen=True, slots=True)
class ParcelFeature(Feature):
    """A feature of the declaration itself, with its column over a whole frame."""

    column: Callable[[_Inputs], np.ndarray]


def _line_value_gap(x: _Inputs) -> np.ndarray:
    declared, lines = x.frame.declared_value, x.frame.line_value
    return _safe_div(np.abs(declared - lines), np.maximum(np.maximum(declared, lines), 0.01))


def _words_found(pattern: re.Pattern[str]) -> Callable[[_Inputs], np.ndarray]:
    return lambda x: x.of_text(functools.partial(_found, pattern))


def _is(column: str, value: str) -> Callable[[_Inputs], np.ndarray]:
    return lambda x: (getattr(x.frame, column) == value).astype(np.float64)


def _p(
    name: str, kind: str, group: str, words: str, column: Callable[[_Inputs], np.ndarray]
) -> ParcelFeature:
    return ParcelFeature(name, kind, group, words, column)


PARCEL: tuple[ParcelFeature, ...] = declared(
    [
        _p("gross_weight_g", "amount", "weight", "gross weight in grams", lambda x: x.grams),
        _p("value_eur", "amount", "declared_value", "declared value in EUR", lambda x: x.value_eur),
        _p(
            "value_per_gram_eur",
            "ratio",
            "declared_value",
            "declared value per gram in EUR",
            lambda x: x.value_per_gram,
        ),
        _p(
            "postal_charges_eur",
            "amount",
            "declared_value",
            "postal charges in EUR",
            lambda x: x.frame.postal_charges * x.rate,
        ),
        _p("lines", "count", "contents", "content lines", lambda x: x.frame.n_lines),
        _p(
            "quantity",
            "count",
            "contents",
            "pieces over all content lines",
            lambda x: x.frame.line_quantity,
        ),
        _p(
            "line_value_gap",
            "ratio",
            "declared_value",
            "gap between the declared value and the sum of the line values",
            _line_value_gap,
        ),
        _p(
            "net_over_gross_weight",
            "ratio",
            "weight",
            "net weight of the content lines over the gross weight",
            lambda x: _safe_div(x.frame.line_net_weight, x.frame.gross_weight_kg),
        ),
        _p(
            "vague_description_share",
            "share",
            "contents",
            "share of lines with a vague description",
            lambda x: x.per_line(x.frame.vague_lines),
        ),
        _p(
            "missing_hs_share",
            "share",
            "contents",
            "share of lines without an HS code",
            lambda x: x.per_line(x.frame.missing_hs_lines),
        ),
        _p(
            "value_placeholder",
            "flag",
            "declared_value",
            "a declared value of 0 or 1",
            lambda x: np.isin(x.frame.declared_value, (0.0, 1.0)).astype(np.float64),
        ),
        _p(
            "weight_vs_chapter",
            "ratio",
            "weight",
            "log of the weight against the usual for the HS chapter",
            lambda x: x.vs_chapter(x.frame.gross_weight_kg, x.spec.chapter_weight_kg),
        ),
        _p(
            "value_per_gram_vs_chapter",
            "ratio",
            "declared_value",
            "log of the value per gram against the usual for the HS chapter",
            lambda x: x.vs_chapter(x.value_per_gram, x.spec.chapter_value_per_gram),
        ),
        _p(
            "sender_address_missing",
            "count",
            "sender_details",
            "missing parts of the sender's address",
            lambda x: x.frame.sender_missing,
        ),
        _p(
            "recipient_address_missing",
            "count",
            "recipient_details",
            "missing parts of the recipient's address",
            lambda x: x.frame.recipient_missing,
        ),
        _p(
            "sender_contact_given",
            "flag",
            "sender_details",
            "a sender phone or e-mail given",
            lambda x: x.frame.sender_contact,
        ),
        _p(
            "importer_ref_given",
            "flag",
            "recipient_details",
            "an importer reference given",
            lambda x: x.frame.importer_ref,
        ),
        _p(
            "foreign_origin_line_share",
            "share",
            "contents",
            "share of lines made in another country than the origin",
            lambda x: x.per_line(x.frame.foreign_origin_lines),
        ),
        _p(
            "domestic",
            "flag",
            "route",
            "origin and destination the same country",
            lambda x: (x.frame.origin == x.frame.destination).astype(np.float64),
        ),
        _p(
            "origin_code",
            "code",
            "route",
            "country of origin",
            lambda x: _codes(x.frame.origin, x.spec.origins),
        ),
        _p(
            "destination_code",
            "code",
            "route",
            "country of destination",
            lambda x: _codes(x.frame.destination, x.spec.destinations),
        ),
        _p(
            "hs_chapter",
            "code",
            "contents",
            "HS chapter of the first content line",
            lambda x: _per_value(x.chapters, lambda c: float(c) if c else np.nan, x.by_chapter),
        ),
        _p(
            "currency_known",
            "flag",
            "declared_value",
            "a currency with a reference rate to EUR",
            lambda x: np.isfinite(x.rate).astype(np.float64),
        ),
        _p(
            "hour_utc",
            "calendar",
            "posting_time",
            "hour of posting (UTC)",
            lambda x: ((x.seconds % 86_400) // 3_600).astype(np.float64),
        ),
        # 1970-01-01 was a Thursday: 0 = Monday
        _p(
            "weekday",
            "calendar",
            "posting_time",
            "weekday of posting (0 = Monday)",
            lambda x: (((x.seconds // 86_400) + 3) % 7).astype(np.float64),
        ),
        _p(
            "description_chars",
            "count",
            "contents",
            "characters in the description",
            lambda x: x.of_text(len),
        ),
        *(
            _p(
                f"text_{group}",
                "flag",
                "description_words",
                f"{group} words in the description",
                _words_found(pattern),
            )
            for group, pattern in zip(TEXT_GROUPS, _TEXT_PATTERNS, strict=True)
        ),
        *(
            _p(f"category_{c}", "flag", "category", f"declared category {c}", _is("category", c))
            for c in _CATEGORIES
        ),
        *(
            _p(f"mail_class_{c}", "flag", "mail_class", f"mail class {c}", _is("mail_class", c))
            for c in _MAIL_CLASSES
        ),
    ]
)
PARCEL_FEATURES: tuple[str, ...] = tuple(feature.name for feature in PARCEL)


def parcel_features(frame: ParcelFrame, spec: FeatureSpec) -> np.ndarray:
    """Features of the declarations themselves, (n, len(PARCEL_FEATURES)) float64, each
    computed by its declaration's column function in declaration order."""
    if not len(frame):
        return np.empty((0, len(PARCEL)))
    inputs = _Inputs(frame, spec)
    return np.column_stack([feature.column(inputs) for feature in PARCEL])
