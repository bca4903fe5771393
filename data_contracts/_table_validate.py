"""Vectorised validation of a declaration table: the pydantic contract's rules, column-wise.

:func:`validate_table` applies exactly the rules of :class:`ParcelDeclaration` to an Arrow table
in the declaration schema (the Parquet form), with pyarrow.compute and numpy instead of one
model per record, and names problems the way the record validator does: the record as
``row N (ITEM_ID)`` and the field as ``sender.country`` or ``lines[2].quantity``. A record is
rejected here exactly when ``validate_records`` rejects it, with the same fields (a test
proves it on a corpus). Like the model, strings are judged after stripping white space, but
``contract_version`` and ``category`` are compared as given. A version 1 table (without the
``express`` column and the parties' ``id_number``) is read as one with them empty.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ._arrow import DECLARATION_SCHEMA, conform_declarations
from ._codes import COUNTRIES, CURRENCIES
from ._errors import Problem, labelled
from ._express import (
    CARRIER_PATTERN,
    DOCUMENT_PATTERN,
    HOUSE_DIGIT,
    HOUSE_PATTERN,
    V2,
    express_id_problem,
    express_problem,
    is_express_id,
)
from ._limits import MAX_LINES, MAX_PROBLEMS_PER_RECORD, MIN_LINES, PostingWindow, more_problems
from ._models import (
    CONTRACT_VERSIONS,
    ID_PATTERN,
    PARTY_UNNAMED,
    ContentLine,
    ExpressConsignment,
    ItemCategory,
    ParcelDeclaration,
    Party,
    id_number_version,
)
from ._s10 import _WEIGHTS, S10_COUNTRIES, S10Error, parse_s10
from ._table_rules import (
    Checker,
    Found,
    _got,
    _limits,
    _np,
    _pick,
    _problem_rows,
    _stripped,
)

__all__ = ["validate_table", "validate_table_indexed"]

_COUNTRY_SET = pa.array(sorted(COUNTRIES), pa.string())
_CURRENCY_SET = pa.array(sorted(CURRENCIES), pa.string())
_S10_COUNTRY_SET = pa.array(sorted(S10_COUNTRIES), pa.string())
_VERSION_SET = pa.array(list(CONTRACT_VERSIONS), pa.string())
_VERSION_MSG = "Input should be " + " or ".join(f"'{v}'" for v in CONTRACT_VERSIONS)
_DEFAULT_VERSION = ParcelDeclaration.model_fields["contract_version"].default
#: ordering keys: the express details come after every content line's (60 + 10 a line)
_EXPRESS_KEY = 10_000
_CATEGORY_SET = pa.array([c.value for c in ItemCategory], pa.string())
_CATEGORY_MSG = "Input should be " + " or ".join(
    [", ".join(f"'{c.value}'" for c in list(ItemCategory)[:-1]), f"'{list(ItemCategory)[-1]}'"]
)
_S10_ASCII = r"^[A-Z]{2}[0-9]{9}[A-Z]{2}$"
_HS_PATTERN = r"^\d{6,10}$"  # the model's pattern, quoted in messages
_HS_RE2 = r"^\p{Nd}{6,10}$"  # pydantic's regex engine reads \d as any Unicode digit
_MIN_LINES, _MAX_LINES = MIN_LINES, MAX_LINES


def _item_id_bad(
    item_id: pa.Array, present: np.ndarray, versions: list[str | None]
) -> tuple[np.ndarray, list[str]]:
    """Rows whose stripped item ID is not a valid S10 code nor (version 2) an express
    consignment's, with the model's message."""
    stripped = _stripped(item_id)
    ascii_shape = present & _np(pc.match_substring_regex(stripped, _S10_ASCII))
    country = pc.utf8_slice_codeunits(stripped, 11, 13)
    ascii_shape &= _np(pc.is_in(country, value_set=_S10_COUNTRY_SET))
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
        if is_express_id(value):
            problem = express_id_problem(value, versions[row])
            if problem is not None:
                bad_rows.append(row)
                messages.append(problem)
            continue
        try:
            parse_s10(value)
        except S10Error as exc:
            bad_rows.append(row)
            messages.append(str(exc))
    return np.asarray(bad_rows, dtype=np.int64), messages


def _versions(version: pa.Array) -> list[str | None]:
    """Each record's contract version as the model reads it: null is the default, an invalid
    one None (a record is not judged on a version it does not validly have)."""
    return [
        _DEFAULT_VERSION if v is None else (v if v in CONTRACT_VERSIONS else None)
        for v in version.to_pylist()
    ]


def _party(
    check: Checker,
    column: pa.Array,
    role: str,
    present: np.ndarray,
    rows: np.ndarray,
    key: int,
    versions: list[str | None],
) -> None:
    for offset, name in enumerate(Party.model_fields):
        child = pc.struct_field(column, name)
        path, k = f"{role}.{name}", key + offset
        lo, hi, _, _ = _limits(Party, name)
        if name == "country":
            null = check.missing(child, present, rows, k, path, "Input should be a valid string")
            check.member(
                child, present & ~null, rows, k, path, _COUNTRY_SET, "ISO 3166-1 alpha-2 country"
            )
        elif name == "id_number":
            check.pattern(child, present, rows, k, path, ID_PATTERN)
        else:
            check.text(child, present, rows, k, path, lo, hi)
    # the party's own rule, then the declaration's, on parties whose fields are all valid
    n = len(present)
    whole = present & ~_problem_rows(check.found, key, key + len(Party.model_fields), n)
    named = _np(pc.is_valid(pc.struct_field(column, "name")))
    numbered = _np(pc.is_valid(pc.struct_field(column, "id_number")))
    idx = np.flatnonzero(whole & ~named & ~numbered)
    check.found.add(rows[idx], key - 1, role, PARTY_UNNAMED, _got(column, idx, role))
    early = np.array([v is not None and v != V2 for v in versions], dtype=bool)
    idx = np.flatnonzero(whole & numbered & early)
    check.found.add(
        rows[idx],
        key - 1,
        role,
        [id_number_version(str(versions[i])) for i in idx],
        _got(column, idx, role),
    )


def _express(
    check: Checker,
    column: pa.Array,
    item_id: pa.Array,
    item_ok: np.ndarray,
    versions: list[str | None],
) -> None:
    """Express details: their own fields, then whether they fit the version and item ID."""
    n = len(column)
    rows = np.arange(n)
    present = _np(pc.is_valid(column))
    key = _EXPRESS_KEY
    for offset, name in enumerate(ExpressConsignment.model_fields):
        child = pc.struct_field(column, name)
        path, k = f"express.{name}", key + 1 + offset
        pattern = {
            "carrier": CARRIER_PATTERN,
            "house_consignment": HOUSE_PATTERN,
            "transport_document": DOCUMENT_PATTERN,
        }[name]
        null = (
            check.missing(child, present, rows, k, path, "Input should be a valid string")
            if name != "transport_document"
            else np.zeros(n, dtype=bool)
        )
        bad = check.pattern(child, present & ~null, rows, k, path, pattern)
        if name == "house_consignment":
            ok = present & ~null & ~bad
            digits = _np(pc.match_substring_regex(_stripped(child), "[0-9]"))
            idx = np.flatnonzero(ok & ~digits)
            check.found.add(idx, k, path, HOUSE_DIGIT, _got(child, idx, path))
    whole = ~present | ~_problem_rows(check.found, key + 1, key + 10, n)
    ids = _stripped(item_id)
    candidates = np.flatnonzero(whole & (present | _np(pc.match_substring(ids, ":"))))
    values = column.take(pa.array(candidates, pa.int64())).to_pylist()
    id_values = ids.take(pa.array(candidates, pa.int64())).to_pylist()
    bad_rows, messages = [], []
    for row, value, item in zip(candidates, values, id_values, strict=True):
        given = (
            None
            if value is None
            else {k: (v.strip() if isinstance(v, str) else v) for k, v in value.items()}
        )
        problem = express_problem(versions[row], item if item_ok[row] else None, given)
        if problem is not None:
            bad_rows.append(row)
            messages.append(problem)
    idx = np.asarray(bad_rows, dtype=np.int64)
    check.found.add(idx, key, "express", messages, _got(column, idx, "express"))


def _lines(check: Checker, lines: pa.Array, present: np.ndarray, key: int) -> None:
    """Rules on content lines; a list of the wrong length is not looked into (as pydantic)."""
    sizes = pc.fill_null(pc.list_value_length(lines), 0).to_numpy(zero_copy_only=False)
    row_ids = np.arange(len(sizes))
    for bad, msg in (
        (present & (sizes < _MIN_LINES), "at least {} item"),
        (present & (sizes > _MAX_LINES), "at most {} items"),
    ):
        idx = np.flatnonzero(bad)
        limit = _MIN_LINES if "least" in msg else _MAX_LINES
        check.found.add(
            row_ids[idx],
            key,
            "lines",
            [f"List should have {msg.format(limit)} after validation, not {sizes[i]}" for i in idx],
            _got(lines, idx),
        )
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
    check.found.add(
        parents[idx],
        base[idx],
        _pick(prefix, idx),
        "Input should be a valid dictionary or instance of ContentLine",
        ["None"] * len(idx),
    )
    there = in_scope & ~null_line
    kinds = {
        "description": "Input should be a valid string",
        "quantity": "Input should be a valid integer",
        "net_weight_kg": "Input should be a valid number",
        "value": "Input should be a valid number",
    }
    for offset, name in enumerate(ContentLine.model_fields):
        child = pc.struct_field(flat, name)
        names = [f"{p}.{name}" for p in prefix]
        k = base + 1 + offset
        null = (
            check.missing(child, there, parents, k, names, kinds[name])
            if name in kinds
            else np.zeros(len(flat), dtype=bool)
        )
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
            check.member(child, ok, parents, k, names, _COUNTRY_SET, "ISO 3166-1 alpha-2 country")


def _labels(item_id: pa.Array, rows: np.ndarray, first_row: int) -> dict[int, str]:
    """``row N (ITEM_ID)`` as the Parquet reader labels records (the raw ID, when it has the
    shape of one)."""
    unique = np.unique(rows)
    ids = item_id.take(pa.array(unique, pa.int64())).to_pylist()
    return {int(r): labelled(f"row {first_row + r}", i) for r, i in zip(unique, ids, strict=True)}


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
    table = conform_declarations(table)
    table = table.select(DECLARATION_SCHEMA.names).cast(DECLARATION_SCHEMA).combine_chunks()
    n = table.num_rows
    found = Found()
    check = Checker(found)
    rows = np.arange(n)
    everyone = np.ones(n, dtype=bool)

    def col(name: str) -> pa.Array:
        chunks = table.column(name).chunks
        return chunks[0] if chunks else pa.array([], DECLARATION_SCHEMA.field(name).type)

    version = col("contract_version")
    idx = np.flatnonzero(_np(pc.is_valid(version)) & ~_np(pc.is_in(version, _VERSION_SET)))
    found.add(idx, 0, "contract_version", _VERSION_MSG, _got(version, idx))
    versions = _versions(version)
    item_id = col("item_id")
    null = check.missing(item_id, everyone, rows, 1, "item_id", "field required")
    bad, messages = _item_id_bad(item_id, ~null, versions)
    found.add(bad, 1, "item_id", messages, _got(item_id, bad, "item_id"))
    item_ok = ~null
    item_ok[bad] = False
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
        _party(check, col(role), role, ~null, rows, key + 1, versions)
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
    _express(check, col("express"), item_id, item_ok, versions)

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
            rest = int(
                sizes[np.searchsorted(starts, position, side="right") - 1] - MAX_PROBLEMS_PER_RECORD
            )
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
        return pa.ListArray.from_arrays(
            array.offsets, _stripped_array(array.values), type=kind, mask=array.is_null()
        )
    return array


def strip_strings(table: pa.Table) -> pa.Table:
    """Every string, at any depth, without leading and trailing whitespace: the values the
    model gives for a record (``str_strip_whitespace``) and the checks above look at."""
    columns = [
        pa.chunked_array([_stripped_array(chunk) for chunk in column.chunks], type=column.type)
        for column in table.columns
    ]
    return pa.Table.from_arrays(columns, schema=table.schema)
