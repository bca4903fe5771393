"""The reason words: for each officer group, a sentence written from the parcel's own values.

Every sentence states the parcel's facts as a noun phrase and ends in the model's direction; a
fact usually read the other way (earlier seizures where the model lowers the risk) is
introduced with "despite" (:func:`sentence`), so no reason reads as the opposite of what it
does to the score. Every officer group has its template (checked when this module is
imported: a group without words cannot be declared).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

from data_contracts import EXPRESS_CLASS

from .._declare import GROUP_LABELS, DeclarationError
from .._features import FeatureSpec

Values = Mapping[str, float]


def _n(x: float, digits: int = 2) -> str:
    return "unknown" if not math.isfinite(x) else f"{x:,.{digits}f}"


def _kg(grams: float) -> str:
    """A weight in the one unit the officer view uses for parcels: kilograms."""
    return "unknown weight" if not math.isfinite(grams) else f"{grams / 1000:,.3f} kg"


#: A template's answer: the fact in words, and its usual reading: +1 a known risk signal
#: (a placeholder value, earlier seizures), -1 a reassuring one (earlier clean inspections),
#: 0 none. Where the model's direction is against the usual reading, the sentence says so.
Fact = tuple[str, int]
Template = Callable[[Values, FeatureSpec], Fact]

#: Plain words for the enumerations a reason names (never a code such as sale_of_goods).
CATEGORY_WORDS = {
    "gift": "gift",
    "documents": "documents",
    "commercial_sample": "commercial sample",
    "returned_goods": "returned goods",
    "sale_of_goods": "sale of goods",
    "other": "other",
}
MAIL_CLASS_WORDS = {
    "ems": "EMS (express mail)",
    "registered_letter": "registered letter",
    "letter_express": "express letter",
    "insured_letter": "insured letter",
    "parcel": "parcel",
    "ecommerce_parcel": "e-commerce parcel",
    "m_bag": "M-bag (printed matter)",
    "letter_misc": "letter",
    "domestic_or_bilateral": "domestic or bilateral item",
    EXPRESS_CLASS: "express consignment (not a postal item)",
}
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _value(v: Values, spec: FeatureSpec) -> Fact:
    chapter = v["hs_chapter"]
    typical = (
        spec.chapter_value_per_gram.get(f"{int(chapter):02d}") if math.isfinite(chapter) else None
    )
    known = math.isfinite(v["value_eur"])
    risky = 0
    text = (
        f"declared value {_n(v['value_eur'])} EUR"
        if known
        else "declared value in a currency with no reference rate to EUR"
    )
    text += f" for {_kg(v['gross_weight_g'])}"
    per_kg = v["value_per_gram_eur"] * 1000
    if not math.isfinite(per_kg):  # no comparison can be made, so none is stated
        text += " (no value per kg to compare)" if known else ""
    elif typical:
        ratio = per_kg / (typical * 1000)
        where = (
            "far below"
            if ratio < 0.2
            else "below"
            if ratio < 0.8
            else "above"
            if ratio > 1.25
            else "close to"
        )
        risky = 1 if ratio < 0.8 else 0
        text += (
            f" ({_n(per_kg)} EUR per kg), {where} the usual value for HS chapter "
            f"{int(chapter):02d} ({_n(typical * 1000)} EUR per kg)"
        )
    else:
        text += f" ({_n(per_kg)} EUR per kg)"
    if v["value_placeholder"]:
        text += "; a value of 0 or 1 is a known placeholder"
        risky = 1
    if v["line_value_gap"] > 0.05:
        text += "; line values do not add up to the total"
        risky = 1
    return text, risky


def _against_usual(factor: float) -> str:
    """A weight's ratio to the usual one in words ("1.0 times" read as a difference)."""
    if 0.95 <= factor < 1.05:
        return "about the usual weight"
    if factor < 0.95:
        return f"{factor:.0%} of the usual weight"
    return f"{_n(factor, 1)} times the usual weight"


def _weight(v: Values, spec: FeatureSpec) -> Fact:
    text = f"gross weight {_kg(v['gross_weight_g'])}"
    risky = 0
    if math.isfinite(v["weight_vs_chapter"]):
        factor = math.exp(v["weight_vs_chapter"])
        text += f", {_against_usual(factor)} for the declared goods"
        risky = 1 if factor > 2 or factor < 0.5 else 0
    if v["net_over_gross_weight"] > 1.05:
        text += "; content lines heavier than the whole item"
        risky = 1
    return text, risky


def _contents(v: Values, spec: FeatureSpec) -> Fact:
    lines, pieces = int(v["lines"]), int(v["quantity"])
    counted = f"{_count(lines, 'content line')} ({_count(pieces, 'piece')})"
    signals = []
    if v["vague_description_share"] > 0:
        signals.append("a vague description (such as 'gift' or 'samples')")
    if v["missing_hs_share"] > 0:
        signals.append("a missing HS code")
    foreign = "; goods made in another country than the origin"
    foreign = foreign if v["foreign_origin_line_share"] > 0 else ""
    if signals:  # the signal leads, so "Despite ..." is about it, not about the count
        return f"{' and '.join(signals)} in {counted}{foreign}", 1
    return f"{counted}{foreign}", 0


def _one(n: int) -> str:
    return "one" if n == 1 else str(n)


def _count(n: int, noun: str) -> str:
    """``n noun(s)``, one spelt out ("one content line", "3 pieces")."""
    return f"{_one(n)} {noun}{'s' * (n != 1)}"


def _history(prefix: str, noun: str) -> Template:
    def fact(v: Values, spec: FeatureSpec) -> Fact:
        count = int(v.get(f"{prefix}_prev_parcels", 0))
        if count == 0:
            return f"the first parcel seen for this {noun}", int(prefix == "sender")
        seizures = int(v.get(f"{prefix}_prev_seizures", 0))
        clean = int(v.get(f"{prefix}_prev_clean", 0) or 0)
        text = f"{_count(count, 'earlier parcel')} for this {noun}"
        risky = 0
        if seizures:
            text += ", seized" if count == 1 else f", {_one(seizures)} of them seized"
            risky = 1
        elif clean:
            found = "inspected and found clean"
            text += f", {found}" if count == 1 else f", {_one(clean)} of them {found}"
            risky = -1
        distinct = v.get(f"{prefix}_distinct_senders", float("nan"))
        if math.isfinite(distinct) and distinct > 1:
            text += f", from {int(distinct)} different senders"
            risky = max(risky, int(distinct > 3))
        return text, risky

    return fact


def _pair(v: Values, spec: FeatureSpec) -> Fact:
    count = int(v.get("pair_prev_parcels", 0))
    if count == 0:
        return "the first parcel seen between this sender and this recipient", 0
    return f"{_count(count, 'earlier parcel')} between this sender and this recipient", 0


def _one_hot(prefix: str, values: Values) -> str:
    hot = [name[len(prefix) :] for name, v in values.items() if name.startswith(prefix) and v == 1]
    return hot[0] if hot else ""


def _code(code: float, known: list[str]) -> str:
    return (
        known[int(code) - 1]
        if math.isfinite(code) and 1 <= code <= len(known)
        else "a rarely seen country"
    )  # grouped as "other" when the model was trained


def _category(v: Values, spec: FeatureSpec) -> Fact:
    code = _one_hot("category_", v)
    return f"declared category {CATEGORY_WORDS.get(code, 'unknown')}", int(code == "gift")


def _mail_class(v: Values, spec: FeatureSpec) -> Fact:
    code = _one_hot("mail_class_", v) or EXPRESS_CLASS  # no postal class: an express item
    return f"mail class {MAIL_CLASS_WORDS.get(code, 'unknown')}", 0


def _route(v: Values, spec: FeatureSpec) -> Fact:
    origin = _code(v["origin_code"], spec.origins)
    destination = _code(v["destination_code"], spec.destinations)
    return f"sent from {origin} to {destination}", 0


def _words(v: Values, spec: FeatureSpec) -> Fact:
    found = [name[len("text_") :] for name, x in v.items() if name.startswith("text_") and x == 1]
    if not found:
        return "no usual cover-goods words in the description", 0
    return f"{' and '.join(found)} words in the description, a usual cover for drugs", 1


def _office(v: Values, spec: FeatureSpec) -> Fact:
    inspected = int(v.get("office_prev_inspections", 0))
    share = v.get("office_seizure_share", float("nan"))
    if not inspected or not math.isfinite(share):
        return "no inspection results yet for parcels from this posting office", 0
    return (
        f"drugs found in {share:.0%} of {_count(inspected, 'earlier inspection')} of "
        "parcels from this posting office",
        0,
    )


def _posting_time(v: Values, spec: FeatureSpec) -> Fact:
    hour, day = v.get("hour_utc", float("nan")), v.get("weekday", float("nan"))
    if not (math.isfinite(hour) and math.isfinite(day)):
        return "posting time unknown", 0
    return f"posted at {int(hour):02d}:00 UTC on a {WEEKDAYS[int(day) % 7]}", 0


def _details(role: str) -> Template:
    def fact(v: Values, spec: FeatureSpec) -> Fact:
        missing = int(v[f"{role}_address_missing"])
        if missing:
            return (
                f"{role} address incomplete ({missing} of street, city and postcode missing)",
                1,
            )
        return f"{role} address complete", 0

    return fact


_RELIABILITY_LETTER = {3.0: "A", 2.0: "B", 1.0: "C", 0.5: "X"}


def _partner(v: Values, spec: FeatureSpec) -> Fact:
    """From the features alone (the engine words a hit from the hit itself, naming the
    partner, month and codes: ``exchange.hit_fact``)."""
    if not v.get("exchange_hit", 0):
        return (  # point in time: a partner's seizure imported later counts for later parcels
            "no seizure reported by a partner agency before this parcel was posted matches the "
            "sender or the recipient",
            0,
        )
    partners = int(v.get("exchange_partners", 1))
    what = "an address" if v.get("exchange_address_hit", 0) else "a name"
    letter = _RELIABILITY_LETTER.get(float(v.get("exchange_reliability", 0)), "unknown")
    who = "a partner agency" if partners == 1 else f"{partners} partner agencies"
    return (
        f"{what} of the sender or recipient matches a seizure reported by {who}, "
        f"reliability {letter}",
        1,
    )


SENTENCES: dict[str, Template] = {
    "declared_value": _value,
    "weight": _weight,
    "contents": _contents,
    "sender_history": _history("sender", "sender"),
    "sender_address_history": _history("sender_address", "sender address"),
    "recipient_history": _history("recipient", "recipient"),
    "recipient_address_history": _history("recipient_address", "recipient address"),
    "pair_history": _pair,
    "sender_details": _details("sender"),
    "recipient_details": _details("recipient"),
    "category": _category,
    "mail_class": _mail_class,
    "route": _route,
    "posting_time": _posting_time,
    "description_words": _words,
    "office_history": _office,
    "partner_seizures": _partner,
}


def check_sentences(sentences: Mapping[str, Template]) -> None:
    """Every officer group has its words and no words stand for a group that is not one."""
    missing = [group for group in GROUP_LABELS if group not in sentences]
    unknown = [group for group in sentences if group not in GROUP_LABELS]
    if missing or unknown:
        raise DeclarationError(
            f"reason words: no template for {', '.join(missing) or 'none'}; "
            f"templates for no group: {', '.join(unknown) or 'none'}"
        )


check_sentences(SENTENCES)


def direction(up: bool | None) -> str:
    """The words every reason ends with: what the model made of it (None: a contribution of
    exactly 0, neither way)."""
    if up is None:
        return "the model counts this as neither raising nor lowering the risk"
    return f"the model counts this as {'raising' if up else 'lowering'} the risk"


def sentence(
    group: str, values: Values, spec: FeatureSpec, up: bool | None, known: Fact | None = None
) -> str:
    """A reason in words: the parcel's own facts, then the model's direction (``up`` None:
    neither way). A fact whose usual reading is the other way (earlier seizures, where the
    model lowers the risk) is introduced with "despite", so the sentence never reads as the
    opposite of its direction. Every fact is a noun phrase, so it reads either way.
    ``known``: the group's fact as the caller knows it better than the features say (a
    partner's hit)."""
    fact, usual = known if known is not None else SENTENCES[group](values, spec)
    if usual and up is not None and (usual > 0) != up:
        return f"Despite {fact}, {direction(up)}."
    return f"{fact[:1].upper()}{fact[1:]}: {direction(up)}."
