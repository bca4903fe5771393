"""How the officer view writes numbers, units, enumerations and explanations: one way each.

Parcel weights are in kilograms everywhere (the declaration's unit; substance quantities are
in grams, the outcome's unit, and say so); money is in the declared currency with its value in
EUR beside it; chances are percentages; times are in the officer's zone, with the zone named;
every enumerated value has plain words (``sale_of_goods`` is "Sale of goods").

The explanation is drawn in the unit of the headline: the chance of a seizure. The model's
contributions add up on its log-odds scale, so the waterfall walks from the average parcel's
chance to this parcel's, one group of declaration fields at a time (largest first): each
step is the change of the calibrated chance as that group is added, so the steps add up to
exactly the chance shown at the top; steps are drawn largest first, in points.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from data_contracts import EXPRESS_CLASS
from screening import FX_TO_EUR, LABELS

from ._text import TEXT

#: The reasons' group of the partners' seizures (``screening._partner.GROUP``).
PARTNER_GROUP = "partner_seizures"

#: Entity-history groups: shown whenever they move the score, never folded into "other".
HISTORY_GROUPS = (
    "sender_history",
    "pair_history",
    "sender_address_history",
    "recipient_history",
    "recipient_address_history",
    "office_history",
)
#: Groups drawn one by one besides the history groups; the rest make "Other factors".
TOP_GROUPS = 8
#: A contribution (log-odds) below this moves nothing an officer would see.
MOVES = 0.01
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def chance(p: Any) -> str:
    """A probability as a percentage: 0.153 is 15.3%, 0.00047 is 0.047% (two figures)."""
    if p is None:
        return ""
    x = 100 * float(p)
    if x >= 1 or x == 0:
        return f"{x:.1f}%"
    return f"{x:.2g}%" if x >= 0.001 else "under 0.001%"


def points(delta: float) -> str:
    """A change of a chance, in percentage points with its sign (two figures when small)."""
    x = 100 * delta
    text = f"{x:+.1f}" if abs(x) >= 1 else f"{x:+.2g}"
    return f"{text} points"


def kg(value: Any) -> str:
    if value is None:
        return ""
    try:
        return f"{float(value):,.3f} kg"
    except (TypeError, ValueError):
        return str(value)


def grams(value: Any) -> str:
    if value is None or value == "":
        return ""
    try:
        return f"{float(value):,.1f} g"
    except (TypeError, ValueError):
        return str(value)


def size(n: Any) -> str:
    """A file size: bytes below a kilobyte, else kB or MB."""
    n = int(n)
    return (
        f"{n} bytes"
        if n < 1000
        else f"{n / 1000:.0f} kB"
        if n < 1_000_000
        else f"{n / 1_000_000:.1f} MB"
    )


def eur_of(value: Any, currency: str | None) -> float | None:
    rate = FX_TO_EUR.get(currency or "")
    if value is None or rate is None:
        return None
    return float(value) * rate


def money(value: Any, currency: str | None) -> str:
    """``12.50 USD (11.50 EUR)``: the declared amount, and EUR at the reference rate."""
    if value is None:
        return ""
    text = f"{float(value):,.2f} {currency or ''}".strip()
    if currency == "EUR":
        return text
    eur = eur_of(value, currency)
    return text + (f" ({eur:,.2f} EUR)" if eur is not None else f" ({TEXT['no_eur_rate']})")


def words(kind: str, value: Any) -> str:
    """Plain words for an enumerated value of ``kind`` (band, category, status, ...)."""
    if value is None or value == "":
        return ""
    return TEXT.get(f"{kind}_{value}", str(value).replace("_", " ").capitalize())


def party(token: Any) -> str:
    """The one short reference of a party on every page (its entity token, shortened)."""
    text = str(token or "")
    return text[:10].upper() if text else TEXT["token_none"]


# -- the explanation ---------------------------------------------------------------------


def _num(v: Mapping[str, Any], name: str) -> float:
    x = v.get(name)
    return float("nan") if x is None else float(x)


def _count(n: float, one: str, many: str) -> str:
    k = int(n) if math.isfinite(n) else 0
    return f"{k} {one if k == 1 else many}"


def _history_value(v: Mapping[str, Any], prefix: str) -> str:
    parcels, seized = _num(v, f"{prefix}_prev_parcels"), _num(v, f"{prefix}_prev_seizures")
    if not parcels or not math.isfinite(parcels):
        return TEXT["value_first_parcel"]
    text = _count(parcels, "earlier parcel", "earlier parcels")
    if math.isfinite(seized) and seized:
        text += f", {int(seized)} seized"
    return text


def _one_hot(v: Mapping[str, Any], prefix: str, kind: str) -> str:
    hot = [k[len(prefix) :] for k, x in v.items() if k.startswith(prefix) and x == 1]
    return words(kind, hot[0]) if hot else TEXT["value_unknown"]


def _mail_class(v: Mapping[str, Any]) -> str:
    """The mail class; none of them set is an express consignment (it has no postal class)."""
    if any(k.startswith("mail_class_") and x == 1 for k, x in v.items()):
        return _one_hot(v, "mail_class_", "mail_class")
    return words("mail_class", EXPRESS_CLASS)


def _route(v: Mapping[str, Any], spec: Any) -> str:
    def code(x: float, known: list[str]) -> str:
        return known[int(x) - 1] if math.isfinite(x) and 1 <= x <= len(known) else "?"

    return (
        f"{code(_num(v, 'origin_code'), spec.origins)} → "
        f"{code(_num(v, 'destination_code'), spec.destinations)}"
    )


def _office(v: Mapping[str, Any]) -> str:
    inspected, share = _num(v, "office_prev_inspections"), _num(v, "office_seizure_share")
    if not inspected or not math.isfinite(share):
        return TEXT["value_no_inspections"]
    return f"{share:.0%} of {int(inspected)} inspections found drugs"


def _time(v: Mapping[str, Any]) -> str:
    hour, day = _num(v, "hour_utc"), _num(v, "weekday")
    if not (math.isfinite(hour) and math.isfinite(day)):
        return TEXT["value_unknown"]
    return f"{int(hour):02d}:00 UTC, {WEEKDAYS[int(day) % 7]}"


def _details(v: Mapping[str, Any], role: str) -> str:
    missing = _num(v, f"{role}_address_missing")
    return (
        TEXT["value_address_complete"]
        if not missing
        else f"{int(missing)} of 3 address parts missing"
    )


def _words_found(v: Mapping[str, Any]) -> str:
    found = [k[len("text_") :] for k, x in v.items() if k.startswith("text_") and x == 1]
    return ", ".join(found) if found else TEXT["value_none"]


_VALUES: dict[str, Callable[[Mapping[str, Any], Any], str]] = {
    "declared_value": lambda v, s: (
        f"{_num(v, 'value_eur'):,.2f} EUR"
        if math.isfinite(_num(v, "value_eur"))
        else TEXT["value_unknown"]
    ),
    "weight": lambda v, s: kg(_num(v, "gross_weight_g") / 1000),
    "contents": lambda v, s: (
        f"{_count(_num(v, 'lines'), 'line', 'lines')}, "
        f"{_count(_num(v, 'quantity'), 'piece', 'pieces')}"
    ),
    "category": lambda v, s: _one_hot(v, "category_", "category"),
    "mail_class": lambda v, s: _mail_class(v),
    "route": _route,
    "sender_details": lambda v, s: _details(v, "sender"),
    "recipient_details": lambda v, s: _details(v, "recipient"),
    "posting_time": lambda v, s: _time(v),
    "sender_history": lambda v, s: _history_value(v, "sender"),
    "pair_history": lambda v, s: _count(
        _num(v, "pair_prev_parcels"), "earlier parcel", "earlier parcels"
    ),
    "sender_address_history": lambda v, s: _history_value(v, "sender_address"),
    "recipient_history": lambda v, s: _history_value(v, "recipient"),
    "recipient_address_history": lambda v, s: _history_value(v, "recipient_address"),
    "description_words": lambda v, s: _words_found(v),
    "office_history": lambda v, s: _office(v),
}


def group_value(group: str, values: Mapping[str, Any], spec: Any) -> str:
    """The parcel's value of a group of features, in a few words (``= 0.050 kg``)."""
    try:
        return _VALUES[group](values, spec)
    except (KeyError, ValueError, TypeError, IndexError):
        return ""


def _has_seizures(values: Mapping[str, Any], group: str) -> bool:
    prefix = group.removesuffix("_history")
    seized = _num(values, f"{prefix}_prev_seizures")
    return math.isfinite(seized) and seized > 0


def explanation_steps(explained: Mapping[str, Any], calibration: Any, spec: Any) -> dict[str, Any]:
    """The waterfall and reasons in chances: base chance, one step per group shown (each with
    its label, value, sentence and change in percentage points), other factors together,
    and this parcel's chance (the headline)."""
    values = explained["features"]
    base = float(explained["base_value"])
    reasons = sorted(explained["reasons"], key=lambda r: -abs(r["contribution"]))
    shown, rest = [], []
    others = 0
    hit = _num(values, "exchange_hit") > 0
    for r in reasons:
        history = (
            r["group"] in HISTORY_GROUPS
            and (abs(r["contribution"]) >= MOVES or _has_seizures(values, r["group"]))
        ) or (r["group"] == PARTNER_GROUP and hit)  # a partner's hit is always shown
        if history or (others < TOP_GROUPS and abs(r["contribution"]) >= MOVES):
            shown.append(r)
            others += not history
        else:
            rest.append(r)

    def p(margin: float) -> float:
        return float(calibration.probability([margin])[0])

    def walk(order: list[dict[str, Any]]) -> list[float]:
        running, deltas = base, []
        for r in order:
            before = p(running)
            running += float(r["contribution"])
            deltas.append(p(running) - before)
        return deltas

    # On the chance scale a step's size depends on where it comes (the same evidence moves a
    # chance of 40% further than one of 0.1%), so the steps are put in the order of their own
    # size in points: largest first, as they are then drawn (a few rounds settle it).
    for _ in range(5):
        sizes = walk(shown)
        order = sorted(range(len(shown)), key=lambda i: -abs(sizes[i]))
        if order == list(range(len(shown))):
            break
        shown = [shown[i] for i in order]
    running = base
    steps = []
    for r in shown:
        before = p(running)
        running += float(r["contribution"])
        after = p(running)
        steps.append(
            {
                "group": r["group"],
                "label": LABELS.get(r["group"], r["label"]),
                "value": group_value(r["group"], values, spec),
                "sentence": r["sentence"],
                "contribution": float(r["contribution"]),
                "before": before,
                "after": after,
                "delta": after - before,
                "up": r["contribution"] > 0,
            }
        )
    other = None
    if rest:
        before = p(running)
        running += sum(float(r["contribution"]) for r in rest)
        after = p(running)
        other = {
            "label": TEXT["waterfall_other"],
            "value": "",
            "before": before,
            "after": after,
            "delta": after - before,
            "up": after >= before,
            "groups": len(rest),
        }
    return {"base": p(base), "final": p(running), "steps": steps, "other": other}
