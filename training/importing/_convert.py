"""One source row to one contract record, field by field, as a mapping says.

A value that does not convert raises :class:`RowProblem` naming the source column and the
reason; the row then goes to quarantine. Code tables count what they saw and what they could
not translate, for the coverage report.
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from data_contracts import CONTRACT_VERSION, express_item_id, make_s10
from screening import FX_TO_EUR

from ._mapping import INSTEAD, REQUIRED, UNITS_TO_KG, FieldSpec, Mapping

Row = dict[str, str | None]


class RowProblem(Exception):
    """A source value that does not map: the column, the contract field and why."""

    def __init__(self, column: str, target: str, reason: str, value: str | None = None) -> None:
        super().__init__(reason)
        self.column, self.target, self.reason, self.value = column, target, reason, value


def text_of(value: Any) -> str | None:
    """A source value as text, the same whatever the form: 2, 2.0 and "2" are "2"."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    text = str(value).strip()
    return text or None


def canonical(text: str) -> str:
    """The code a number stands for: "2.0" is "2" (a CSV of floats against a table of ints)."""
    try:
        number = float(text)
    except ValueError:
        return text
    return str(int(number)) if number.is_integer() and abs(number) < 1e15 else text


class Converter:
    """Applies a mapping to rows; keeps counts of codes seen and not translated."""

    def __init__(self, mapping: Mapping) -> None:
        self.mapping = mapping
        self.codes_seen: dict[str, Counter[str]] = {n: Counter() for n in mapping.codes}
        self.codes_unmapped: dict[str, Counter[str]] = {n: Counter() for n in mapping.codes}

    # -- raw values ----------------------------------------------------------------------

    def raw(self, spec: FieldSpec, row: Row) -> str | None:
        """The field's text before conversion: a constant, or the column's value (None when
        missing), translated by its code table."""
        if spec.column is None:
            return text_of(spec.value)
        text = row.get(spec.column)
        if text is None or text in spec.missing or canonical(text) in spec.missing:
            return text_of(spec.default)
        if spec.codes is None:
            return text
        table = self.mapping.codes[spec.codes]
        code = text if text in table else canonical(text)
        self.codes_seen[spec.codes][code] += 1
        if code in table:
            return table[code]
        self.codes_unmapped[spec.codes][code] += 1
        if spec.default is not None:
            return text_of(spec.default)
        raise RowProblem(
            spec.column,
            spec.target,
            f"code {code!r} has no translation in "
            f"[codes.{spec.codes}] and the field has no default",
            text,
        )

    def _problem(self, spec: FieldSpec, reason: str, text: str | None) -> RowProblem:
        return RowProblem(spec.column or "(constant)", spec.target, reason, text)

    # -- kinds -----------------------------------------------------------------------------

    def text(self, spec: FieldSpec, row: Row) -> str | None:
        text = self.raw(spec, row)
        if text is None:
            return None
        pad = spec.options.get("pad")
        if pad and text.isdigit():
            text = text.zfill(pad)
        if spec.options.get("upper"):
            text = text.upper()
        service = spec.options.get("s10_service")
        if service is not None:
            text = self._s10(spec, row, text, service)
        prefix = spec.options.get("prefix") or ""
        return f"{prefix}{text}" if prefix else text

    def _s10(self, spec: FieldSpec, row: Row, serial: str, service: Any) -> str:
        letters = self.text(service, row) if isinstance(service, FieldSpec) else str(service)
        if letters is None or len(letters) != 2 or not letters.isalpha():
            raise self._problem(
                spec, f"S10 service indicator {letters!r} is not two letters", serial
            )
        digits = canonical(serial)
        if not digits.isdigit() or len(digits) > 8:
            raise self._problem(spec, "expected an S10 serial of up to 8 digits", serial)
        return make_s10(letters.upper(), int(digits), str(spec.options["s10_country"]))

    def number(self, spec: FieldSpec, row: Row) -> float | None:
        text = self.raw(spec, row)
        if text is None:
            return None
        try:
            value = float(text.replace("_", ""))
        except ValueError:
            raise self._problem(spec, "expected a number", text) from None
        if not math.isfinite(value):
            raise self._problem(spec, "expected a finite number", text)
        return value

    def integer(self, spec: FieldSpec, row: Row) -> int | None:
        value = self.number(spec, row)
        if value is None:
            return None
        if not value.is_integer():
            raise self._problem(spec, "expected a whole number", text_of(value))
        return int(value)

    def weight(self, spec: FieldSpec, row: Row) -> float | None:
        value = self.number(spec, row)
        return None if value is None else value * UNITS_TO_KG[spec.options.get("unit", "kg")]

    def money(self, spec: FieldSpec, row: Row, currency: str | None) -> float | None:
        """A value in the declaration's currency, converted from the field's own currency
        through the features' reference rates to EUR."""
        value = self.number(spec, row)
        if value is None:
            return None
        column = spec.options.get("currency_column")
        given = spec.options.get("currency") or (row.get(column) if column else None)
        source = str(given) if given else currency
        if source is None or currency is None or source == currency:
            return value
        for code in (source, currency):
            if code not in FX_TO_EUR:
                raise RowProblem(
                    column or spec.column or "(constant)",
                    spec.target,
                    f"no reference rate for currency {code!r} to convert {source} to {currency}",
                    code,
                )
        return round(value * FX_TO_EUR[source] / FX_TO_EUR[currency], 6)

    def time(self, spec: FieldSpec, row: Row) -> datetime | None:
        text = self.raw(spec, row)
        if text is None:
            return None
        fmt = str(spec.options.get("format", "iso"))
        try:
            if fmt in ("unix_s", "unix_ms"):
                seconds = float(text) / (1000 if fmt == "unix_ms" else 1)
                moment = datetime.fromtimestamp(seconds, UTC)
            elif fmt == "iso":
                moment = datetime.fromisoformat(text)
            else:
                moment = datetime.strptime(text, fmt)
        except (ValueError, OverflowError, OSError):
            raise self._problem(spec, f"not a time in the format {fmt!r}", text) from None
        if moment.tzinfo is None:
            zone = spec.options.get("zone")
            if zone is None:
                raise self._problem(
                    spec, "a time without a UTC offset and the field names no zone", text
                )
            moment = moment.replace(tzinfo=ZoneInfo(str(zone)))
        moment += timedelta(days=float(spec.options.get("add_days", 0)))
        return moment.astimezone(UTC)

    def value(self, spec: FieldSpec, row: Row, currency: str | None) -> Any:
        kind = spec.kind
        if kind == "money":
            return self.money(spec, row, currency)
        if kind in ("time", "weight", "integer", "number", "text"):
            return getattr(self, kind)(spec, row)
        raise AssertionError(kind)

    # -- records ---------------------------------------------------------------------------

    def declaration(self, row: Row) -> tuple[dict[str, Any], list[RowProblem]]:
        """The contract record of a row and every problem met on the way."""
        problems: list[RowProblem] = []
        record: dict[str, Any] = {"contract_version": CONTRACT_VERSION}
        line: dict[str, Any] = {}
        fields = self.mapping.fields
        currency = None
        try:
            currency = self.text(fields["currency"], row)
        except RowProblem as exc:
            problems.append(exc)
        for target, spec in fields.items():
            try:
                value = currency if target == "currency" else self.value(spec, row, currency)
            except RowProblem as exc:
                if target != "currency":
                    problems.append(exc)
                continue
            if value is None and target in REQUIRED and INSTEAD.get(target) not in fields:
                problems.append(
                    RowProblem(
                        spec.column or "(constant)",
                        target,
                        "empty, and the "
                        "contract requires the field (give it a default in "
                        "the mapping?)",
                    )
                )
            head, _, tail = target.partition(".")
            if head == "line":
                line[tail] = value
            elif tail:
                record.setdefault(head, {})[tail] = value
            else:
                record[target] = value
        record["lines"] = [line]
        self._express(record)
        return record, problems

    @staticmethod
    def _express(record: dict[str, Any]) -> None:
        """A row whose carrier is given is an express consignment: its item ID is
        CARRIER:HOUSE_NUMBER (contract version 2); a row without one is a postal item."""
        express = record.get("express")
        if express is None:
            return
        if express.get("carrier") and express.get("house_consignment"):
            record["item_id"] = express_item_id(express["carrier"], express["house_consignment"])
        else:
            record["express"] = None

    def outcome(self, row: Row, item_id: str, posted: datetime) -> dict[str, Any]:
        """The inspection outcome of a row: its result, recorded at the label column's time
        or ``delay_days`` after posting; who selected it and how likely is unknown."""
        label = self.mapping.label
        assert label is not None
        text = row.get(label.column)
        if text is None:
            raise RowProblem(label.column, "result", "no label value")
        result = label.outcomes.get(text, label.outcomes.get(canonical(text)))
        if result is None:
            raise RowProblem(
                label.column,
                "result",
                f"label value {text!r} is listed neither as seized, clean, other nor not_inspected",
                text,
            )
        recorded = self.time(label.recorded_at, row) if label.recorded_at else None
        recorded = recorded or posted + timedelta(days=label.delay_days)
        inspected = result != "not_inspected"
        return {
            "contract_version": CONTRACT_VERSION,
            "item_id": item_id,
            "recorded_at": recorded,
            "inspected": inspected,
            "selection_reason": None,
            "selection_probability": None,
            "result": result if inspected else None,
            "substance": None,
            "quantity_g": None,
            "officer_ref": None,
        }
