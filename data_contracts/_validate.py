"""Validation of raw records against the contracts, with every problem named."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from ._errors import Problem, shown, withheld
from ._models import InspectionOutcome, ParcelDeclaration
from ._quality import quality_warnings

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
    """How a record is named in messages: its position and, when readable, its item ID."""
    item = raw.get("item_id") if isinstance(raw, Mapping) else None
    return f"#{index} ({item})" if isinstance(item, str) and item else f"#{index}"


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(record)"


def problems_from(exc: ValidationError, record: str) -> list[Problem]:
    """Turn a pydantic ValidationError into Problems naming record, field and reason."""
    found = []
    for err in exc.errors(include_url=False):
        path = _path(err["loc"])
        if err["type"] == "missing":
            got = None
        elif err["type"] == "extra_forbidden":  # an unknown key: no telling what it holds
            got = withheld(err.get("input"), "unknown field")
        else:
            got = shown(err.get("input"), path)
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "missing":
            message = "field required"
        found.append(Problem(record, path, message, got=got))
    return found


def validate_one(model: type[M], raw: Any, label: str = "#0") -> tuple[M | None, list[Problem]]:
    """Validate one raw record; return the model (or None) and its problems."""
    if not isinstance(raw, Mapping):
        return None, [Problem(label, "(record)", "expected an object", got=type(raw).__name__)]
    try:
        parsed = model.model_validate(raw)
    except ValidationError as exc:
        return None, problems_from(exc, label)
    warnings = quality_warnings(parsed, label) if isinstance(parsed, ParcelDeclaration) else []
    return parsed, warnings


def validate_records(model: type[M], records: Iterable[Any]) -> ValidationReport[M]:
    """Validate every record; nothing is dropped: each is valid or rejected with reasons.

    ``records`` holds raw records, or :class:`Labelled` records as the readers in ``_forms``
    yield them (a label such as ``rows 4-6 (RR123456785CH)`` and the raw record, or the
    Problem that made it unreadable).
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
        parsed, problems = validate_one(model, raw, label)
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
