"""Exact SHAP contributions grouped into the declaration fields an officer knows, in words.

Contributions are on the margin (log-odds) and sum, with the base value, to the margin. A
group's contribution is the sum of its features'. Each group has a sentence written from the
parcel's own values, so the officer can check the reason against the declaration.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ._features import FeatureSpec

Values = Mapping[str, float]

GROUPS: dict[str, tuple[str, ...]] = {
    "declared_value": ("value_eur", "value_per_gram_eur", "value_per_gram_vs_chapter",
                       "value_placeholder", "line_value_gap", "currency_known",
                       "postal_charges_eur"),
    "weight": ("gross_weight_g", "weight_vs_chapter", "net_over_gross_weight"),
    "contents": ("vague_description_share", "description_chars", "lines", "quantity",
                 "missing_hs_share", "hs_chapter", "foreign_origin_line_share"),
    "category": ("category_",),
    "mail_class": ("mail_class_",),
    "route": ("origin_code", "destination_code", "domestic"),
    "sender_details": ("sender_address_missing", "sender_contact_given"),
    "recipient_details": ("recipient_address_missing", "importer_ref_given"),
    "posting_time": ("hour_utc", "weekday"),
    "sender_history": ("sender_prev_", "sender_days_", "sender_age_", "sender_distinct_",
                       "pair_prev_parcels"),
    "sender_address_history": ("sender_address_prev_", "sender_address_distinct_"),
    "recipient_history": ("recipient_prev_", "recipient_days_", "recipient_distinct_"),
    "recipient_address_history": ("recipient_address_prev_", "recipient_address_distinct_"),
    "description_words": ("text_",),
    "office_history": ("office_",),
}  # fmt: skip

LABELS: dict[str, str] = {
    "declared_value": "Declared value",
    "weight": "Weight",
    "contents": "Content lines",
    "category": "Item category",
    "mail_class": "Mail class",
    "route": "Origin and destination",
    "sender_details": "Sender details",
    "recipient_details": "Recipient details",
    "posting_time": "Posting time",
    "sender_history": "Sender history",
    "sender_address_history": "Sender address history",
    "recipient_history": "Recipient history",
    "recipient_address_history": "Recipient address history",
    "description_words": "Words in the description",
    "office_history": "Posting office history",
}


@functools.cache
def group_of(feature: str) -> str:
    """The officer-facing group of a feature (longest matching prefix wins)."""
    best, length = "contents", 0
    for group, prefixes in GROUPS.items():
        for prefix in prefixes:
            if feature.startswith(prefix) and len(prefix) > length:
                best, length = group, len(prefix)
    return best


@dataclass(frozen=True, slots=True)
class Reason:
    """One grouped contribution: which field, how much it moved the log-odds, in words."""

    group: str
    label: str
    contribution: float
    sentence: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _n(x: float, digits: int = 2) -> str:
    return "unknown" if not math.isfinite(x) else f"{x:,.{digits}f}"


def _value(v: Values, spec: FeatureSpec, up: bool) -> str:
    chapter = v["hs_chapter"]
    typical = (
        spec.chapter_value_per_gram.get(f"{int(chapter):02d}") if math.isfinite(chapter) else None
    )
    known = math.isfinite(v["value_eur"])
    text = (f"declared value {_n(v['value_eur'])} EUR" if known
            else "declared value in a currency with no reference rate to EUR")  # fmt: skip
    text += f" for {_n(v['gross_weight_g'], 0)} g"
    per_gram = v["value_per_gram_eur"]
    if not math.isfinite(per_gram):  # no comparison can be made, so none is stated
        text += " (no value per gram to compare)" if known else ""
    elif typical:
        ratio = per_gram / typical
        where = (
            "far below"
            if ratio < 0.2
            else "below"
            if ratio < 0.8
            else ("above" if ratio > 1.25 else "close to")
        )
        text += (f" ({_n(per_gram, 4)} EUR/g) is {where} typical for HS chapter "
                 f"{int(chapter):02d} ({_n(typical, 4)} EUR/g)")  # fmt: skip
    else:
        text += f" ({_n(per_gram, 4)} EUR/g)"
    if v["value_placeholder"]:
        text += "; a value of 0 or 1 is a known placeholder"
    if v["line_value_gap"] > 0.05:
        text += "; line values do not add up to the total"
    return text


def _weight(v: Values, spec: FeatureSpec, up: bool) -> str:
    text = f"gross weight {_n(v['gross_weight_g'], 0)} g"
    if math.isfinite(v["weight_vs_chapter"]):
        factor = math.exp(v["weight_vs_chapter"])
        text += f" is {_n(factor, 1)} times the typical weight for the declared goods"
    if v["net_over_gross_weight"] > 1.05:
        text += "; content lines weigh more than the whole item"
    return text


def _contents(v: Values, spec: FeatureSpec, up: bool) -> str:
    parts = [f"{int(v['lines'])} content line(s), {int(v['quantity'])} piece(s)"]
    if v["vague_description_share"] > 0:
        parts.append("vague description (such as 'gift' or 'samples')")
    if v["missing_hs_share"] > 0:
        parts.append("HS code missing")
    if v["foreign_origin_line_share"] > 0:
        parts.append("goods made in another country than the origin")
    return "; ".join(parts)


def _history(prefix: str, noun: str) -> Callable[[Values, FeatureSpec, bool], str]:
    def sentence(v: Values, spec: FeatureSpec, up: bool) -> str:
        count = int(v.get(f"{prefix}_prev_parcels", 0))
        if count == 0:
            return (
                f"first parcel seen from this {noun}"
                if "sender" in prefix
                else (f"first parcel seen for this {noun}")
            )
        text = f"{count} earlier parcel(s) for this {noun}"
        seizures = int(v.get(f"{prefix}_prev_seizures", 0))
        if seizures:
            text += f", {seizures} of them seized"
        distinct = v.get(f"{prefix}_distinct_senders", float("nan"))
        if math.isfinite(distinct) and distinct > 1:
            text += f", from {int(distinct)} different senders"
        return text

    return sentence


def _one_hot(prefix: str, values: Values) -> str:
    hot = [name[len(prefix) :] for name, v in values.items() if name.startswith(prefix) and v == 1]
    return hot[0].replace("_", " ") if hot else "unknown"


def _code(code: float, known: list[str]) -> str:
    return (known[int(code) - 1] if math.isfinite(code) and 1 <= code <= len(known)
            else "a rarely seen country")  # grouped as "other" when the model was trained


def _verb(up: bool) -> str:
    return "raises" if up else "lowers"


def _category(v: Values, spec: FeatureSpec, up: bool) -> str:
    return f"item category '{_one_hot('category_', v)}' {_verb(up)} the risk"


def _mail_class(v: Values, spec: FeatureSpec, up: bool) -> str:
    return f"mail class '{_one_hot('mail_class_', v)}' {_verb(up)} the risk"


def _route(v: Values, spec: FeatureSpec, up: bool) -> str:
    origin = _code(v["origin_code"], spec.origins)
    destination = _code(v["destination_code"], spec.destinations)
    return f"route {origin} to {destination} {_verb(up)} the risk"


def _words(v: Values, spec: FeatureSpec, up: bool) -> str:
    found = [name[len("text_") :] for name, x in v.items() if name.startswith("text_") and x == 1]
    if not found:
        return f"no cover-goods words in the description ({_verb(up)} the risk)"
    return f"description has {', '.join(found)} words, a usual cover ({_verb(up)} the risk)"


def _office(v: Values, spec: FeatureSpec, up: bool) -> str:
    inspected = int(v.get("office_prev_inspections", 0))
    share = v.get("office_seizure_share", float("nan"))
    if not inspected or not math.isfinite(share):
        return f"posting office with no inspection results yet ({_verb(up)} the risk)"
    return (f"{share:.0%} of {inspected} earlier inspections of parcels from this posting "
            f"office found drugs")  # fmt: skip


def _simple(label: str) -> Callable[[Values, FeatureSpec, bool], str]:
    def sentence(v: Values, spec: FeatureSpec, up: bool) -> str:
        return f"{label} {'raises' if up else 'lowers'} the risk for parcels like this"

    return sentence


def _details(role: str) -> Callable[[Values, FeatureSpec, bool], str]:
    def sentence(v: Values, spec: FeatureSpec, up: bool) -> str:
        missing = int(v[f"{role}_address_missing"])
        return (f"{role} address incomplete ({missing} of street, city, postcode missing)"
                if missing else f"{role} address complete")  # fmt: skip

    return sentence


SENTENCES: dict[str, Callable[[Values, FeatureSpec, bool], str]] = {
    "declared_value": _value,
    "weight": _weight,
    "contents": _contents,
    "sender_history": _history("sender", "sender"),
    "sender_address_history": _history("sender_address", "sender address"),
    "recipient_history": _history("recipient", "recipient"),
    "recipient_address_history": _history("recipient_address", "recipient address"),
    "sender_details": _details("sender"),
    "recipient_details": _details("recipient"),
    "category": _category,
    "mail_class": _mail_class,
    "route": _route,
    "description_words": _words,
    "office_history": _office,
}


def group_contributions(contribs: np.ndarray, names: list[str]) -> dict[str, float]:
    """Sum one row of per-feature contributions (bias column excluded) by group."""
    out: dict[str, float] = {}
    for value, name in zip(contribs[: len(names)], names, strict=True):
        group = group_of(name)
        out[group] = out.get(group, 0.0) + float(value)
    return out


def reasons(
    contribs: np.ndarray, features: np.ndarray, spec: FeatureSpec, top: int | None = 5
) -> list[Reason]:
    """Grouped reasons of one parcel, strongest first (by absolute contribution)."""
    values = {name: float(x) for name, x in zip(spec.names, features, strict=True)}
    grouped = group_contributions(contribs, spec.names)
    ordered = sorted(grouped.items(), key=lambda kv: -abs(kv[1]))
    out = []
    for group, contribution in ordered[:top]:
        write = SENTENCES.get(group, _simple(LABELS[group]))
        sentence = write(values, spec, contribution > 0)
        out.append(Reason(group, LABELS[group], contribution, sentence[:1].upper() + sentence[1:]))
    return out
