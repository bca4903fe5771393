"""A mapping file (TOML): how a foreign export's columns become contract fields.

Sections (every key is checked; a bad one is a :class:`MappingError` naming it)::

    [source]        format ("csv", "jsonl", "parquet"; default from the extension),
                    name, attribution, delimiter (CSV), encoding (CSV, JSON Lines; default
                    UTF-8, e.g. cp949, latin-1)
    [fields]        one key per contract field: "item_id", "sender.name", "line.hs_code"...
                    a plain value is a constant; a table says where the value comes from
    [codes.NAME]    a translation table (source code -> contract value) fields name
    [label]         column, seized / clean / other / not_inspected (source values), name,
                    delay_days or recorded_at (a time field spec)

Field options: column | value, codes, default, missing, prefix, pad, upper; times: format,
zone, add_days; weights: unit (g, kg, lb); money: currency | currency_column; item_id:
s10_service and s10_country (the column holds an S10 serial of up to 8 digits).
"""

from __future__ import annotations

import codecs
import difflib
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pyarrow as pa

from data_contracts import COUNTRIES, CURRENCIES, DECLARATION_SCHEMA, ItemCategory
from screening import FX_TO_EUR

from .._errors import TrainingError

Kind = Literal["text", "time", "weight", "money", "integer", "number"]
UNITS_TO_KG = {"g": 0.001, "kg": 1.0, "lb": 0.45359237}
FORMATS = ("csv", "jsonl", "parquet")
_OPTIONS: dict[str, set[str]] = {
    "text": {"pad", "upper", "s10_service", "s10_country"},
    "time": {"format", "zone", "add_days"},
    "weight": {"unit"},
    "money": {"currency", "currency_column"},
    "integer": set(),
    "number": set(),
}
_COMMON = {"column", "value", "codes", "default", "missing", "prefix"}
#: contract fields a mapping must give (the contract has no default for them)
REQUIRED = (
    "item_id",
    "posted_at",
    "origin_post",
    "origin_country",
    "destination_country",
    "category",
    "gross_weight_kg",
    "declared_value",
    "currency",
    "sender.name",
    "sender.country",
    "recipient.name",
    "recipient.country",
    "line.description",
    "line.quantity",
    "line.net_weight_kg",
    "line.value",
)
#: a required field that another may stand for (contract version 2: a party is named by its
#: name, its identification number, or both)
INSTEAD = {"sender.name": "sender.id_number", "recipient.name": "recipient.id_number"}


class MappingError(TrainingError):
    """A mapping file that cannot be used; the message names the key and the problem."""


def _kind(name: str, type_: pa.DataType) -> Kind:
    if pa.types.is_timestamp(type_):
        return "time"
    if pa.types.is_integer(type_):
        return "integer"
    if pa.types.is_floating(type_):
        if name.endswith("_kg"):
            return "weight"
        return (
            "money"
            if name.split(".")[-1] in {"value", "declared_value", "postal_charges"}
            else "number"
        )
    return "text"


def contract_targets() -> dict[str, Kind]:
    """Every field a mapping can fill, read from the contract's Arrow schema (so fields a new
    contract version adds are mappable as they land): item fields by name, fields of a struct
    as ``struct.field``, fields of a content line as ``line.field``."""
    targets: dict[str, Kind] = {}
    for f in DECLARATION_SCHEMA:
        if f.name == "contract_version":
            continue
        if pa.types.is_struct(f.type):
            for sub in f.type:
                targets[f"{f.name}.{sub.name}"] = _kind(sub.name, sub.type)
        elif pa.types.is_list(f.type) and pa.types.is_struct(f.type.value_type):
            for sub in f.type.value_type:
                targets[f"line.{sub.name}"] = _kind(sub.name, sub.type)
        else:
            targets[f.name] = _kind(f.name, f.type)
    return targets


@dataclass(frozen=True)
class FieldSpec:
    target: str
    kind: Kind
    column: str | None = None
    value: Any = None
    codes: str | None = None  # name of a [codes.NAME] table
    default: Any = None
    missing: tuple[str, ...] = ()
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"fields.{self.target}"

    def columns(self) -> list[str]:
        named = [self.column, self.options.get("currency_column")]
        service = self.options.get("s10_service")
        if isinstance(service, FieldSpec):
            named += service.columns()
        return [c for c in named if c]


@dataclass(frozen=True)
class LabelSpec:
    column: str
    outcomes: dict[str, str]  # source value -> seized | clean | other_irregularity | not_inspected
    name: str
    delay_days: float = 0.0
    recorded_at: FieldSpec | None = None


@dataclass(frozen=True)
class Mapping:
    path: Path
    fields: dict[str, FieldSpec]
    codes: dict[str, dict[str, str]]
    label: LabelSpec | None
    format: str | None = None
    name: str = ""
    attribution: str = ""
    delimiter: str = ","
    encoding: str = "utf-8-sig"  # a UTF-8 file may start with a byte-order mark

    def columns(self) -> set[str]:
        named = {c for spec in self.fields.values() for c in spec.columns()}
        if self.label:
            named.add(self.label.column)
            if self.label.recorded_at:
                named.update(self.label.recorded_at.columns())
        return named


def _fail(path: Path, key: str, problem: str) -> MappingError:
    return MappingError(f"{path}: {key}: {problem}")


def _unknown(path: Path, key: str, got: set[str], allowed: set[str] | dict[str, Any]) -> None:
    for name in sorted(got - set(allowed)):
        close = difflib.get_close_matches(name, list(allowed), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise _fail(
            path,
            f"{key}.{name}" if key else name,
            f"unknown key{hint}; expected one of {', '.join(sorted(allowed))}",
        )


def _text(path: Path, key: str, value: Any) -> str:
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise _fail(path, key, f"expected text or a number, got {type(value).__name__}")
    return str(value)


def _rated(path: Path, key: str, currency: str) -> None:
    if currency not in CURRENCIES:
        raise _fail(path, key, f"{currency!r} is not an ISO 4217 currency code")
    if currency not in FX_TO_EUR:
        raise _fail(
            path,
            key,
            f"no reference rate for {currency} (the features convert values "
            f"with screening.FX_TO_EUR, which knows {', '.join(sorted(FX_TO_EUR))}); "
            "convert the values before import or add its rate there",
        )


def _field(path: Path, target: str, kind: Kind, raw: Any, codes: dict[str, Any]) -> FieldSpec:
    key = target if target.startswith("fields.") else f"fields.{target}"
    if not isinstance(raw, dict):
        return FieldSpec(target, kind, value=raw)
    _unknown(path, key, set(raw), _COMMON | _OPTIONS[kind])
    if ("column" in raw) == ("value" in raw):
        raise _fail(path, key, "give exactly one of column (a source column) or value (a constant)")
    column = _text(path, f"{key}.column", raw["column"]) if "column" in raw else None
    table = raw.get("codes")
    if table is not None and (not isinstance(table, str) or table not in codes):
        raise _fail(
            path,
            f"{key}.codes",
            f"expected the name of a [codes.NAME] table, got "
            f"{table!r}; tables: {', '.join(sorted(codes)) or 'none'}",
        )
    missing = raw.get("missing", [])
    if not isinstance(missing, list):
        raise _fail(path, f"{key}.missing", "expected a list of source values meaning missing")
    options = {k: v for k, v in raw.items() if k in _OPTIONS[kind] | {"prefix"}}
    _check_options(path, key, kind, options, codes)
    return FieldSpec(
        target,
        kind,
        column,
        raw.get("value"),
        table,
        raw.get("default"),
        tuple(_text(path, f"{key}.missing", m) for m in missing),
        options,
    )


def _check_options(
    path: Path, key: str, kind: Kind, options: dict[str, Any], codes: dict[str, Any]
) -> None:
    unit = options.get("unit", "kg")
    if kind == "weight" and unit not in UNITS_TO_KG:
        raise _fail(path, f"{key}.unit", f"expected one of {', '.join(UNITS_TO_KG)}, got {unit!r}")
    if kind == "money":
        if "currency" in options and "currency_column" in options:
            raise _fail(path, key, "give currency (one for every row) or currency_column, not both")
        if "currency" in options:
            _rated(path, f"{key}.currency", _text(path, f"{key}.currency", options["currency"]))
    if kind == "time":
        if "zone" in options:
            try:
                ZoneInfo(str(options["zone"]))
            except (ZoneInfoNotFoundError, ValueError):
                raise _fail(
                    path,
                    f"{key}.zone",
                    f"unknown time zone {options['zone']!r}; "
                    "expected an IANA name such as Asia/Seoul or UTC",
                ) from None
        fmt = options.get("format", "iso")
        if not isinstance(fmt, str):
            raise _fail(path, f"{key}.format", "expected a strptime format, iso, unix_s or unix_ms")
        if not isinstance(options.get("add_days", 0), int | float):
            raise _fail(path, f"{key}.add_days", "expected a number of days")
    if "pad" in options and (not isinstance(options["pad"], int) or options["pad"] < 1):
        raise _fail(path, f"{key}.pad", "expected a width of at least 1")
    if isinstance(options.get("s10_service"), dict):  # a code of its own, from a column
        nested = _field(path, f"{key}.s10_service", "text", options["s10_service"], codes)
        options["s10_service"] = replace(nested, target=key.removeprefix("fields."))
    elif "s10_service" in options and not str(options["s10_service"]).isalpha():
        raise _fail(
            path,
            f"{key}.s10_service",
            "expected two letters (CP, EA...) or a table { column = ..., codes = ... }",
        )
    if "s10_service" in options and str(options.get("s10_country", "")) not in COUNTRIES:
        raise _fail(
            path,
            f"{key}.s10_country",
            "expected the ISO 3166 code of the issuing post (needed with s10_service)",
        )


def _codes(path: Path, raw: Any) -> dict[str, dict[str, str]]:
    if not isinstance(raw, dict):
        raise _fail(path, "codes", "expected tables [codes.NAME] of source code = contract value")
    out: dict[str, dict[str, str]] = {}
    for name, table in raw.items():
        if not isinstance(table, dict):
            raise _fail(path, f"codes.{name}", "expected a table of source code = contract value")
        out[name] = {str(k): _text(path, f"codes.{name}.{k}", v) for k, v in table.items()}
    return out


def _label(path: Path, raw: Any, codes: dict[str, Any]) -> LabelSpec:
    if not isinstance(raw, dict):
        raise _fail(path, "label", "expected a table")
    names = {
        "seized": "seized",
        "clean": "clean",
        "other": "other_irregularity",
        "not_inspected": "not_inspected",
    }
    _unknown(path, "label", set(raw), {"column", "name", "delay_days", "recorded_at", *names})
    if "column" not in raw:
        raise _fail(path, "label.column", "missing: the source column holding the label")
    outcomes: dict[str, str] = {}
    for key, result in names.items():
        values = raw.get(key, [])
        if not isinstance(values, list):
            raise _fail(path, f"label.{key}", "expected a list of source values")
        for v in values:
            text = _text(path, f"label.{key}", v)
            if text in outcomes:
                raise _fail(
                    path, f"label.{key}", f"value {text!r} is also listed as {outcomes[text]}"
                )
            outcomes[text] = result
    if "seized" not in outcomes.values() or "clean" not in outcomes.values():
        raise _fail(
            path,
            "label",
            "list the source values meaning seized and those meaning "
            "clean (label.seized, label.clean)",
        )
    delay = raw.get("delay_days", 0)
    if not isinstance(delay, int | float) or delay < 0:
        raise _fail(path, "label.delay_days", "expected a number of days of at least 0")
    recorded = raw.get("recorded_at")
    spec = _field(path, "recorded_at", "time", recorded, codes) if recorded is not None else None
    name = _text(path, "label.name", raw.get("name", raw["column"]))
    return LabelSpec(_text(path, "label.column", raw["column"]), outcomes, name, float(delay), spec)


def load_mapping(path: Path) -> Mapping:
    """Read and check a mapping file; a bad one raises MappingError naming key and problem."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise MappingError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise MappingError(f"{path}: not UTF-8 text") from None
    _unknown(path, "", set(raw), {"source", "fields", "codes", "label"})
    source = raw.get("source", {})
    if not isinstance(source, dict):
        raise _fail(path, "source", "expected a table")
    _unknown(
        path, "source", set(source), {"format", "name", "attribution", "delimiter", "encoding"}
    )
    fmt = source.get("format")
    if fmt is not None and fmt not in FORMATS:
        raise _fail(path, "source.format", f"expected one of {', '.join(FORMATS)}, got {fmt!r}")
    codes = _codes(path, raw.get("codes", {}))
    targets = contract_targets()
    given = raw.get("fields")
    if not isinstance(given, dict):
        raise _fail(path, "fields", "missing: a [fields] table of contract field = source")
    _unknown(path, "fields", set(given), targets)
    for name in REQUIRED:
        other = INSTEAD.get(name)
        if name in targets and name not in given and not (other in targets and other in given):
            raise _fail(
                path,
                f"fields.{name}",
                "missing: the contract requires it (give a "
                "column or a constant value" + (f", or {other}" if other in targets else "") + ")",
            )
    fields = {t: _field(path, t, targets[t], given[t], codes) for t in given}
    currency = fields["currency"]
    if currency.column is None:
        _rated(path, "fields.currency", _text(path, "fields.currency", currency.value))
    category, allowed = fields["category"], {c.value for c in ItemCategory}
    wrong = (
        {category.value}
        if category.column is None
        else set(codes[category.codes].values())
        if category.codes
        else set()
    ) - allowed
    if category.default is not None and category.default not in allowed:
        wrong.add(category.default)
    if wrong:
        raise _fail(
            path,
            "fields.category",
            f"{', '.join(sorted(map(str, wrong)))} is not a "
            f"category; expected one of {', '.join(sorted(allowed))}",
        )
    label = _label(path, raw["label"], codes) if "label" in raw else None
    delimiter = source.get("delimiter", ",")
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        raise _fail(path, "source.delimiter", "expected one character")
    encoding = source.get("encoding", "utf-8")
    try:
        known = isinstance(encoding, str) and codecs.lookup(encoding).name
    except LookupError:
        known = False
    if not known:
        raise _fail(
            path,
            "source.encoding",
            f"unknown text encoding {encoding!r} (e.g. utf-8, cp949, latin-1)",
        )
    return Mapping(
        path,
        fields,
        codes,
        label,
        fmt,
        str(source.get("name", path.stem)),
        str(source.get("attribution", "")),
        delimiter,
        "utf-8-sig" if known == "utf-8" else str(encoding),
    )
