"""Strict JSON in and out: NaN, Infinity, numbers that overflow to infinity and an object
that names a key twice are refused."""

from __future__ import annotations

import json
import math
import sys
from typing import Any

from data_contracts import (
    DuplicateKey,
    Problem,
    duplicate_problem,
    loads_strict,
    record_label,
    split_record,
    unread,
)

from ._errors import InvalidInput


def _constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:40]} is out of range")
    return value


#: Most digits of an integer read from a request: Python's own limit on converting text to an
#: integer (a longer one is refused in plain words instead of Python's message); a shorter one
#: that is still out of range is refused by the contract, naming its field.
MAX_INT_DIGITS = sys.get_int_max_str_digits() or 4300


def _int(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_INT_DIGITS:
        raise ValueError(
            f"a number of {digits} digits is too long (at most {MAX_INT_DIGITS} digits are read)"
        )
    return int(text)


def parse_json(body: bytes) -> Any:
    """Parse a request body; InvalidInput (422) naming the reason for anything not strict JSON."""
    if not body:
        raise InvalidInput(
            "the request body is empty",
            [Problem("(body)", "(body)", "expected a JSON document", got="")],
        )
    try:
        return loads_strict(body, parse_constant=_constant, parse_float=_float, parse_int=_int)
    except DuplicateKey as exc:
        raise InvalidInput(
            f"the request body is refused: {exc}",
            [_duplicate(exc.data, where, key) for where, key in exc.found],
        ) from None
    except (ValueError, RecursionError) as exc:
        reason = str(exc)[:200] if isinstance(exc, ValueError) else "nested too deeply"
        raise InvalidInput(
            f"the request body is not valid JSON: {reason}",
            [Problem("(body)", "(body)", "malformed JSON", got=reason)],
        ) from None


def _duplicate(data: Any, where: tuple[int | str, ...], key: str) -> Problem:
    """A repeated key, named in its record: a declaration of a batch's ``declarations`` by
    its position and item ID, else the body's one record."""
    index, record, inner = split_record(data, where, records_under="declarations")
    return duplicate_problem(record_label(index, unread(record, inner, key)), inner, key)


def dump_json(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":"), allow_nan=False).encode()


def finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None
