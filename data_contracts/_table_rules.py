"""The machinery of the vectorised validator: problems as columns, and the rules applied to
one Arrow column at a time (length, membership, pattern, number bounds), each naming its
problems with the model's own message and the value as ``shown`` gives it."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ._errors import shown

Key = int | np.ndarray  # ordering key of a rule: one for a column, one per line for lines


def _limits(model: type, name: str) -> tuple[int | None, int | None, float | None, float | None]:
    """(min_length, max_length, ge, le) of a model field, read from its metadata."""
    found: dict[str, float | int | None] = {
        "min_length": None,
        "max_length": None,
        "ge": None,
        "le": None,
    }
    for meta in model.model_fields[name].metadata:  # type: ignore[attr-defined]
        for key in found:
            if getattr(meta, key, None) is not None:
                found[key] = getattr(meta, key)
    return found["min_length"], found["max_length"], found["ge"], found["le"]  # type: ignore


@dataclass
class Found:
    """Problems as columns: row, ordering key, field, message, got."""

    rows: list[np.ndarray] = field(default_factory=list)
    keys: list[np.ndarray] = field(default_factory=list)
    fields: list[list[str]] = field(default_factory=list)
    messages: list[list[str]] = field(default_factory=list)
    gots: list[list[str | None]] = field(default_factory=list)

    def add(
        self,
        rows: np.ndarray,
        key: Key,
        name: str | list[str],
        message: str | list[str],
        got: list[str | None],
    ) -> None:
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


class Checker:
    """Rules applied to one column at a time; ``present`` says which rows hold the parent."""

    def __init__(self, found: Found) -> None:
        self.found = found

    def missing(
        self,
        array: pa.Array,
        present: np.ndarray,
        rows: np.ndarray,
        key: Key,
        name: str | list[str],
        message: str,
    ) -> np.ndarray:
        """Rows where the value is null though its parent is present; reports them."""
        null: np.ndarray = present & ~_np(pc.is_valid(array))
        idx = np.flatnonzero(null)
        got: list[str | None] = [None if message == "field required" else "None"] * len(idx)
        self.found.add(rows[idx], _at(key, idx), _pick(name, idx), message, got)
        return null

    def text(
        self,
        array: pa.Array,
        present: np.ndarray,
        rows: np.ndarray,
        key: Key,
        name: str | list[str],
        lo: int | None,
        hi: int | None,
    ) -> None:
        """Length limits on the stripped string (null rows are left to ``missing``)."""
        valid = present & _np(pc.is_valid(array))
        length = pc.fill_null(pc.utf8_length(_stripped(array)), 0).to_numpy(zero_copy_only=False)
        if lo is not None:
            idx = np.flatnonzero(valid & (length < lo))
            msg = f"String should have at least {lo} character{'s' if lo != 1 else ''}"
            self.found.add(rows[idx], _at(key, idx), _pick(name, idx), msg, _got(array, idx, name))
        if hi is not None:
            idx = np.flatnonzero(valid & (length > hi))
            self.found.add(
                rows[idx],
                _at(key, idx),
                _pick(name, idx),
                f"String should have at most {hi} characters",
                _got(array, idx, name),
            )

    def pattern(
        self,
        array: pa.Array,
        present: np.ndarray,
        rows: np.ndarray,
        key: Key,
        name: str | list[str],
        pattern: str,
    ) -> np.ndarray:
        """Rows whose stripped value does not match ``pattern`` (reported); nulls pass."""
        valid = present & _np(pc.is_valid(array))
        bad: np.ndarray = valid & ~_np(pc.match_substring_regex(_stripped(array), pattern))
        idx = np.flatnonzero(bad)
        self.found.add(
            rows[idx],
            _at(key, idx),
            _pick(name, idx),
            f"String should match pattern '{pattern}'",
            _got(array, idx, name),
        )
        return bad

    def member(
        self,
        array: pa.Array,
        present: np.ndarray,
        rows: np.ndarray,
        key: Key,
        name: str | list[str],
        codes: pa.Array,
        what: str,
    ) -> None:
        stripped = _stripped(array)
        bad = present & _np(pc.is_valid(array)) & ~_np(pc.is_in(stripped, value_set=codes))
        idx = np.flatnonzero(bad)
        self.found.add(
            rows[idx],
            _at(key, idx),
            _pick(name, idx),
            f"expected an {what} code",
            _got(array, idx, name),
        )

    def number(
        self,
        array: pa.Array,
        present: np.ndarray,
        rows: np.ndarray,
        key: Key,
        name: str | list[str],
        ge: float | None,
        le: float | None,
        finite: bool,
    ) -> None:
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


def _problem_rows(found: Found, lo: int, hi: int, n: int) -> np.ndarray:
    """Rows with a problem keyed in [lo, hi) so far."""
    out = np.zeros(n, dtype=bool)
    for rows, keys in zip(found.rows, found.keys, strict=True):
        out[rows[(keys >= lo) & (keys < hi)]] = True
    return out
