"""Vectorised validation of a declaration table: the pydantic contract's rules, column-wise.

:func:`validate_table` applies exactly the rules of :class:`ParcelDeclaration` to an Arrow table
in the declaration schema (the Parquet form), with pyarrow.compute and numpy instead of one
model per record, and names problems the way the record validator does: the record as
``row N (ITEM_ID)`` and the field as ``sender.country`` or ``lines[2].quantity``. A record is
rejected here exactly when ``validate_records`` rejects it, with the same fields (a test
proves it on a corpus). Like the model, strings are judged after stripping white space, but
``contract_version`` and ``category`` are compared as given.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ._arrow import DECLARATION_SCHEMA
from ._codes import COUNTRIES, CURRENCIES
from ._errors import Problem, labelled, shown
from ._limits import MAX_LINES, MAX_PROBLEMS_PER_RECORD, MIN_LINES, PostingWindow, more_problems
from ._models import CONTRACT_VERSION, ContentLine, ItemCategory, ParcelDeclaration, Party
from ._s10 import _WEIGHTS, S10Error, parse_s10

__all__ = ["validate_table", "validate_table_indexed"]

Key = int | np.ndarray  # ordering key of a rule: one for a column, one per line for lines
_COUNTRY_SET = pa.array(sorted(COUNTRIES), pa.string())
_CURRENCY_SET = pa.array(sorted(CURRENCIES), pa.string())
_CATEGORY_SET = pa.array([c.value for c in ItemCategory], pa.string())
_CATEGORY_MSG = "Input should be " + " or ".join(
    [", ".join(f"'{c.value}'" for c in list(ItemCategory)[:-1]), f"'{list(ItemCategory)[-1]}'"]
)
_S10_ASCII = r"^[A-Z]{2}[0-9]{9}[A-Z]{2}$"
_HS_PATTERN = r"^\d{6,10}$"  # the model's pattern, quoted in messages
_HS_RE2 = r"^\p{Nd}{6,10}$"  # pydantic's regex engine reads \d as any Unicode digit
_MIN_LINES, _MAX_LINES = MIN_LINES, MAX_LINES


def _limits(model: type, name: str) -> tuple[int | None, int | None, float | None, float | None]:
    """(min_length, max_length, ge, le) of a model field, read from its metadata."""
    found: dict[str, float | int | None] = {"min_length": None, "max_length": None,
                                            "ge": None, "le": None}  # fmt: skip
    for meta in model.model_fields[name].metadata:  # type: ignore[attr-defined]
        for key in found:
            if getattr(meta, key, None) is not None:
                found[key] = getattr(meta, key)
    return found["min_length"], found["max_length"], found["ge"], found["le"]  # type: ignore


@dataclass
class _Found:
    """Problems as columns: row, ordering key, field, message, got."""

    rows: list[np.ndarray] = field(default_factory=list)
    keys: list[np.ndarray] = field(default_factory=list)
    fields: list[list[str]] = field(default_factory=list)
    messages: list[list[str]] = field(default_factory=list)
    gots: list[list[str | None]] = field(default_factory=list)

    def add(self, rows: np.ndarray, key: Key, name: str | list[str],
            message: str | list[str], got: list[str | None]) -> None:  # fmt: skip
        if not len(rows):
            return
        k = len(rows)
        self.rows.append(rows.astype(np.int64))
        self.keys.append(np.broadcast_to(np.asarray(key, dtype=np.int64), (k,)).copy())
        self.fields.append([name] * k if isinstance(name, str) else name)
        self.messages.append([message] * k if isinstance(message, str) else message)
        self.gots.append(got)


def _np(mask: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(pc.fill_null(mask, False).to_numpy(zero_copy_only=False), dtype=bool)


def _got(array: pa.Array, idx: np.ndarray, name: str | list[str] = "") -> list[str | None]:
    """The values at ``idx`` as problems show them (``shown``: withheld under a party)."""
    values = array.take(pa.array(idx, pa.int64())).to_pylist()
    names = _pick(name, idx) if isinstance(name, list) else [name] * len(values)
    return [shown(v, n) for v, n in zip(values, names, strict=True)]


def _stripped(array: pa.Array) -> pa.Array:
    return pc.utf8_trim_whitespace(array)


class _Checker:
    """Rules applied to one column at a time; ``present`` says which rows hold the parent."""

    def __init__(self, found: _Found) -> None:
        self.found = found

    def missing(self, array: pa.Array, present: np.ndarray, rows: np.ndarray, key: Key,
                name: str | list[str], message: str) -> np.ndarray:  # fmt: skip
        """Rows where the value is null though its parent is present; reports them."""
        null: np.ndarray = present & ~_np(pc.is_valid(array))
        idx = np.flatnonzero(null)
        got: list[str | None] = [None if message == "field required" else "None"] * len(idx)
        self.found.add(rows[idx], _at(key, idx), _pick(name, idx), message, got)
        return null

    def text(self, array: pa.Array, present: np.ndarray, rows: np.ndarray, key: Key,
             name: str | list[str], lo: int | None, hi: int | None) -> None:  # fmt: skip
        """Length limits on the stripped string (null rows are left to ``missing``)."""
        valid = present & _np(pc.is_valid(array))
        length = pc.fill_null(pc.utf8_length(_stripped(array)), 0).to_numpy(zero_copy_only=False)
        if lo is not None:
            idx = np.flatnonzero(valid & (length < lo))
            msg = f"String should have at least {lo} character{'s' if lo != 1 else ''}"
            self.found.add(rows[idx], _at(key, idx), _pick(name, idx), msg,
                           _got(array, idx, name))
        if hi is not None:
            idx = np.flatnonzero(valid & (length > hi))
            self.found.add(
                rows[idx],
                _at(key, idx),
                _pick(name, idx),
                f"String should have at most {hi} characters",
                _got(array, idx, name),
            )

    def member(self, array: pa.Array, present: np.ndarray, rows: np.ndarray, key: Key,
               name: str | list[str], codes: pa.Array, what: str) -> None:  # fmt: skip
        stripped = _stripped(array)
        bad = present & _np(pc.is_valid(array)) & ~_np(pc.is_in(stripped, value_set=codes))
        idx = np.flatnonzero(bad)
        self.found.add(rows[idx], _at(key, idx), _pick(name, idx), f"expected an {what} code",
                       _got(array, idx, name))

    def number(self, array: pa.Array, present: np.ndarray, rows: np.ndarray, key: Key,
               name: str | list[str], ge: float | None, le: float | None,
               finite: bool) -> None:  # fmt: skip
        valid = present & _np(pc.is_valid(array))
        values = pc.fill_null(array.cast(pa.float64()), 0.0).to_numpy(zero_copy_only=False)
        is_finite = np.isfinite(values)
        if finite:
            idx = np.flatnonzero(valid & ~is_finite)
            self.found.add(
                rows[idx],
                _at(key, idx),
                _pick(name, idx),
                "Input should be a finite number",
                _got(array, idx),
            )
            valid &= is_finite
        with np.errstate(invalid="ignore"):
            if ge is not None:
                idx = np.flatnonzero(valid & (values < ge))
                self.found.add(
                    rows[idx],
                    _at(key, idx),
                    _pick(name, idx),
                    f"Input should be greater than or equal to {_num(ge)}",
                    _got(array, idx),
                )
            if le is not None:
                idx = np.flatnonzero(valid & (values > le))
                self.found.add(
                    rows[idx],
                    _at(key, idx),
                    _pick(name, idx),
                    f"Input should be less than or equal to {_num(le)}",
                    _got(array, idx),
                )


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _at(key: Key, idx: np.ndarray) -> Key:
    return key if isinstance(key, int) else key[idx]


def _pick(name: str | list[str], idx: np.ndarray) -> str | list[str]:
    return name if isinstance(name, str) else [name[i] for i in idx]


def _s10_bad(item_id: pa.Array, present: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Rows whose stripped item ID is not a valid S10 code, with parse_s10's message."""
    stripped = _stripped(item_id)
    ascii_shape = present & _np(pc.match_substring_regex(stripped, _S10_ASCII))
    suspect = present & ~ascii_shape
    shaped = np.flatnonzero(ascii_shape)
    if len(shaped):
        # all 13 characters are ASCII: read the digits straight from the data buffer
        picked = stripped.take(pa.array(shaped, pa.int64()))
        bounds = np.frombuffer(picked.buffers()[1], dtype=np.int32)
        offsets = bounds[picked.offset : picked.offset + len(picked)].astype(np.int64)
        data = np.frombuffer(picked.buffers()[2], dtype=np.uint8)
        digits = data[offsets[:, None] + np.arange(2, 11)].astype(np.int64) - 48
        c = 11 - (digits[:, :8] @ np.asarray(_WEIGHTS, dtype=np.int64)) % 11
        expected = np.where(c == 10, 0, np.where(c == 11, 5, c))
        suspect[shaped[expected != digits[:, 8]]] = True
    idx = np.flatnonzero(suspect)
    bad_rows, messages = [], []
    for row, value in zip(idx, stripped.take(pa.array(idx, pa.int64())).to_pylist(), strict=True):
        try:
            parse_s10(value)
        except S10Error as exc:
            bad_rows.append(row)
            messages.append(str(exc))
    return np.asarray(bad_rows, dtype=np.int64), messages


def _party(check: _Checker, column: pa.Array, role: str, present: np.ndarray,
           rows: np.ndarray, key: int) -> None:  # fmt: skip
    for offset, name in enumerate(Party.model_fields):
        child = pc.struct_field(column, name)
        path, k = f"{role}.{name}", key + offset
        lo, hi, _, _ = _limits(Party, name)
        if name in ("name", "country"):
            null = check.missing(child, present, rows, k, path, "Input should be a valid string")
        else:
            null = np.zeros(len(present), dtype=bool)
        if name == "country":
            check.member(child, present & ~null, rows, k, path, _COUNTRY_SET,
                         "ISO 3166-1 alpha-2 country")  # fmt: skip
        else:
            check.text(child, present & ~null, rows, k, path, lo, hi)


def _lines(check: _Checker, lines: pa.Array, present: np.ndarray, key: int) -> None:
    """Rules on content lines; a list of the wrong length is not looked into (as pydantic)."""
    sizes = pc.fill_null(pc.list_value_length(lines), 0).to_numpy(zero_copy_only=False)
    row_ids = np.arange(len(sizes))
    for bad, msg in ((present & (sizes < _MIN_LINES), "at least {} item"),
                     (present & (sizes > _MAX_LINES), "at most {} items")):  # fmt: skip
        idx = np.flatnonzero(bad)
        limit = _MIN_LINES if "least" in msg else _MAX_LINES
        check.found.add(row_ids[idx], key, "lines",
                        [f"List should have {msg.format(limit)} after validation, not "
                         f"{sizes[i]}" for i in idx], _got(lines, idx))  # fmt: skip
    looked = present & (sizes >= _MIN_LINES) & (sizes <= _MAX_LINES)
    parents = pc.list_parent_indices(lines).to_numpy()
    flat = pc.list_flatten(lines)
    in_scope = looked[parents]
    offsets = np.asarray(lines.offsets.to_numpy(), dtype=np.int64)
    position = np.arange(len(flat)) - (offsets[parents] - offsets[0])
    base = key + 1 + position * 10
    prefix = [f"lines[{j}]" for j in position]
    null_line = in_scope & ~_np(pc.is_valid(flat))
    idx = np.flatnonzero(null_line)
    check.found.add(parents[idx], base[idx], _pick(prefix, idx),
                    "Input should be a valid dictionary or instance of ContentLine",
                    ["None"] * len(idx))  # fmt: skip
    there = in_scope & ~null_line
    kinds = {"description": "Input should be a valid string",
             "quantity": "Input should be a valid integer",
             "net_weight_kg": "Input should be a valid number",
             "value": "Input should be a valid number"}  # fmt: skip
    for offset, name in enumerate(ContentLine.model_fields):
        child = pc.struct_field(flat, name)
        names = [f"{p}.{name}" for p in prefix]
        k = base + 1 + offset
        null = (check.missing(child, there, parents, k, names, kinds[name])
                if name in kinds else np.zeros(len(flat), dtype=bool))  # fmt: skip
        ok = there & ~null
        lo, hi, ge, le = _limits(ContentLine, name)
        if name == "description":
            check.text(child, ok, parents, k, names, lo, hi)
        elif name in ("quantity", "net_weight_kg", "value"):
            check.number(child, ok, parents, k, names, ge, le, finite=name != "quantity")
        elif name == "hs_code":
            valid = ok & _np(pc.is_valid(child))
            match = _np(pc.match_substring_regex(_stripped(child), _HS_RE2))
            idx = np.flatnonzero(valid & ~match)
            check.found.add(
                parents[idx],
                k[idx],
                _pick(names, idx),
                f"String should match pattern '{_HS_PATTERN}'",
                _got(child, idx),
            )
        else:
            check.member(child, ok, parents, k, names, _COUNTRY_SET,
                         "ISO 3166-1 alpha-2 country")  # fmt: skip


def _labels(item_id: pa.Array, rows: np.ndarray, first_row: int) -> dict[int, str]:
    """``row N (ITEM_ID)`` as the Parquet reader labels records (the raw ID, when it has the
    shape of one)."""
    unique = np.unique(rows)
    ids = item_id.take(pa.array(unique, pa.int64())).to_pylist()
    return {int(r): labelled(f"row {first_row + r}", i)
            for r, i in zip(unique, ids, strict=True)}  # fmt: skip


def _outside(posted_at: pa.Array, window: PostingWindow) -> np.ndarray:
    """Rows posted outside the window (null rows: False)."""
    earliest = pa.scalar(window.earliest, pa.timestamp("us", tz="UTC"))
    latest = pa.scalar(window.latest, pa.timestamp("us", tz="UTC"))
    return _np(pc.or_(pc.less(posted_at, earliest), pc.greater(posted_at, latest)))


def validate_table(
    table: pa.Table, first_row: int = 1, window: PostingWindow | None = None
) -> tuple[np.ndarray, list[Problem]]:
    """Validate every record of a declaration table; return the valid mask and the errors.

    ``first_row`` is the 1-based number of the table's first record in its file, so that a
    chunk names its records as the whole file would. Problems come ordered by record, then in
    the model's field order, at most MAX_PROBLEMS_PER_RECORD a record and one that counts the
    rest. ``window``: refuse a posting time outside it, as ``validate_one`` does. Data-quality
    warnings are not computed here.
    """
    valid, _, problems = validate_table_indexed(table, first_row, window)
    return valid, problems


def validate_table_indexed(
    table: pa.Table, first_row: int = 1, window: PostingWindow | None = None
) -> tuple[np.ndarray, np.ndarray, list[Problem]]:
    """As :func:`validate_table`, plus the table row (0-based) of each problem.

    ``first_row`` is the 1-based number of the table's first record in its file, so that a
    chunk names its records as the whole file would. Problems come ordered by record, then in
    the model's field order. Data-quality warnings are not computed here.
    """
    table = table.select(DECLARATION_SCHEMA.names).cast(DECLARATION_SCHEMA).combine_chunks()
    n = table.num_rows
    found = _Found()
    check = _Checker(found)
    rows = np.arange(n)
    everyone = np.ones(n, dtype=bool)

    def col(name: str) -> pa.Array:
        chunks = table.column(name).chunks
        return chunks[0] if chunks else pa.array([], DECLARATION_SCHEMA.field(name).type)

    version = col("contract_version")
    idx = np.flatnonzero(_np(pc.is_valid(version)) & ~_np(pc.equal(version, CONTRACT_VERSION)))
    found.add(idx, 0, "contract_version", f"Input should be '{CONTRACT_VERSION}'",
              _got(version, idx))  # fmt: skip
    item_id = col("item_id")
    null = check.missing(item_id, everyone, rows, 1, "item_id", "field required")
    bad, messages = _s10_bad(item_id, ~null)
    found.add(bad, 1, "item_id", messages, _got(item_id, bad, "item_id"))
    posted_at = col("posted_at")
    null = check.missing(posted_at, everyone, rows, 2, "posted_at", "field required")
    if window is not None:
        idx = np.flatnonzero(~null & _outside(posted_at, window))
        found.add(idx, 2, "posted_at", window.message(), _got(posted_at, idx))
    origin_post = col("origin_post")
    null = check.missing(origin_post, everyone, rows, 3, "origin_post", "field required")
    lo, hi, _, _ = _limits(ParcelDeclaration, "origin_post")
    check.text(origin_post, ~null, rows, 3, "origin_post", lo, hi)
    for key, name in ((4, "origin_country"), (5, "destination_country")):
        null = check.missing(col(name), everyone, rows, key, name, "field required")
        check.member(col(name), ~null, rows, key, name, _COUNTRY_SET, "ISO 3166-1 alpha-2 country")
    for key, role in ((10, "sender"), (30, "recipient")):
        null = check.missing(col(role), everyone, rows, key, role, "field required")
        _party(check, col(role), role, ~null, rows, key + 1)
    category = col("category")
    null = check.missing(category, everyone, rows, 50, "category", "field required")
    idx = np.flatnonzero(~null & ~_np(pc.is_in(category, value_set=_CATEGORY_SET)))
    found.add(idx, 50, "category", _CATEGORY_MSG, _got(category, idx))
    for key, name in ((51, "gross_weight_kg"), (52, "declared_value")):
        null = check.missing(col(name), everyone, rows, key, name, "field required")
        _, _, ge, le = _limits(ParcelDeclaration, name)
        check.number(col(name), ~null, rows, key, name, ge, le, finite=True)
    currency = col("currency")
    null = check.missing(currency, everyone, rows, 53, "currency", "field required")
    check.member(currency, ~null, rows, 53, "currency", _CURRENCY_SET, "ISO 4217 currency")
    _, _, ge, le = _limits(ParcelDeclaration, "postal_charges")
    check.number(col("postal_charges"), everyone, rows, 54, "postal_charges", ge, le, True)
    lines = col("lines")
    null = check.missing(lines, everyone, rows, 60, "lines", "field required")
    _lines(check, lines, ~null, 60)

    valid = np.ones(n, dtype=bool)
    if not found.rows:
        return valid, np.empty(0, dtype=np.int64), []
    all_rows = np.concatenate(found.rows)
    keys = np.concatenate(found.keys)
    order = np.lexsort((keys, all_rows))
    fields = [f for chunk in found.fields for f in chunk]
    messages_all = [m for chunk in found.messages for m in chunk]
    gots = [g for chunk in found.gots for g in chunk]
    valid[all_rows] = False
    labels = _labels(item_id, all_rows, first_row)
    sorted_rows = all_rows[order]
    # at most MAX_PROBLEMS_PER_RECORD a record, then one that counts the rest (as the model)
    starts = np.flatnonzero(np.r_[True, sorted_rows[1:] != sorted_rows[:-1]])
    sizes = np.diff(np.r_[starts, len(sorted_rows)])
    rank = np.arange(len(sorted_rows)) - np.repeat(starts, sizes)
    problems, problem_rows = [], []
    for position in np.flatnonzero(rank < MAX_PROBLEMS_PER_RECORD):
        i, row = order[position], int(sorted_rows[position])
        problems.append(Problem(labels[row], fields[i], messages_all[i], got=gots[i]))
        problem_rows.append(row)
        end = position + 1 == len(sorted_rows) or sorted_rows[position + 1] != row
        if rank[position] == MAX_PROBLEMS_PER_RECORD - 1 and not end:
            rest = int(sizes[np.searchsorted(starts, position, side="right") - 1]
                       - MAX_PROBLEMS_PER_RECORD)  # fmt: skip
            problems.append(Problem(labels[row], "(record)", more_problems(rest)))
            problem_rows.append(row)
    return valid, np.asarray(problem_rows, dtype=np.int64), problems


def _stripped_array(array: pa.Array) -> pa.Array:
    kind = array.type
    if pa.types.is_string(kind):
        return pc.utf8_trim_whitespace(array)
    if array.offset and (pa.types.is_struct(kind) or pa.types.is_list(kind)):
        array = array.take(pa.array(np.arange(len(array))))  # a slice, made whole
    if pa.types.is_struct(kind):
        children = [_stripped_array(array.field(i)) for i in range(kind.num_fields)]
        return pa.StructArray.from_arrays(children, fields=list(kind), mask=array.is_null())
    if pa.types.is_list(kind):
        return pa.ListArray.from_arrays(array.offsets, _stripped_array(array.values),
                                        type=kind, mask=array.is_null())  # fmt: skip
    return array


def strip_strings(table: pa.Table) -> pa.Table:
    """Every string, at any depth, without leading and trailing whitespace: the values the
    model gives for a record (``str_strip_whitespace``) and the checks above look at."""
    columns = [pa.chunked_array([_stripped_array(chunk) for chunk in column.chunks],
                                type=column.type) for column in table.columns]  # fmt: skip
    return pa.Table.from_arrays(columns, schema=table.schema)
