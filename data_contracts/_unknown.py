"""Keys a record has that its contract does not: found without building them all, and
named without repeating them.

An unknown key's name is the sender's text, and a name or an address fits in it as well as
in a value: a problem names such a key only when the contract itself uses the name somewhere
(``sender_name`` at the top level, a CSV column's name sent as JSON); any other key is an
``(unknown field)`` with the length of its name, and the closest name the contract has.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from ._errors import Problem, withheld
from ._limits import MAX_LINES
from ._models import ContentLine, ExpressConsignment, InspectionOutcome, ParcelDeclaration, Party

#: The objects nested in each contract: field -> (its model, whether a list of them).
_NESTED: dict[type[BaseModel], dict[str, tuple[type[BaseModel], bool]]] = {
    ParcelDeclaration: {
        "sender": (Party, False),
        "recipient": (Party, False),
        "lines": (ContentLine, True),
        "express": (ExpressConsignment, False),
    },
    InspectionOutcome: {},
}
#: Every name the contracts use, at any level and as CSV columns: safe to repeat.
VOCABULARY: frozenset[str] = frozenset(
    {
        *ParcelDeclaration.model_fields,
        *Party.model_fields,
        *ContentLine.model_fields,
        *InspectionOutcome.model_fields,
        *ExpressConsignment.model_fields,
        *(f"express_{name}" for name in ExpressConsignment.model_fields),
        *(f"{role}_{name}" for role in ("sender", "recipient") for name in Party.model_fields),
        *(f"line_{name}" for name in ContentLine.model_fields),
    }
)
UNKNOWN = "(unknown field)"

Found = tuple[str, str, Any]  # (parent path, key, value)


def unknown_keys(
    raw: Mapping[str, Any], model: type[BaseModel], limit: int
) -> tuple[list[Found], int]:
    """The first ``limit`` unknown keys of a record (in its own order, objects nested in it
    after its top level) and how many there are in all. Counting costs one look-up per field
    of the contract, not one per key; content lines are looked into only when the contract
    would look into them (a list of at most MAX_LINES)."""
    listed: list[Found] = []
    count = 0

    def visit(mapping: Mapping[Any, Any], known: Mapping[str, Any], parent: str) -> None:
        nonlocal count
        unknown = len(mapping) - sum(1 for name in known if name in mapping)
        if not unknown:
            return
        count += unknown
        for key, value in mapping.items():
            if len(listed) >= limit:
                return
            if key not in known:
                listed.append((parent, str(key), value))

    visit(raw, model.model_fields, "")
    for name, (inner, many) in _NESTED[model].items():
        value = raw.get(name)
        if many and isinstance(value, list) and len(value) <= MAX_LINES:
            for i, item in enumerate(value):
                if isinstance(item, Mapping):
                    visit(item, inner.model_fields, f"{name}[{i}]")
        elif not many and isinstance(value, Mapping):
            visit(value, inner.model_fields, name)
    return listed, count


def unknown_field(record: str, parent: str, key: str, value: Any) -> Problem:
    """The problem of one unknown key under ``parent`` (a field path, "" at the top)."""
    message = "Extra inputs are not permitted"
    if key in VOCABULARY:
        name = key
    else:
        name = UNKNOWN
        message += (
            f" (a field the contract does not have; its name, {len(key)} character"
            f"{'s' if len(key) != 1 else ''}, is not repeated: it may hold personal "
            "data)"
        )
    known = _known_at(parent)
    close = (
        difflib.get_close_matches(key.lower(), known, n=1, cutoff=0.75) if len(key) <= 40 else []
    )
    field = f"{parent}.{name}" if parent else name
    return Problem(
        record, field, message, repr(close[0]) if close else None, withheld(value, "unknown field")
    )


def _known_at(parent: str) -> list[str]:
    """Field names of the object at ``parent`` (a declaration's, a party's, a line's)."""
    head = parent.split("[", 1)[0]
    if head in ("sender", "recipient"):
        return list(Party.model_fields)
    if head == "lines":
        return list(ContentLine.model_fields)
    if head == "express":
        return list(ExpressConsignment.model_fields)
    return [*ParcelDeclaration.model_fields, *InspectionOutcome.model_fields]
