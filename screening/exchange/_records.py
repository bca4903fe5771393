"""What one shared seizure says (an indicator), and the codes it carries.

Only tokens and coarse facts: an opaque reference (a keyed hash of the item ID under the
exporting agency's key, which the agency alone can resolve), the month of the seizure, a
substance category, a quantity band, Europol's source reliability (A, B, C, X) and information
accuracy (1 to 4), a SIENA handling code (H0 to H3), the purpose, the sharing group and the
last day it may be used. No name, address, phone, e-mail or free text.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from .._errors import ScreeningError

RELIABILITY = ("A", "B", "C", "X")
ACCURACY = ("1", "2", "3", "4")
HANDLING = ("H0", "H1", "H2", "H3")
PURPOSES = ("drug-trafficking-prevention",)
CATEGORIES = ("cannabis", "stimulants", "ecstasy", "opioids", "psychedelics",
              "prescription", "other")  # fmt: skip
_CATEGORY_WORDS = {
    "cannabis": ("cannabis", "marijuana", "hash", "weed", "thc"),
    "stimulants": ("cocaine", "amphetamine", "methamphetamine", "speed", "crack", "stimulant"),
    "ecstasy": ("mdma", "ecstasy", "xtc"),
    "opioids": ("heroin", "fentanyl", "opioid", "oxycodone", "opium", "nitazene"),
    "psychedelics": ("lsd", "psilocybin", "mushroom", "dmt", "ketamine", "psychedelic"),
    "prescription": ("benzodiazepine", "alprazolam", "diazepam", "tramadol", "pregabalin",
                     "prescription", "xanax", "pill"),
}  # fmt: skip
QUANTITY_BANDS = ((10.0, "under 10 g"), (100.0, "10-100 g"), (1000.0, "100 g-1 kg"),
                  (float("inf"), "over 1 kg"))  # fmt: skip
_TOKEN = re.compile(r"[A-Za-z0-9-]{1,20}:[0-9a-f]{32}")
_REF = re.compile(r"[a-z0-9-]{1,24}:[0-9a-f]{24}")
_MONTH = re.compile(r"\d{4}-\d{2}")


def substance_category(substance: str | None) -> str:
    text = (substance or "").lower()
    for category, words in _CATEGORY_WORDS.items():
        if any(w in text for w in words):
            return category
    return "other"


def quantity_band(grams: float | None) -> str:
    if grams is None:
        return "unknown"
    return next(label for limit, label in QUANTITY_BANDS if grams < limit)


@dataclass
class Indicator:
    """One seizure as shared: tokens with their role and variant kind, and coarse facts."""

    ref: str
    tokens: list[dict[str, str]]
    month: str
    category: str
    quantity_band: str
    reliability: str
    accuracy: str
    handling: str
    purpose: str
    sharing_group: str
    valid_until: str
    source: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("extra")
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str) -> Indicator:
        try:
            indicator = cls(**{k: data[k] for k in (
                "ref", "tokens", "month", "category", "quantity_band", "reliability", "accuracy",
                "handling", "purpose", "sharing_group", "valid_until", "source")})  # fmt: skip
        except (KeyError, TypeError) as exc:
            raise ScreeningError(f"{where}: an indicator lacks a field: {exc}") from None
        indicator.check(where)
        return indicator

    def check(self, where: str) -> None:
        def bad(name: str, problem: str) -> ScreeningError:
            return ScreeningError(f"{where}: indicator {self.ref!r}, field {name}: {problem}")

        if not isinstance(self.ref, str) or not _REF.fullmatch(self.ref):
            raise bad("ref", "not an opaque reference (agency:24 hex digits)")
        if not isinstance(self.tokens, list) or not self.tokens:
            raise bad("tokens", "no tokens")
        for t in self.tokens:
            if (not isinstance(t, dict) or set(t) != {"token", "role", "kind"}
                    or not _TOKEN.fullmatch(str(t["token"]))):  # fmt: skip
                raise bad("tokens", "a token is not {token: EPOCH:32 hex, role, kind}")
        if not isinstance(self.month, str) or not _MONTH.fullmatch(self.month):
            raise bad("month", "not YYYY-MM")
        choices = {"category": (*CATEGORIES,), "reliability": RELIABILITY,
                   "accuracy": ACCURACY, "handling": HANDLING, "purpose": PURPOSES,
                   "quantity_band": (*(b for _, b in QUANTITY_BANDS), "unknown")}  # fmt: skip
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise bad(name, f"{getattr(self, name)!r} is not one of {', '.join(allowed)}")
        try:
            date.fromisoformat(self.valid_until)
        except (TypeError, ValueError):
            raise bad("valid_until", "not an ISO date") from None
