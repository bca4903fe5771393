"""Exact SHAP contributions grouped into the declaration fields an officer knows, in words.

Contributions are on the margin (log-odds) and sum, with the base value, to the margin. A
group's contribution is the sum of its features' (each feature's group is declared with it,
``screening._declare``). Each group has a sentence written from the parcel's own values
(``_words``), so the officer can check the reason against the declaration.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .._declare import GROUP_LABELS
from .._features import DECLARED, FeatureSpec, feature
from ._words import Fact, sentence

#: The officer groups' headings (declared with the features, ``_declare``).
LABELS: dict[str, str] = GROUP_LABELS
#: The features of each officer group, in the model's order (the partner-seizure features
#: last: only a model trained with partners' indicators reads them).
GROUPS: dict[str, tuple[str, ...]] = {
    group: tuple(f.name for f in DECLARED if f.group == group) for group in GROUP_LABELS
}


def group_of(feature_name: str) -> str:
    """The officer group a feature is declared with (an undeclared name is an error)."""
    return feature(feature_name).group


@dataclass(frozen=True, slots=True)
class Reason:
    """One grouped contribution: which field, how much it moved the log-odds, in words."""

    group: str
    label: str
    contribution: float
    sentence: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def group_contributions(contribs: np.ndarray, names: list[str]) -> dict[str, float]:
    """Sum one row of per-feature contributions (bias column excluded) by group."""
    out: dict[str, float] = {}
    for value, name in zip(contribs[: len(names)], names, strict=True):
        group = group_of(name)
        out[group] = out.get(group, 0.0) + float(value)
    return out


def reasons(
    contribs: np.ndarray,
    features: np.ndarray,
    spec: FeatureSpec,
    top: int | None = 5,
    facts: Mapping[str, Fact] | None = None,
) -> list[Reason]:
    """Grouped reasons of one parcel, strongest first (by absolute contribution). ``facts``:
    groups whose fact the caller words itself (a partner's hit, or partners not checked);
    each is given even outside the ``top``, after them."""
    values = {name: float(x) for name, x in zip(spec.names, features, strict=True)}
    grouped = group_contributions(contribs, spec.names)
    ordered = sorted(grouped.items(), key=lambda kv: -abs(kv[1]))
    facts = facts or {}
    shown = ordered[:top] + [
        (g, c) for g, c in ordered[top if top is not None else len(ordered) :] if g in facts
    ]
    out = []
    for group, contribution in shown:
        up = None if contribution == 0 else contribution > 0  # exactly 0: neither way
        words = sentence(group, values, spec, up, facts.get(group))
        out.append(Reason(group, LABELS[group], contribution, words))
    return out
