"""What a model feature is, declared once: name, kind, officer group and words.

Every feature the model reads is one :class:`Feature` (parcel features in ``_features``,
history features in ``history._features``, each with how it is computed beside it). Its
``group`` is the declaration field an officer knows (the reasons sum contributions by group
and word each group, ``explain``); its ``kind`` says what sort of number it is (drift
monitoring leaves ``calendar`` features out and compares ``growing`` ones by whether the entity
was seen before). A feature without a known group, kind or words is refused where it is
declared, so the module declaring it cannot be imported.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar

#: What sort of number a feature is.
KINDS: dict[str, str] = {
    "amount": "a declared or measured quantity (grams, EUR)",
    "ratio": "one quantity against another (or against the usual for the goods)",
    "share": "a share of the content lines (or of inspections) between 0 and 1",
    "count": "a count of lines, pieces, characters or missing fields",
    "flag": "1 where something holds, else 0",
    "code": "a category code; its order means nothing",
    "calendar": "when the parcel was posted: says when, not what",
    "growing": "entity history that grows as the store fills (counts and ages)",
}

#: The officer groups: the declaration fields the reasons are grouped into, and their headings.
GROUP_LABELS: dict[str, str] = {
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
    "pair_history": "Sender and recipient together",
    "sender_address_history": "Sender address history",
    "recipient_history": "Recipient history",
    "recipient_address_history": "Recipient address history",
    "description_words": "Words in the description",
    "office_history": "Posting office history",
    "partner_seizures": "Seizures reported by partner agencies",
}


class DeclarationError(ValueError):
    """A feature declared without what every feature needs (group, kind, words) or twice."""


@dataclass(frozen=True, slots=True)
class Feature:
    """One model feature: its column name, kind, officer group and what it is in words."""

    name: str
    kind: str
    group: str
    words: str

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise DeclarationError(f"feature {self.name!r}: a name must be an identifier")
        if not self.group:
            raise DeclarationError(f"feature {self.name}: no officer group declared")
        if self.group not in GROUP_LABELS:
            raise DeclarationError(
                f"feature {self.name}: officer group {self.group!r} is not one of "
                f"{', '.join(GROUP_LABELS)}"
            )
        if self.kind not in KINDS:
            raise DeclarationError(
                f"feature {self.name}: kind {self.kind!r} is not one of {', '.join(KINDS)}"
            )
        if not self.words.strip():
            raise DeclarationError(f"feature {self.name}: no words say what it is")


F = TypeVar("F", bound=Feature)


def declared(features: Iterable[F]) -> tuple[F, ...]:
    """The features in order, refused where a name is declared twice."""
    out = tuple(features)
    seen: set[str] = set()
    for feature in out:
        if not isinstance(feature, Feature):
            raise DeclarationError(f"{feature!r} is not a Feature")
        if feature.name in seen:
            raise DeclarationError(f"feature {feature.name}: declared twice")
        seen.add(feature.name)
    return out


def check_groups(features: Iterable[Feature]) -> None:
    """Every officer group has a feature (a group with none could never be a reason)."""
    used = {feature.group for feature in features}
    empty = [group for group in GROUP_LABELS if group not in used]
    if empty:
        raise DeclarationError(f"officer groups with no feature: {', '.join(empty)}")
