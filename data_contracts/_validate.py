"""Validation of raw records against the contracts, with every problem named."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import AwareDatetime, BaseModel, TypeAdapter, ValidationError

from ._errors import Problem, labelled, shown
from ._limits import MAX_PROBLEMS_PER_RECORD, PostingWindow, more_problems
from ._models import WINDOW, InspectionOutcome, ParcelDeclaration
from ._quality import quality_warnings
from ._s10 import looks_like_item_id
from ._unknown import unknown_field, unknown_keys

M = TypeVar("M", bound=BaseModel)


@dataclass
class ValidationReport(Generic[M]):
    """Outcome of validating a batch: the valid records and every problem found.

    ``valid`` holds ``(index, model)`` pairs; ``rejected`` the indices of records with an error.
    ``len(valid) + len(rejected)`` always equals the number of records read.
    """

    valid: list[tuple[int, M]] = field(default_factory=list)
    rejected: list[int] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def records(self) -> int:
        return len(self.valid) + len(self.rejected)


@dataclass(frozen=True, slots=True)
class Labelled:
    """A raw record as read from a file, with the label that names it in messages."""

    label: str
    raw: Any = None
    unreadable: Problem | None = None


def record_label(index: int, raw: Any) -> str:
    """How a record is named in messages: its position and, when it has the shape of one,
    its item ID."""
    return labelled(f"#{index}", raw.get("item_id") if isinstance(raw, Mapping) else None)


def _safe_label(label: str, raw: Any) -> str:
    """The label without an item ID that is not one: a caller may have built it from the raw
    value (``#0 (Jane Doe)``), which may be personal data."""
    item = raw.get("item_id") if isinstance(raw, Mapping) else None
    if isinstance(item, str) and item and not looks_like_item_id(item):
        return label.replace(f" ({item})", "")
    return label


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(record)"


def problems_from(exc: ValidationError, record: str) -> list[Problem]:
    """Turn a pydantic ValidationError into Problems naming record, field and reason."""
    found = []
    for err in exc.errors(include_url=False):
        if err["type"] == "extra_forbidden":  # an unknown key: neither its name nor its value
            *parent, key = err["loc"]
            found.append(
                unknown_field(
                    record, _path(tuple(parent)) if parent else "", str(key), err.get("input")
                )
            )
            continue
        path = _path(err["loc"])
        got = None if err["type"] == "missing" else shown(err.get("input"), path)
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "missing":
            message = "field required"
        found.append(Problem(record, path, message, got=got))
    return found


def capped(problems: list[Problem]) -> list[Problem]:
    """At most MAX_PROBLEMS_PER_RECORD problems of one record, and one that counts the rest."""
    if len(problems) <= MAX_PROBLEMS_PER_RECORD:
        return problems
    kept = problems[:MAX_PROBLEMS_PER_RECORD]
    last = kept[-1]
    return [
        *kept,
        Problem(
            last.record,
            "(record)",
            more_problems(len(problems) - len(kept)),
            severity=last.severity,
        ),
    ]


def _too_many_unknown(
    raw: Mapping[str, Any], model: type[BaseModel], label: str
) -> list[Problem] | None:
    """The problems of a record with more unknown keys than are listed, found without
    building the rest (pydantic would report every one): the record is not read further."""
    listed, count = unknown_keys(raw, model, MAX_PROBLEMS_PER_RECORD)
    if count <= MAX_PROBLEMS_PER_RECORD:
        return None
    problems = [unknown_field(label, parent, key, value) for parent, key, value in listed]
    rest = count - len(listed)
    problems.append(
        Problem(
            label,
            "(record)",
            f"{rest} more unknown field"
            f"{'s' if rest != 1 else ''} not listed; a record with more than "
            f"{MAX_PROBLEMS_PER_RECORD} is not checked further",
        )
    )
    return problems


def validate_one(
    model: type[M], raw: Any, label: str = "#0", window: PostingWindow | None = None
) -> tuple[M | None, list[Problem]]:
    """Validate one raw record; return the model (or None) and its problems (at most
    MAX_PROBLEMS_PER_RECORD, and one that counts the rest).

    ``window``: refuse a declaration posted outside it (scoring; not for historical data).
    """
    label = _safe_label(label, raw)
    if not isinstance(raw, Mapping):
        return None, [Problem(label, "(record)", "expected an object", got=type(raw).__name__)]
    refused = _too_many_unknown(raw, model, label)
    if refused is not None:
        return None, refused
    try:
        parsed = model.model_validate(raw, context={WINDOW: window} if window else None)
    except ValidationError as exc:
        return None, capped(problems_from(exc, label))
    warnings = quality_warnings(parsed, label) if isinstance(parsed, ParcelDeclaration) else []
    return parsed, capped(warnings)


_POSTED_AT: TypeAdapter[datetime] = TypeAdapter(AwareDatetime)


def posting_problem(raw: Any, label: str, window: PostingWindow) -> Problem | None:
    """The problem of a raw declaration posted outside ``window``, or None (also when its
    ``posted_at`` is missing or unreadable: the contract names that). A cheap check before a
    record is scored, where the scorer itself does not apply the window."""
    value = raw.get("posted_at") if isinstance(raw, Mapping) else None
    if value is None:
        return None
    try:
        posted_at = _POSTED_AT.validate_python(value)
    except ValidationError:
        return None
    if window.holds(posted_at):
        return None
    return Problem(
        _safe_label(label, raw), "posted_at", window.message(), got=shown(value, "posted_at")
    )


def validate_records(
    model: type[M], records: Iterable[Any], window: PostingWindow | None = None
) -> ValidationReport[M]:
    """Validate every record; nothing is dropped: each is valid or rejected with reasons.

    ``records`` holds raw records, or :class:`Labelled` records as the readers in ``_forms``
    yield them (a label such as ``rows 4-6 (RR123456785CH)`` and the raw record, or the
    Problem that made it unreadable). ``window``: as for :func:`validate_one`.
    """
    report: ValidationReport[M] = ValidationReport()
    for index, item in enumerate(records):
        if isinstance(item, Labelled):
            if item.unreadable is not None:
                report.problems.append(item.unreadable)
                report.rejected.append(index)
                continue
            label, raw = item.label, item.raw
        else:
            label, raw = record_label(index, item), item
        parsed, problems = validate_one(model, raw, label, window)
        report.problems.extend(problems)
        if parsed is None:
            report.rejected.append(index)
        else:
            report.valid.append((index, parsed))
    return report


def validate_declarations(records: Iterable[Any]) -> ValidationReport[ParcelDeclaration]:
    return validate_records(ParcelDeclaration, records)


def validate_outcomes(records: Iterable[Any]) -> ValidationReport[InspectionOutcome]:
    return validate_records(InspectionOutcome, records)
