"""Errors of the data contracts.

    ContractError                 base of every error raised by data_contracts
    ├── RecordInvalid             one record broke the contract (carries its Problems)
    └── FormError                 a file or payload could not be read in the form it claims

A :class:`Problem` names the record, the field and what was expected versus what came, so that
an operator can fix the source. Problems with severity ``warning`` do not reject the record:
they are data-quality findings (and risk signals), such as line totals that do not add up.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any, Literal

from ._s10 import looks_like_item_id

Severity = Literal["error", "warning"]

#: the declaration's parties: every field under them is personal data (names, addresses,
#: contact details), so a problem there never repeats the value, not even in quarantine files
PARTIES = ("sender", "recipient")


def is_personal(field: str) -> bool:
    """Whether a problem's field path lies under a party (``sender.name``, ``recipient``)."""
    return field.split(".", 1)[0].split("[", 1)[0] in PARTIES


#: Fields that hold a code (a country, a currency, an HS code): a value that does not look
#: like one (a name pasted into the wrong column) is not repeated in a problem.
_CODE_FIELDS = ("country", "currency", "hs_code")
_CODE_LIKE = re.compile(r"[A-Za-z0-9._-]{0,16}")


def _is_code_field(field: str) -> bool:
    last = field.rsplit(".", 1)[-1].split("[", 1)[0]
    return last.endswith(_CODE_FIELDS)


def withheld(value: Any, why: str = "personal data") -> str:
    """What a value was, without the value: its kind and size."""
    if isinstance(value, str):
        kind = f"text of {len(value)} character{'s' if len(value) != 1 else ''}"
    elif isinstance(value, dict | list):
        kind = f"{type(value).__name__} of {len(value)}"
    else:
        kind = type(value).__name__
    return f"{kind}, withheld ({why})"


def shown(value: Any, field: str) -> str | None:
    """The ``got`` of a problem: a short repr of a scalar; the kind only for personal fields,
    for objects and lists (which may hold a party) and for an item ID that does not have the
    shape of one (a name pasted into the wrong column)."""
    if value is None:
        return "None"
    if is_personal(field):
        return withheld(value)
    if field == "item_id" and not looks_like_item_id(value):
        return withheld(value, "not an item ID, may hold personal data")
    if _is_code_field(field) and isinstance(value, str) and not _CODE_LIKE.fullmatch(value):
        return withheld(value, "not a code, may hold personal data")
    if isinstance(value, dict | list):
        return withheld(value, "a structure")
    return repr(value)[:120]


def labelled(where: str, item_id: Any) -> str:
    """How a record is named in messages: where it is and, when it has the shape of one, its
    item ID (``line 4 (RR123456785CH)``); any other value there is not repeated."""
    return f"{where} ({item_id})" if looks_like_item_id(item_id) else where


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding about one field of one record."""

    record: str
    field: str
    problem: str
    expected: str | None = None
    got: str | None = None
    severity: Severity = "error"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        detail = f"; expected {self.expected}" if self.expected else ""
        detail += f"; got {self.got}" if self.got is not None else ""
        return f"{self.severity}: record {self.record}, field {self.field}: {self.problem}{detail}"


class ContractError(Exception):
    """Base class of every error raised by data_contracts."""


class RecordInvalid(ContractError):
    """A record that breaks the contract; ``problems`` lists every error found in it."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


class FormError(ContractError):
    """A file or payload that cannot be read as the form it claims (JSON, CSV, Parquet...)."""
