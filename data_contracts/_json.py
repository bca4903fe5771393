"""Strict JSON objects: a key named twice in one object is refused, not resolved.

Python's ``json`` keeps the last value of a repeated key, other readers keep the first, so a
record with one is read differently by different systems. :func:`loads_strict` parses as
``json.loads`` does, then refuses such a record (:class:`DuplicateKey`, naming each repeated
key and where it is); :func:`duplicate_problem` words it as a Problem of its record.
"""

from __future__ import annotations

import json
from typing import Any

from ._errors import ContractError, Problem
from ._validate import _path as path_text

#: Where a value is in a parsed document: keys and list positions from its root.
Where = tuple[int | str, ...]


class DuplicateKey(ContractError, ValueError):
    """A JSON document with an object that names a key more than once. ``found`` lists each
    such key with the path of its object; ``data`` is the document as ``json`` reads it (the
    last value of each key), to name the records."""

    def __init__(self, data: Any, found: list[tuple[Where, str]]) -> None:
        self.data, self.found = data, found
        where, key = found[0]
        at = path_text(where) if where else "the top level"
        super().__init__(f"key {key!r} appears more than once in one object (at {at})")


def loads_strict(text: str | bytes, **options: Any) -> Any:
    """``json.loads(text, **options)`` that refuses an object naming a key twice."""
    repeated: list[tuple[str, dict[str, Any]]] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(items)
        if len(obj) != len(items):  # rare: named after the parse, where the object sits
            repeated.append((_first_repeated(items), obj))
        return obj

    data = json.loads(text, object_pairs_hook=pairs, **options)
    if repeated:
        raise DuplicateKey(data, _located(data, repeated))
    return data


def split_record(
    data: Any, where: Where, records_under: str | None = None
) -> tuple[int, Any, Where]:
    """(index, record, path within it) of a path in a document that is a list of records,
    one record, or (``records_under``) an object whose list of that name holds the records."""
    if isinstance(data, list) and where and isinstance(where[0], int):
        return where[0], data[where[0]], where[1:]
    if (
        records_under is not None
        and isinstance(data, dict)
        and len(where) >= 2
        and where[0] == records_under
        and isinstance(where[1], int)
        and isinstance(data.get(records_under), list)
    ):
        return where[1], data[records_under][where[1]], where[2:]
    return 0, data, where


def unread(record: Any, where: Where, key: str) -> Any:
    """The record to name a repeated key's record by: without its item ID when the item ID
    is the repeated key (neither of its values is read, so neither names the record)."""
    if key == "item_id" and not where and isinstance(record, dict):
        return {k: v for k, v in record.items() if k != "item_id"}
    return record


def duplicate_problem(record: str, where: Where, key: str) -> Problem:
    """The Problem of a key named twice in the object at ``where`` of the record ``record``
    (no value shown: either may be personal data)."""
    return Problem(
        record,
        path_text((*where, key)),
        f"the key {key!r} appears more than once in one object (JSON readers differ on "
        "which value they keep, so neither is read)",
        "each key once per object",
    )


def _first_repeated(items: list[tuple[str, Any]]) -> str:
    seen: set[str] = set()
    for key, _ in items:
        if key in seen:
            return key
        seen.add(key)
    raise AssertionError("no repeated key")  # pragma: no cover - called only when there is one


def _located(data: Any, repeated: list[tuple[str, dict[str, Any]]]) -> list[tuple[Where, str]]:
    """The path of each object with a repeated key (found by identity), in document order."""
    wanted = {id(obj): key for key, obj in repeated}
    found: list[tuple[Where, str]] = []
    stack: list[tuple[Where, Any]] = [((), data)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, dict):
            if id(value) in wanted:
                found.append((where, wanted[id(value)]))
            children = list(value.items())
        elif isinstance(value, list):
            children = list(enumerate(value))
        else:
            continue
        stack.extend(((*where, k), v) for k, v in reversed(children))
    return found
