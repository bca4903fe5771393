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
from ._variants import KINDS, ROLES

RELIABILITY = ("A", "B", "C", "X")
ACCURACY = ("1", "2", "3", "4")
HANDLING = ("H0", "H1", "H2", "H3")
PURPOSES = ("drug-trafficking-prevention",)
CATEGORIES = (
    "cannabis",
    "stimulants",
    "ecstasy",
    "opioids",
    "psychedelics",
    "prescription",
    "other",
)
_CATEGORY_WORDS = {
    "cannabis": ("cannabis", "marijuana", "hash", "weed", "thc"),
    "stimulants": ("cocaine", "amphetamine", "methamphetamine", "speed", "crack", "stimulant"),
    "ecstasy": ("mdma", "ecstasy", "xtc"),
    "opioids": ("heroin", "fentanyl", "opioid", "oxycodone", "opium", "nitazene"),
    "psychedelics": ("lsd", "psilocybin", "mushroom", "dmt", "ketamine", "psychedelic"),
    "prescription": (
        "benzodiazepine",
        "alprazolam",
        "diazepam",
        "tramadol",
        "pregabalin",
        "prescription",
        "xanax",
        "pill",
    ),
}
QUANTITY_BANDS = (
    (10.0, "under 10 g"),
    (100.0, "10-100 g"),
    (1000.0, "100 g-1 kg"),
    (float("inf"), "over 1 kg"),
)
_TOKEN = re.compile(r"[A-Za-z0-9-]{1,20}:[0-9a-f]{32}")
_REF = re.compile(r"[a-z0-9-]{1,24}:[0-9a-f]{24}")
_MONTH = re.compile(r"(19|20)\d{2}-(0[1-9]|1[0-2])")  # a real month
_SHARING_GROUP = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
#: a variant kind: one of KINDS, or ``name~i`` (the postcode less its i-th character)
_KIND = re.compile(rf"({'|'.join(KINDS)})|name~\d{{1,2}}")
FIELDS = (
    "ref",
    "tokens",
    "month",
    "category",
    "quantity_band",
    "reliability",
    "accuracy",
    "handling",
    "purpose",
    "sharing_group",
    "valid_until",
    "source",
)


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
        unknown = sorted(str(k) for k in data if k not in FIELDS)
        if unknown:  # nothing but the known fields is kept: no room for free text
            raise ScreeningError(f"{where}: field {unknown[0]}: not a field of an indicator")
        try:
            indicator = cls(**{k: data[k] for k in FIELDS})
        except (KeyError, TypeError) as exc:
            raise ScreeningError(f"{where}: an indicator lacks a field: {exc}") from None
        indicator.check(where)
        return indicator

    def check(self, where: str) -> None:
        # a partner's values are not echoed (beyond a well-formed reference): a refusal goes to
        # the decision log, and a planted name must not reach it that way
        ref = self.ref if isinstance(self.ref, str) and _REF.fullmatch(self.ref) else None
        label = f" (reference {ref})" if ref else ""

        def bad(name: str, problem: str) -> ScreeningError:
            return ScreeningError(f"{where}{label}, field {name}: {problem}")

        if not isinstance(self.ref, str) or not _REF.fullmatch(self.ref):
            raise bad("ref", "not an opaque reference (agency:24 hex digits)")
        if not isinstance(self.tokens, list) or not self.tokens:
            raise bad("tokens", "no tokens")
        for n, t in enumerate(self.tokens):
            if (
                not isinstance(t, dict)
                or set(t) != {"token", "role", "kind"}
                or not _TOKEN.fullmatch(str(t["token"]))
            ):
                raise bad(f"tokens[{n}]", "not {token: EPOCH:32 hex, role, kind}")
            if t["role"] not in ROLES:
                raise bad(f"tokens[{n}].role", f"not one of {', '.join(ROLES)}")
            if not isinstance(t["kind"], str) or not _KIND.fullmatch(t["kind"]):
                raise bad(f"tokens[{n}].kind", f"not one of {', '.join(KINDS)}, name~N")
        if not isinstance(self.month, str) or not _MONTH.fullmatch(self.month):
            raise bad("month", "not a month written YYYY-MM")
        if not isinstance(self.sharing_group, str) or not _SHARING_GROUP.fullmatch(
            self.sharing_group
        ):
            raise bad(
                "sharing_group", "not a sharing group code (lower-case letters, digits, dashes)"
            )
        if not isinstance(self.source, str):
            raise bad("source", "not an agency code")
        choices = {
            "category": (*CATEGORIES,),
            "reliability": RELIABILITY,
            "accuracy": ACCURACY,
            "handling": HANDLING,
            "purpose": PURPOSES,
            "quantity_band": (*(b for _, b in QUANTITY_BANDS), "unknown"),
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise bad(name, f"not one of {', '.join(allowed)}")
        try:
            if len(self.valid_until) != 10:
                raise ValueError(self.valid_until)
            date.fromisoformat(self.valid_until)
        except (TypeError, ValueError):
            raise bad("valid_until", "not an ISO date") from None
