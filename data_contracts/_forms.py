"""The three forms of one contract: JSON / JSON Lines, Parquet (lines nested) and CSV (flat).

CSV carries one row per content line: item fields repeat on each row, parties are flattened to
``sender_name``, ``recipient_city``..., and line fields are prefixed ``line_``. Rows of one item
must be contiguous. An express consignment's details are ``express_carrier``,
``express_house_consignment`` and ``express_transport_document`` (contract version 2, as are
``sender_id_number`` and ``recipient_id_number``: a version 1 file without these columns reads
as before). Readers never drop a record: an unreadable one comes back as a
:class:`Labelled` record with its problem, so a batch can quarantine it.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel

from ._arrow import (
    DECLARATION_SCHEMA,
    EXPRESS_TYPE,
    LINE_TYPE,
    OUTCOME_SCHEMA,
    PARTY_TYPE,
    V2_COLUMNS,
    V2_PARTY_FIELDS,
)
from ._errors import PARTIES, FormError, Problem, labelled, shown, withheld
from ._json import DuplicateKey, duplicate_problem, loads_strict, split_record, unread
from ._validate import Labelled

Kind = Literal["declaration", "outcome"]
Form = Literal["json", "jsonl", "csv", "parquet"]

PARTY_FIELDS = tuple(f.name for f in PARTY_TYPE)
#: (CSV column, contract path) of every party field: sender_name is sender.name
_PARTY_COLUMNS = tuple(
    (f"{role}_{name}", f"{role}.{name}") for role in PARTIES for name in PARTY_FIELDS
)
LINE_FIELDS = tuple(f.name for f in LINE_TYPE)
EXPRESS_FIELDS = tuple(f.name for f in EXPRESS_TYPE)
_EXPRESS_COLUMNS = tuple((f"express_{name}", f"express.{name}") for name in EXPRESS_FIELDS)
ITEM_FIELDS = tuple(
    n for n in DECLARATION_SCHEMA.names if n not in (*PARTIES, "lines", *V2_COLUMNS)
)
DECLARATION_CSV_COLUMNS = (
    *ITEM_FIELDS,
    *(column for column, _ in _PARTY_COLUMNS),
    *(f"line_{name}" for name in LINE_FIELDS),
    *(column for column, _ in _EXPRESS_COLUMNS),
)
#: Columns of contract version 2: a version 1 file lacks them.
V2_CSV_COLUMNS = (
    *(f"{role}_{name}" for role in PARTIES for name in V2_PARTY_FIELDS),
    *(column for column, _ in _EXPRESS_COLUMNS),
)
OUTCOME_CSV_COLUMNS = tuple(OUTCOME_SCHEMA.names)


def form_of(path: Path) -> Form:
    """The form a file claims by its extension."""
    suffix = path.suffix.lower()
    forms: dict[str, Form] = {
        ".json": "json",
        ".jsonl": "jsonl",
        ".ndjson": "jsonl",
        ".csv": "csv",
        ".parquet": "parquet",
    }
    if suffix not in forms:
        raise FormError(f"{path}: unknown form {suffix!r}; expected .json, .jsonl, .csv, .parquet")
    return forms[suffix]


def schema_of(kind: Kind) -> pa.Schema:
    return DECLARATION_SCHEMA if kind == "declaration" else OUTCOME_SCHEMA


# --- writing -----------------------------------------------------------------------------------


#: Outcome fields the JSON forms carry and the Parquet and CSV forms do not (a correction).
JSON_ONLY_OUTCOME_FIELDS = ("corrects", "correction_reason")


def _tabular(record: dict[str, Any], kind: Kind) -> dict[str, Any]:
    """A record as the Parquet and CSV forms hold it: a correction cannot be written there
    (those forms hold one outcome per item), rather than be written without what it says."""
    if kind != "outcome":
        return record
    if any(record.get(name) is not None for name in JSON_ONLY_OUTCOME_FIELDS):
        raise FormError(
            f"outcome of {record.get('item_id')}: a correction (corrects, "
            "correction_reason) is carried in JSON or JSON Lines only"
        )
    return {k: v for k, v in record.items() if k not in JSON_ONLY_OUTCOME_FIELDS}


def to_table(models: Sequence[BaseModel], kind: Kind) -> pa.Table:
    """Arrow table (the Parquet form) of validated models."""
    return pa.Table.from_pylist(
        [_tabular(m.model_dump(), kind) for m in models], schema=schema_of(kind)
    )


def flatten_declaration(record: dict[str, Any]) -> list[dict[str, Any]]:
    """One CSV row per content line of a declaration given as a plain dict."""
    item = {name: record.get(name) for name in ITEM_FIELDS}
    for role in PARTIES:
        party = record.get(role) or {}
        item.update({f"{role}_{n}": party.get(n) for n in PARTY_FIELDS})
    express = record.get("express") or {}
    item.update({column: express.get(path.split(".", 1)[1]) for column, path in _EXPRESS_COLUMNS})
    return [item | {f"line_{n}": line.get(n) for n in LINE_FIELDS} for line in record["lines"]]


def write_records(models: Sequence[BaseModel], path: Path, kind: Kind) -> None:
    """Write validated models in the form told by the file extension."""
    form = form_of(path)
    if form == "parquet":
        pq.write_table(to_table(models, kind), path)
        return
    dumped = [m.model_dump(mode="json") for m in models]
    with path.open("w", encoding="utf-8", newline="") as out:
        if form == "json":
            json.dump(dumped, out, ensure_ascii=False, indent=1)
        elif form == "jsonl":
            out.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in dumped)
        else:
            columns = DECLARATION_CSV_COLUMNS if kind == "declaration" else OUTCOME_CSV_COLUMNS
            writer = csv.DictWriter(out, fieldnames=columns)
            writer.writeheader()
            for record in dumped:
                writer.writerows(
                    flatten_declaration(record)
                    if kind == "declaration"
                    else [_tabular(record, kind)]
                )


# --- reading -----------------------------------------------------------------------------------


def iter_records(path: Path, kind: Kind) -> Iterator[Labelled]:
    """Every record of a file as a labelled raw dict, in file order; none is skipped."""
    form = form_of(path)
    try:
        if form == "parquet":
            yield from _iter_parquet(path, kind)
        elif form == "json":
            yield from _iter_json(path)
        elif form == "jsonl":
            yield from _iter_jsonl(path)
        else:
            with path.open(encoding="utf-8-sig", newline="") as handle:
                yield from iter_csv(handle, kind)
    except UnicodeDecodeError as exc:
        raise FormError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc


def _label(where: str, raw: Any) -> str:
    return labelled(where, raw.get("item_id") if isinstance(raw, dict) else None)


def _iter_parquet(path: Path, kind: Kind) -> Iterator[Labelled]:
    expected = schema_of(kind)
    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise FormError(f"{path}: not a readable Parquet file: {exc}") from exc
    optional = V2_COLUMNS if kind == "declaration" else ()
    missing = [
        n for n in expected.names if n not in parquet.schema_arrow.names and n not in optional
    ]
    if missing:
        raise FormError(f"{path}: Parquet columns missing: {', '.join(missing)}")
    index = 0
    for batch in parquet.iter_batches(batch_size=10_000):
        for raw in batch.to_pylist():
            raw = {k: v for k, v in raw.items() if v is not None}
            yield Labelled(_label(f"row {index + 1}", raw), raw)
            index += 1


def _iter_json(path: Path) -> Iterator[Labelled]:
    """Records of a JSON file (a list of them, or one); a record with a key named twice in
    one object is unreadable (the others are read)."""
    repeated: dict[int, tuple[str, Problem]] = {}
    try:
        data = loads_strict(path.read_text(encoding="utf-8-sig"))
    except DuplicateKey as exc:
        data = exc.data
        for where, key in exc.found:
            index, raw, inner = split_record(data, where)
            label = _label(f"#{index}", unread(raw, inner, key))
            repeated.setdefault(index, (label, duplicate_problem(label, inner, key)))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise FormError(f"{path}: not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise FormError(f"{path}: JSON nested too deeply to read") from exc
    for index, raw in enumerate(data if isinstance(data, list) else [data]):
        if index in repeated:
            label, problem = repeated[index]
            yield Labelled(label, unreadable=problem)
        else:
            yield Labelled(_label(f"#{index}", raw), raw)


def _iter_jsonl(path: Path) -> Iterator[Labelled]:
    with path.open(encoding="utf-8-sig") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = f"line {number}"
            try:
                raw = loads_strict(line)
            except DuplicateKey as exc:  # the record's reading would depend on the reader
                where_, key = exc.found[0]
                label = _label(where, unread(exc.data, where_, key))
                yield Labelled(label, unreadable=duplicate_problem(label, where_, key))
                continue
            except json.JSONDecodeError as exc:
                problem = Problem(
                    where,
                    "(record)",
                    f"not valid JSON: {exc.msg} at column {exc.colno}",
                    got=withheld(line.rstrip("\n"), "may hold personal data"),
                )
                yield Labelled(where, unreadable=problem)
                continue
            except RecursionError:
                problem = Problem(where, "(record)", "JSON nested too deeply to read")
                yield Labelled(where, unreadable=problem)
                continue
            yield Labelled(_label(where, raw), raw)


#: The value of each column a CSV row lacks (it has fewer fields than the header): its
#: other values sit in the wrong columns, so none of them is shown
MISSING_FIELD: Any = type("MissingField", (), {"__repr__": lambda self: "MISSING_FIELD"})()


def _blank_to_none(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v if v not in ("", None) else None) for k, v in row.items()}


def misaligned(row: dict[Any, Any], line: int) -> Problem | None:
    """The problem of a CSV row whose fields do not line up with the header, or None. Its
    values are in the wrong columns, so a name may be in any of them: none is shown."""
    spilled = row.get(None)
    if spilled:
        why, values = f"more fields than the header (line {line})", spilled
    elif any(v is MISSING_FIELD for v in row.values()):
        why = f"fewer fields than the header (line {line})"
        values = [v for v in row.values() if v is not MISSING_FIELD]
    else:
        return None
    return Problem("", "(row)", why, got=withheld(values, "may hold personal data"))


def iter_csv(handle: Iterable[str] | io.TextIOBase, kind: Kind) -> Iterator[Labelled]:
    """Records of a CSV stream: outcomes one per row, declarations grouped by item ID."""
    reader = csv.DictReader(handle, restval=MISSING_FIELD)
    columns = DECLARATION_CSV_COLUMNS if kind == "declaration" else OUTCOME_CSV_COLUMNS
    header = reader.fieldnames or []
    if len(header) == 1 and header[0].count(";") >= 2:
        raise FormError("CSV header is separated by semicolons; the contract's CSV uses commas")
    optional = V2_CSV_COLUMNS if kind == "declaration" else ()
    missing = [c for c in columns if c not in header and c not in optional]
    if missing:
        raise FormError(f"CSV header lacks columns: {', '.join(missing)}")
    rows = ((reader.line_num, _blank_to_none(row)) for row in reader)
    if kind == "outcome":
        for line, row in rows:
            where = _label(f"line {line}", row)
            problem = misaligned(row, line)
            if problem is not None:
                yield Labelled(where, unreadable=replace(problem, record=where))
                continue
            yield Labelled(where, {k: v for k, v in row.items() if v})
        return
    group: list[tuple[int, dict[str, Any]]] = []
    seen: set[str] = set()
    for line, row in rows:
        if group and not same_item(row, group[0][1]):
            yield group_csv_rows(group, seen)
            group = []
        group.append((line, row))
    if group:
        yield group_csv_rows(group, seen)


def same_item(row: dict[str, Any], first: dict[str, Any]) -> bool:
    """Whether a CSV row continues the item of ``first`` (rows without an item ID never do:
    each is a record of its own, not merged into one)."""
    item = row.get("item_id")
    return item is not None and item == first.get("item_id")


def group_csv_rows(group: list[tuple[int, dict[str, Any]]], seen: set[str]) -> Labelled:
    first_line, first = group[0]
    where = f"line {first_line}" if len(group) == 1 else f"lines {first_line}-{group[-1][0]}"
    where = _label(where, first)
    for line, row in group:
        problem = misaligned(row, line)
        if problem is not None:
            return Labelled(where, unreadable=replace(problem, record=where))
    item_id = first.get("item_id")
    if item_id in seen:
        problem = Problem(
            where, "item_id", "rows of one item must be contiguous", got=shown(item_id, "item_id")
        )
        return Labelled(where, unreadable=problem)
    seen.add(item_id or "")
    for line, row in group[1:]:
        reason = f"differs between rows of one item (line {line})"
        for name in ITEM_FIELDS:
            if row.get(name) != first.get(name):
                problem = Problem(
                    where, name, reason, shown(first.get(name), name), shown(row.get(name), name)
                )
                return Labelled(where, unreadable=problem)
        for column, path in _EXPRESS_COLUMNS:
            if row.get(column) != first.get(column):
                problem = Problem(
                    where,
                    path,
                    reason,
                    shown(first.get(column), path),
                    shown(row.get(column), path),
                )
                return Labelled(where, unreadable=problem)
        for column, path in _PARTY_COLUMNS:  # the values are personal data: not repeated
            if row.get(column) != first.get(column):
                return Labelled(where, unreadable=Problem(where, path, reason))
    record: dict[str, Any] = {n: first[n] for n in ITEM_FIELDS if first.get(n) is not None}
    for role in PARTIES:
        party = {n: first.get(f"{role}_{n}") for n in PARTY_FIELDS}
        record[role] = {k: v for k, v in party.items() if v is not None}
    record["lines"] = [
        {n: row[f"line_{n}"] for n in LINE_FIELDS if row.get(f"line_{n}") is not None}
        for _, row in group
    ]
    express = {
        path.split(".", 1)[1]: first[column]
        for column, path in _EXPRESS_COLUMNS
        if first.get(column) is not None
    }
    if express:
        record["express"] = express
    return Labelled(where, record)
