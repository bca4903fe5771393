"""Manifests read in chunks of records, each split into contract-valid rows and quarantine.

Parquet is validated column-wise (``data_contracts.validate_table``), so that path keeps up
with scoring; CSV, JSON Lines and JSON records go through the pydantic contract one by one,
which also catches wrong types (text in a number column). Memory is bounded by the chunk size:
the readers stream (a ``.json`` array excepted, which is one document).

A record is one declaration: in CSV, the contiguous rows of one item ID. Records are numbered
from 1 in file order; that number is the ``row`` of results and quarantine alike.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from data_contracts import (
    DECLARATION_CSV_COLUMNS,
    DECLARATION_SCHEMA,
    MISSING_FIELD,
    V2_CSV_COLUMNS,
    FormError,
    Labelled,
    ParcelDeclaration,
    PostingWindow,
    Problem,
    conform_declarations,
    declaration_column_problems,
    form_of,
    group_csv_rows,
    iter_records,
    looks_like_item_id,
    same_item,
    strip_strings,
    to_table,
    validate_one,
    validate_table_indexed,
)

from ._errors import ManifestError

QUARANTINE_SCHEMA = pa.schema(
    [
        ("row", pa.int64()),
        ("location", pa.string()),
        ("item_id", pa.string()),
        ("field", pa.string()),
        ("reason", pa.string()),
        ("got", pa.string()),
    ]
)


@dataclass
class Chunk:
    """One chunk of a manifest: how many records were read, the valid ones, the rest."""

    index: int
    first_row: int  # record number of the chunk's first record (1-based)
    rows: int  # records read
    table: pa.Table  # valid records, DECLARATION_SCHEMA
    row_numbers: np.ndarray  # record number of each valid record
    quarantine: pa.Table  # QUARANTINE_SCHEMA, one row per problem


def _quarantine(rows: list[int], problems: list[Problem], ids: list[Any]) -> pa.Table:
    """One row per problem; the item ID only where it has the shape of one (anything else in
    that field may be personal data)."""
    return pa.table(
        {
            "row": pa.array(rows, pa.int64()),
            "location": [p.record for p in problems],
            "item_id": pa.array([i if looks_like_item_id(i) else None for i in ids], pa.string()),
            "field": [p.field for p in problems],
            "reason": [
                p.problem + (f"; expected {p.expected}" if p.expected else "") for p in problems
            ],
            "got": pa.array([p.got for p in problems], pa.string()),
        },
        schema=QUARANTINE_SCHEMA,
    )


# --- Parquet -------------------------------------------------------------------------------


def check_parquet(path: Path) -> pq.ParquetFile:
    """Open a Parquet manifest and check its columns against the contract."""
    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise ManifestError(f"{path}: not a readable Parquet file: {exc}") from exc
    schema = parquet.schema_arrow
    problems = declaration_column_problems(schema)  # a version 1 manifest's columns pass
    problems += [
        f"unexpected column {n}" for n in schema.names if n not in DECLARATION_SCHEMA.names
    ]
    if problems:
        raise ManifestError(f"{path} does not fit the declaration contract: " + "; ".join(problems))
    return parquet


def split_table(
    raw: pa.Table, index: int, first_row: int, window: PostingWindow | None = None
) -> Chunk:
    """Validate a slice of a Parquet manifest column-wise and split it (``window``: the
    posting times accepted, see ``iter_chunks``)."""
    raw = conform_declarations(raw).select(DECLARATION_SCHEMA.names)
    valid, rows, problems = validate_table_indexed(raw, first_row, window)
    ids = raw.column("item_id").take(pa.array(rows, pa.int64())).to_pylist()
    return Chunk(  # scored as validated: trimmed, as the other forms' records are
        index,
        first_row,
        raw.num_rows,
        strip_strings(raw.filter(pa.array(valid))),
        first_row + np.flatnonzero(valid),
        _quarantine((first_row + rows).tolist(), problems, ids),
    )


def _parquet_chunks(path: Path, chunk_rows: int, window: PostingWindow | None) -> Iterator[Chunk]:
    parquet = check_parquet(path)
    first = 1
    for index, batch in enumerate(parquet.iter_batches(batch_size=chunk_rows)):
        yield split_table(pa.Table.from_batches([batch]), index, first, window)
        first += batch.num_rows


# --- CSV, JSON Lines, JSON -------------------------------------------------------------------


def _check_header(path: Path) -> list[str]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        first = handle.readline()
    header = next(csv.reader([first]), [])
    missing = [c for c in DECLARATION_CSV_COLUMNS if c not in header and c not in V2_CSV_COLUMNS]
    if not missing:
        return header
    if ";" in first and not [
        c for c in DECLARATION_CSV_COLUMNS if c not in first.strip().split(";")
    ]:
        raise ManifestError(
            f"{path}: the CSV is delimited by semicolons (';'); the contract's CSV form uses "
            "commas. Export it again with ',' as the delimiter."
        )
    raise ManifestError(f"{path}: CSV header lacks columns: {', '.join(missing)}")


def _csv_records(path: Path) -> Iterator[Labelled]:
    """Declarations of a CSV manifest; a row the CSV parser rejects is its own bad record."""
    header = _check_header(path)
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle, strict=True)
        next(reader)
        group: list[tuple[int, dict[str, Any]]] = []
        seen: set[str] = set()
        while True:
            start = reader.line_num + 1
            try:
                values = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                where = (
                    f"line {start}"
                    if reader.line_num <= start
                    else f"lines {start}-{reader.line_num}"
                )
                if group:
                    yield group_csv_rows(group, seen)
                    group = []
                problem = Problem(where, "(row)", f"broken CSV quoting: {exc}")
                yield Labelled(where, unreadable=problem)
                continue
            if not values:
                continue
            row: dict[str, Any] = {
                k: (v if v != "" else None) for k, v in zip(header, values, strict=False)
            }
            if len(values) > len(header):
                row[None] = values[len(header) :]  # type: ignore[index]
            for name in header[len(values) :]:  # a short row: its values are misaligned
                row[name] = MISSING_FIELD
            if group and not same_item(row, group[0][1]):
                yield group_csv_rows(group, seen)
                group = []
            group.append((start, row))
        if group:
            yield group_csv_rows(group, seen)


def _record_chunks(
    path: Path, records: Iterator[Labelled], chunk_rows: int, window: PostingWindow | None
) -> Iterator[Chunk]:
    first = 1
    index = 0
    while batch := list(islice(records, chunk_rows)):
        models, numbers, q_rows, q_problems, q_ids = [], [], [], [], []
        for offset, item in enumerate(batch):
            number = first + offset
            raw = item.raw
            item_id = raw.get("item_id") if isinstance(raw, dict) else None
            problems = [item.unreadable] if item.unreadable is not None else []
            parsed = None
            if not problems:
                parsed, found = validate_one(ParcelDeclaration, raw, item.label, window)
                problems = [p for p in found if p.severity == "error"]
            if parsed is not None:
                models.append(parsed)
                numbers.append(number)
            for problem in problems:
                q_rows.append(number)
                q_problems.append(problem)
                q_ids.append(item_id)
        table = to_table(models, "declaration") if models else DECLARATION_SCHEMA.empty_table()
        yield Chunk(
            index,
            first,
            len(batch),
            table,
            np.asarray(numbers, dtype=np.int64),
            _quarantine(q_rows, q_problems, q_ids),
        )
        first += len(batch)
        index += 1


def iter_chunks(
    path: Path, chunk_rows: int, window: PostingWindow | None = None
) -> Iterator[Chunk]:
    """Chunks of a manifest in file order; an empty file (0 bytes) has no chunk.

    ``window``: a record posted outside it is quarantined (``posted_at``); None accepts any
    posting time (data whose dates the caller vouches for).
    """
    try:
        form = form_of(path)
        if path.stat().st_size == 0:
            return
        if form == "parquet":
            yield from _parquet_chunks(path, chunk_rows, window)
        elif form == "csv":
            yield from _record_chunks(path, _csv_records(path), chunk_rows, window)
        else:
            yield from _record_chunks(path, iter_records(path, "declaration"), chunk_rows, window)
    except FormError as exc:
        raise ManifestError(str(exc)) from exc
    except UnicodeDecodeError as exc:
        raise ManifestError(f"{path}: not UTF-8 text: {exc}") from exc
