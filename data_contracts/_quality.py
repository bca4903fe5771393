"""Data-quality findings on valid declarations (warnings, never rejections).

The WCO's recurring bad advance data: vague descriptions, values of 0 or 1, incomplete
addresses, line totals that do not add up; and an express consignment's master air waybill
whose IATA check digit does not match (a warning: a document of that shape may be another
kind). They are warnings for the sender's post and risk
signals for screening, so the same rules are exported for the feature code.
"""

from __future__ import annotations

import re

from ._errors import Problem
from ._models import ParcelDeclaration, Party

#: Descriptions CN23 does not accept because they say nothing about the goods.
VAGUE_WORDS: frozenset[str] = frozenset(
    {
        "gift",
        "gifts",
        "present",
        "sample",
        "samples",
        "parts",
        "part",
        "goods",
        "items",
        "item",
        "stuff",
        "merchandise",
        "accessories",
        "misc",
        "miscellaneous",
        "various",
        "personal",
        "personal items",
        "personal effects",
        "products",
        "product",
        "package",
        "parcel",
        "other",
        "things",
        "documents",
        "papers",
    }
)
#: Relative and absolute tolerance for line totals against item totals.
VALUE_TOLERANCE = (0.02, 0.01)
#: Net weight of the lines may exceed the gross weight by this share before it is a finding.
WEIGHT_TOLERANCE = 0.05

_WORDS = re.compile(r"[^a-z ]+")
#: An IATA air waybill number: 3-digit airline prefix, 7-digit serial and its check digit.
_AWB = re.compile(r"(\d{3})-?(\d{7})(\d)\Z")


def awb_check_digit(document: str) -> int | None:
    """The check digit an air waybill number of that shape should end with (its serial
    modulo 7), or None for a transport document of another shape."""
    match = _AWB.match(document)
    return None if match is None else int(match.group(2)) % 7


def is_vague(description: str) -> bool:
    """True when a description is one of the vague words CN23 does not accept."""
    return _WORDS.sub(" ", description.lower()).strip() in VAGUE_WORDS


def lines_value_mismatch(declared: float, line_total: float) -> bool:
    rel, absolute = VALUE_TOLERANCE
    return abs(declared - line_total) > max(absolute, rel * max(declared, line_total))


def lines_weight_excess(gross: float, net_total: float) -> bool:
    return net_total > gross * (1 + WEIGHT_TOLERANCE) + 1e-9


def _incomplete(party: Party) -> list[str]:
    return [name for name in ("street", "city", "postcode") if not getattr(party, name)]


def quality_warnings(decl: ParcelDeclaration, record: str) -> list[Problem]:
    """Every data-quality warning of one valid declaration."""
    found: list[Problem] = []

    def warn(field: str, problem: str, expected: str | None = None, got: str | None = None) -> None:
        found.append(Problem(record, field, problem, expected, got, severity="warning"))

    line_value = sum(line.value for line in decl.lines)
    if lines_value_mismatch(decl.declared_value, line_value):
        warn(
            "declared_value",
            "line values do not add up to the declared value",
            f"about {line_value:.2f}",
            f"{decl.declared_value:.2f}",
        )
    net = sum(line.net_weight_kg for line in decl.lines)
    if lines_weight_excess(decl.gross_weight_kg, net):
        warn(
            "gross_weight_kg",
            "net weight of the lines exceeds the gross weight",
            f">= {net:.3f}",
            f"{decl.gross_weight_kg:.3f}",
        )
    if decl.declared_value in (0.0, 1.0):
        warn(
            "declared_value",
            "declared value of 0 or 1 is a known placeholder",
            got=f"{decl.declared_value:g}",
        )
    for i, line in enumerate(decl.lines):
        if is_vague(line.description):
            warn(
                f"lines[{i}].description",
                "vague description not accepted on CN23",
                "a precise description of the goods",
                repr(line.description),
            )
        if line.hs_code is None:
            warn(f"lines[{i}].hs_code", "HS code missing", "6 to 10 digits")
    document = decl.express.transport_document if decl.express else None
    expected = awb_check_digit(document) if document else None
    if document and expected is not None and int(document[-1]) != expected:
        warn(
            "express.transport_document",
            "air waybill check digit does not match (the "
            "last digit is the 7-digit serial modulo 7): a mistyped master air waybill?",
            f"last digit {expected}",
            repr(document),
        )
    for role in ("sender", "recipient"):
        party = getattr(decl, role)
        missing = _incomplete(party)
        if missing and party.id_number is None:  # one identified by number needs no address
            warn(role, f"incomplete address: {', '.join(missing)} missing")
    return found
