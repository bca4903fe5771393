"""``import``: a foreign export (CSV, JSON Lines, Parquet) to contract files, never failing on
a row: a row that does not map goes to quarantine with its column and reason.

Writes ``declarations.parquet``, ``outcomes.parquet`` (when the mapping names a label),
``quarantine.csv``, ``import-report.json`` (coverage: rows, fields, codes) and
``provenance.json`` (source, attribution, label, what is unknown), which training reads.
"""

from __future__ import annotations

import codecs
import csv
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from data_contracts import (
    DECLARATION_SCHEMA,
    OUTCOME_SCHEMA,
    spreadsheet_cell,
    validate_table_indexed,
)

from .._provenance import PROVENANCE as PROVENANCE
from ._convert import Converter, Row, RowProblem, text_of
from ._mapping import Mapping, MappingError

QUARANTINE_COLUMNS = ("row", "item_id", "column", "field", "reason", "value")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_PERSONAL = ("sender", "recipient")
#: The key of a row that cannot be read as one (its value says why): no column is named so.
_BAD = "\0"


@dataclass
class ImportReport:
    """Coverage of one import: rows, fields, codes and labels mapped, reasons for the rest."""

    source: str
    mapping: str
    rows: int = 0
    imported: int = 0
    quarantined: int = 0
    fields: dict[str, dict[str, Any]] = field(default_factory=dict)
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    labels: dict[str, int] = field(default_factory=dict)
    reasons: list[dict[str, Any]] = field(default_factory=list)
    unused_columns: list[str] = field(default_factory=list)
    quarantine: list[dict[str, Any]] = field(default_factory=list, repr=False)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("quarantine")
        return out


def _format(path: Path, mapping: Mapping) -> str:
    if mapping.format:
        return mapping.format
    suffix = path.suffix.lower().lstrip(".")
    forms = {"csv": "csv", "jsonl": "jsonl", "ndjson": "jsonl", "parquet": "parquet"}
    if suffix not in forms:
        raise MappingError(
            f"{path}: cannot tell the form from {path.suffix!r}; set "
            "source.format in the mapping (csv, jsonl, parquet)"
        )
    return forms[suffix]


def check_text(path: Path, encoding: str) -> None:
    """Refuse a file that is not text in ``encoding``, naming the line and the byte (it
    would otherwise fail half-way through the import)."""
    decoder = codecs.getincrementaldecoder(encoding)()
    offset, line = 0, 1
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                at = offset + exc.start
                line += block[: exc.start].count(b"\n")
                name = "UTF-8" if encoding.startswith("utf-8") else encoding
                raise MappingError(
                    f"{path}: not {name} text ({exc.reason}: byte 0x{block[exc.start]:02x} "
                    f"at byte {at}, line {line}); set source.encoding in the mapping to the "
                    "file's encoding (e.g. cp949, latin-1)"
                ) from None
            offset += len(block)
            line += block.count(b"\n")
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        raise MappingError(
            f"{path}: not text in {encoding}: it ends inside a character ({exc.reason})"
        ) from None


def read_rows(path: Path, mapping: Mapping) -> tuple[list[str], Iterator[Row]]:
    """The source's column names and its rows as text (None where empty)."""
    form = _format(path, mapping)
    if form == "parquet":
        try:
            file = pq.ParquetFile(path)
        except (OSError, pa.ArrowInvalid) as exc:
            raise MappingError(f"{path}: cannot read as Parquet: {exc}") from None

        def parquet_rows() -> Iterator[Row]:
            for batch in file.iter_batches(65_536):
                for raw in batch.to_pylist():
                    yield {k: text_of(v) for k, v in raw.items()}

        return list(file.schema_arrow.names), parquet_rows()
    check_text(path, mapping.encoding)
    if form == "csv":
        with path.open(encoding=mapping.encoding, newline="") as handle:
            header = [h.strip() for h in next(csv.reader(handle, delimiter=mapping.delimiter), [])]

        def csv_rows() -> Iterator[Row]:
            with path.open(encoding=mapping.encoding, newline="") as handle:
                reader = csv.reader(handle, delimiter=mapping.delimiter)
                next(reader, None)
                for values in reader:
                    if len(values) > len(header):  # extra values would be dropped unseen
                        yield {_BAD: f"has {len(values)} fields, the header has {len(header)}"}
                        continue
                    yield {h: text_of(v) for h, v in zip(header, values, strict=False)}

        return header, csv_rows()
    with path.open(encoding=mapping.encoding) as handle:
        first = handle.readline()
    try:
        columns = list(json.loads(first)) if first.strip() else []
    except (json.JSONDecodeError, TypeError):
        raise MappingError(f"{path}: the first line is not a JSON object") from None

    def json_rows() -> Iterator[Row]:
        with path.open(encoding=mapping.encoding) as handle:
            for line in handle:
                if not line.strip():
                    continue
                try:
                    raw = json.loads(line)
                except json.JSONDecodeError:
                    raw = None
                yield (
                    {k: text_of(v) for k, v in raw.items()}
                    if isinstance(raw, dict)
                    else {_BAD: "not a JSON object"}
                )

    return columns, json_rows()


def _check_columns(mapping: Mapping, columns: list[str], path: Path) -> None:
    have = set(columns)
    for target, spec in mapping.fields.items():
        for column in spec.columns():
            if column not in have:
                raise MappingError(
                    f"{mapping.path}: fields.{target}: column {column!r} is not in "
                    f"{path.name}; its columns: {', '.join(columns[:40])}"
                )
    if mapping.label and mapping.label.column not in have:
        raise MappingError(
            f"{mapping.path}: label.column: column {mapping.label.column!r} is "
            f"not in {path.name}; its columns: {', '.join(columns[:40])}"
        )


def _target(field_path: str) -> str:
    """The mapping key of a contract problem's field: lines[0].hs_code is line.hs_code."""
    head, dot, tail = field_path.partition(".")
    return f"line.{tail}" if head.startswith("lines") and dot else head + dot + tail


def _shown(target: str, value: Any) -> str:
    if value is None:
        return ""
    if target.split(".")[0] in _PERSONAL:
        return "(withheld: personal data)"
    return str(value)[:60]


class _Run:
    def __init__(self, mapping: Mapping, source: Path) -> None:
        self.mapping, self.source = mapping, source
        self.convert = Converter(mapping)
        self.report = ImportReport(str(source), str(mapping.path))
        self.reasons: Counter[tuple[str, str, str]] = Counter()

    def quarantine(self, row: int, item_id: Any, problem: RowProblem) -> None:
        self.reasons[(problem.column, problem.target, problem.reason)] += 1
        self.report.quarantine.append(
            {
                "row": row,
                "item_id": item_id or "",
                "column": problem.column,
                "field": problem.target,
                "reason": problem.reason,
                "value": _shown(problem.target, problem.value),
            }
        )

    def column_of(self, target: str) -> str:
        spec = self.mapping.fields.get(target)
        return (spec.column or "(constant)") if spec else "(contract)"

    def rows(self, rows: Iterator[Row]) -> tuple[list[int], list[dict[str, Any]], list[Any]]:
        numbers, records, outcomes = [], [], []
        number = 0
        for number, row in enumerate(rows, 1):  # noqa: B007 (the count is read after)
            if _BAD in row:  # a row that cannot be read as one: why, in its place
                self.quarantine(number, None, RowProblem("(row)", "(row)", str(row[_BAD])))
                continue
            record, problems = self.convert.declaration(row)
            outcome = None
            if self.mapping.label is not None:
                try:
                    outcome = self.convert.outcome(
                        row, record.get("item_id") or "", record.get("posted_at") or _EPOCH
                    )
                except RowProblem as exc:
                    problems.append(exc)
            for problem in problems:
                self.quarantine(number, record.get("item_id"), problem)
            if not problems:
                numbers.append(number)
                records.append(record)
                outcomes.append(outcome)
        self.report.rows = number
        return numbers, records, outcomes

    def validate(self, numbers: list[int], records: list[dict[str, Any]]) -> np.ndarray:
        """The contract's own checks; a duplicate item ID keeps its first row."""
        table = pa.Table.from_pylist(records, schema=DECLARATION_SCHEMA)
        valid, at, problems = validate_table_indexed(table)
        for i, problem in zip(at, problems, strict=True):
            if problem.severity != "error":
                continue
            target = _target(problem.field)
            self.quarantine(
                numbers[i],
                records[i].get("item_id"),
                RowProblem(
                    self.column_of(target),
                    target,
                    problem.problem
                    + (f"; expected {problem.expected}" if problem.expected else ""),
                    problem.got,
                ),
            )
        first: dict[str, int] = {}
        for i in np.flatnonzero(valid):
            item = records[i]["item_id"]
            if item in first:
                valid[i] = False
                self.quarantine(
                    numbers[i],
                    item,
                    RowProblem(
                        self.column_of("item_id"),
                        "item_id",
                        f"item ID repeats row {numbers[first[item]]}",
                        item,
                    ),
                )
            else:
                first[item] = int(i)
        return valid

    def coverage(
        self, records: list[dict[str, Any]], outcomes: list[Any], columns: list[str]
    ) -> None:
        report = self.report
        report.imported = len(records)
        report.quarantined = len({q["row"] for q in report.quarantine})
        for target, spec in self.mapping.fields.items():
            head, _, tail = target.partition(".")
            values = (
                [r["lines"][0].get(tail) for r in records]
                if head == "line"
                else [(r.get(head) or {}).get(tail) for r in records]
                if tail
                else [r.get(target) for r in records]
            )
            given = sum(v is not None for v in values)
            report.fields[target] = {
                "from": spec.column or "constant",
                "given": given,
                "empty": len(values) - given,
            }
        for name, seen in self.convert.codes_seen.items():
            unmapped = self.convert.codes_unmapped[name]
            report.codes[name] = {
                "codes_seen": len(seen),
                "codes_translated": len(set(seen) - set(unmapped)),
                "rows_translated": sum(seen.values()) - sum(unmapped.values()),
                "untranslated": dict(unmapped.most_common(20)),
            }
        counted = Counter(o["result"] or "not_inspected" for o in outcomes if o is not None)
        report.labels = dict(counted)
        report.reasons = [
            {"column": c, "field": f, "reason": r, "rows": n}
            for (c, f, r), n in self.reasons.most_common()
        ]
        report.unused_columns = [c for c in columns if c not in self.mapping.columns()]


def import_source(
    source: Path, mapping: Mapping, out: Path | None, limit: int | None = None
) -> ImportReport:
    """Map ``source`` to contract files under ``out`` (None: check only, write nothing),
    reading at most ``limit`` rows."""
    columns, rows = read_rows(source, mapping)
    _check_columns(mapping, columns, source)
    run = _Run(mapping, source)
    try:
        numbers, records, outcomes = run.rows(islice(rows, limit) if limit else rows)
    finally:
        getattr(rows, "close", lambda: None)()  # a generator: closes the file early
    valid = run.validate(numbers, records) if records else np.zeros(0, dtype=bool)
    keep = np.flatnonzero(valid)
    records = [records[i] for i in keep]
    outcomes = [outcomes[i] for i in keep]
    run.coverage(records, outcomes, columns)
    run.report.quarantine.sort(key=lambda q: q["row"])
    if out is not None:
        _write(out, run.report, records, outcomes, mapping)
    return run.report


def _write(
    out: Path,
    report: ImportReport,
    records: list[dict[str, Any]],
    outcomes: list[Any],
    mapping: Mapping,
) -> None:
    out.mkdir(parents=True, exist_ok=True)
    pq.write_table(
        pa.Table.from_pylist(records, schema=DECLARATION_SCHEMA), out / "declarations.parquet"
    )
    (out / "outcomes.parquet").unlink(missing_ok=True)  # an earlier import's, if any
    if mapping.label is not None:
        pq.write_table(
            pa.Table.from_pylist([o for o in outcomes if o is not None], schema=OUTCOME_SCHEMA),
            out / "outcomes.parquet",
        )
    with (out / "quarantine.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, QUARANTINE_COLUMNS)
        writer.writeheader()
        writer.writerows(
            {k: spreadsheet_cell(v) for k, v in q.items()} for q in report.quarantine
        )  # no cell runs as a formula
    (out / "import-report.json").write_text(json.dumps(report.as_dict(), indent=1) + "\n")
    label = mapping.label
    provenance = {
        "source": mapping.name,
        "file": report.source,
        "attribution": mapping.attribution,
        "imported_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "rows": report.rows,
        "imported": report.imported,
        "quarantined": report.quarantined,
        "label": label.name if label else None,
        "label_column": label.column if label else None,
        "selection": "unknown",
        "selection_note": "the source says neither why an item was inspected nor with what "
        "probability: no propensity weights, figures on inspected items only",
    }
    (out / PROVENANCE).write_text(json.dumps(provenance, indent=1) + "\n")
