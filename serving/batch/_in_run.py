"""The run's own parcels counted towards each other before any is scored (issue 18).

The service scores a parcel with the history as of before it, then records it; a batch run
gives each parcel what the service would have given it, scoring them one by one in the
service's order (``screening.history.RUN_ORDER``: posting time, then item ID, then manifest
row), without writing to the live store until the run completes. Parcels in one chunk can
follow parcels of any other in that order, so a run goes in three steps:

1. ``prepare`` (per chunk, in any order, on any worker): read, validate and build the chunk's
   frame, as scoring does, and keep it in the run's folder with its row numbers, whether each
   item is in the snapshot already, and its quarantine (``OUT/in-run/frame-NNNNNN.arrow``,
   ``quarantine-NNNNNN.parquet``).
2. ``count`` (once, in the driver): the keys of every parcel of the run (row, posting time,
   item, entity tokens) in the run's order; each parcel's counts from the parcels before it,
   per entity kind (``screening.history.run_stats``, the training replay by entity), kept by
   manifest row where it got any (``OUT/in-run/<kind>.arrow``), then the mark ``counted``.
3. scoring (per chunk, ``frame_of`` and ``run_history``): the frame read back and scored
   against the snapshot plus its counts (``screening.history.RunHistory``); the frame's file
   goes once its results are journalled.

A resumed run repeats only what is missing: frames not kept yet (before the mark), chunks
not journalled (after it). The folder goes when the run completes, with the snapshot.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.feather as feather
import pyarrow.parquet as pq

from screening import ParcelFrame, ScoringEngine
from screening.exchange import EXCHANGE_FEATURES, ExchangeInputs, Hit, hits_from_arrow
from screening.history import (
    KINDS,
    RUN_FIELDS,
    HistoryBackend,
    RunHistory,
    counting,
    run_order,
    run_stats,
)

from ._read import QUARANTINE_SCHEMA, Chunk
from ._state import write_atomic

FOLDER = "in-run"
_MARK = "counted"
_TOKEN = "token."
_IN_HISTORY = "in_history"


def folder(out: Path) -> Path:
    return out / FOLDER


def frame_path(out: Path, index: int) -> Path:
    return folder(out) / f"frame-{index:06d}.arrow"


def _stats_path(out: Path, kind: str) -> Path:
    return folder(out) / f"{kind}.arrow"


def _quarantine_path(out: Path, index: int) -> Path:
    return folder(out) / f"quarantine-{index:06d}.parquet"


def counted(out: Path) -> bool:
    """Whether the run's parcels are counted (step 2 done)."""
    return (folder(out) / _MARK).is_file()


def exchange_path(out: Path, index: int) -> Path:
    """A chunk's partner-seizure inputs (only for a model that reads them)."""
    return folder(out) / f"exchange-{index:06d}.arrow"


def exchange_of(out: Path, index: int) -> ExchangeInputs | None:
    """A prepared chunk's partner-seizure inputs, where its model reads them."""
    path = exchange_path(out, index)
    return ExchangeInputs.from_arrow(feather.read_table(path)) if path.is_file() else None


def run_exchange(out: Path, rows: np.ndarray) -> ExchangeInputs | None:
    """The partner-seizure inputs of the parcels at these manifest rows (in this order), hits
    included, read from the files their prepared chunks kept and were scored with
    (``exchange_of``); None: the run's model reads none. By row, not by place in a chunk: a
    Dask run's pieces are whole row groups, not the chunks the manifest is read back in to be
    recorded. A row whose chunk kept none was scored without them (``score_frame``): 0 here
    too, and why."""
    paths = sorted(folder(out).glob("exchange-*.arrow"))
    if not paths:
        return None
    n = len(rows)
    matrix = np.zeros((n, len(EXCHANGE_FEATURES)))
    hits: list[list[Hit]] = [[] for _ in range(n)]
    unavailable: list[str | None] = ["the parties were not given to the scorer"] * n
    worded: list[str | None] = [None] * n
    if n == 0:
        return ExchangeInputs(matrix, hits, unavailable, worded)
    lo, hi = int(rows.min()), int(rows.max())
    for path in paths:
        index = int(path.stem.split("-")[1])
        with pa.memory_map(str(frame_path(out, index))) as source:  # its schema: no rows read
            meta = pa.ipc.open_file(source).schema.metadata or {}
        first = int(meta[b"first_row"])
        if first > hi or first + int(meta[b"rows"]) <= lo:
            continue  # the chunk's records lie outside these rows
        kept = feather.read_table(frame_path(out, index), columns=["row"], memory_map=True)
        kept_rows = kept.column("row").to_numpy()  # increasing
        if not len(kept_rows):
            continue  # every record of the chunk quarantined
        at = np.minimum(np.searchsorted(kept_rows, rows), len(kept_rows) - 1)
        found = np.flatnonzero(kept_rows[at] == rows)
        if not len(found):
            continue
        table = feather.read_table(path, memory_map=True).take(pa.array(at[found]))
        inputs = ExchangeInputs.from_arrow(table)
        matrix[found] = inputs.matrix
        assert inputs.worded is not None  # read back: each hit's words
        for place, its_hits, why, words in zip(
            found.tolist(), hits_from_arrow(table), inputs.unavailable, inputs.worded, strict=True
        ):
            hits[place], unavailable[place], worded[place] = its_hits, why, words
    return ExchangeInputs(matrix, hits, unavailable, worded)


def take_exchange(inputs: ExchangeInputs, places: np.ndarray) -> ExchangeInputs:
    """The inputs of some of the parcels (at these places, in this order)."""
    picked = places.tolist()
    worded = inputs.worded
    return ExchangeInputs(
        inputs.matrix[places],
        [inputs.hits[i] for i in picked],
        [inputs.unavailable[i] for i in picked],
        None if worded is None else [worded[i] for i in picked],
    )


def prepared(out: Path, index: int) -> bool:
    return frame_path(out, index).is_file() and _quarantine_path(out, index).is_file()


def drop(out: Path) -> None:
    shutil.rmtree(folder(out), ignore_errors=True)


# --- 1. prepare ---------------------------------------------------------------------------


def _frame_table(frame: ParcelFrame, rows: np.ndarray, in_history: np.ndarray) -> pa.Table:
    columns: dict[str, pa.Array] = {"row": pa.array(rows, pa.int64())}
    for field in dataclasses.fields(frame):
        value = getattr(frame, field.name)
        if field.name == "tokens":
            for kind, tokens in value.items():
                columns[_TOKEN + kind] = pa.array(tokens, pa.string())
        elif value.dtype == object:
            columns[field.name] = pa.array(value, pa.string())
        else:
            columns[field.name] = pa.array(value)
    columns[_IN_HISTORY] = pa.array(in_history, pa.bool_())
    return pa.table(columns)


def prepare(engine: ScoringEngine, out: Path, chunk: Chunk, exchange: bool = True) -> None:
    """Step 1 of one chunk: its frame, row numbers, items known to the snapshot, quarantine
    (and its partner-seizure inputs, unless ``exchange`` is False: a Dask worker's, whose
    process has no exchange source, are the driver's to keep, ``keep_exchange``)."""
    frame = engine.frame(chunk.table)
    items = [str(i) for i in frame.item_id]
    known = engine.history.backend.known_items(items) if items else set()
    in_history = np.array([i in known for i in items], dtype=bool)
    table = _frame_table(frame, chunk.row_numbers, in_history)
    meta = {b"first_row": str(chunk.first_row).encode(), b"rows": str(chunk.rows).encode()}
    table = table.replace_schema_metadata(meta)
    folder(out).mkdir(parents=True, exist_ok=True)
    # a model that reads the partner-seizure features: the chunk's, from its clear parties
    # (which the kept frame no longer has), kept before the frame that marks it prepared
    if exchange:
        _keep_exchange(engine, out, chunk, frame)
    write_atomic(
        _quarantine_path(out, chunk.index), lambda tmp: pq.write_table(chunk.quarantine, tmp)
    )
    write_atomic(frame_path(out, chunk.index), lambda tmp: feather.write_feather(table, tmp))


def _keep_exchange(engine: ScoringEngine, out: Path, chunk: Chunk, frame: ParcelFrame) -> None:
    inputs = engine.exchange_inputs(chunk.table, frame)
    if inputs is not None:
        kept = inputs.to_arrow()
        write_atomic(exchange_path(out, chunk.index), lambda tmp: feather.write_feather(kept, tmp))


def keep_exchange(engine: ScoringEngine, out: Path, chunk: Chunk) -> None:
    """The partner-seizure inputs of a chunk prepared without them (``prepare``), from its
    clear parties (``chunk``, read and validated again) and its kept frame's posting times,
    through ``engine``'s exchange source: a Dask run's driver keeps its workers' pieces'."""
    frame, kept = frame_of(out, chunk.index)
    if not np.array_equal(kept.row_numbers, chunk.row_numbers):
        raise ValueError(f"chunk {chunk.index}: its kept frame holds other rows than the manifest")
    _keep_exchange(engine, out, chunk, frame)


def frame_of(out: Path, index: int) -> tuple[ParcelFrame, Chunk]:
    """A prepared chunk back: its frame, and the chunk (counts, row numbers, quarantine;
    its table of valid records is not kept, so empty)."""
    table = feather.read_table(frame_path(out, index))
    meta = table.schema.metadata or {}
    values: dict[str, Any] = {}
    tokens: dict[str, np.ndarray] = {}
    for name in table.column_names:
        column = table.column(name)
        if name.startswith(_TOKEN):
            tokens[name[len(_TOKEN) :]] = np.asarray(column.to_numpy(zero_copy_only=False), object)
        elif name not in ("row", _IN_HISTORY):
            value = column.to_numpy(zero_copy_only=False)
            values[name] = np.asarray(value, object) if pa.types.is_string(column.type) else value
    frame = ParcelFrame(**values, tokens=tokens)
    chunk = Chunk(
        index,
        int(meta[b"first_row"]),
        int(meta[b"rows"]),
        pa.table({}),
        table.column("row").to_numpy(),
        pq.read_table(_quarantine_path(out, index), schema=QUARANTINE_SCHEMA),
    )
    return frame, chunk


def kept(out: Path) -> list[int]:
    """The chunks whose frames are kept."""
    return sorted(int(p.stem.split("-")[1]) for p in folder(out).glob("frame-*.arrow"))


# --- 2. count -----------------------------------------------------------------------------


_PART_ROWS = 1_000_000  # a column's rows encoded at a time (a range of its values)
_SAMPLE = 1_000  # values per kept frame sampled for the ranges' bounds


def _column(paths: list[Path], name: str) -> pa.ChunkedArray:
    chunks = []
    for path in paths:
        chunks.extend(feather.read_table(path, columns=[name]).column(name).chunks)
    return pa.chunked_array(chunks, type=chunks[0].type if chunks else pa.string())


def _read(path: Path, name: str) -> pa.ChunkedArray:
    return feather.read_table(path, columns=[name]).column(name)


def _bounds(paths: list[Path], name: str, parts: int) -> list[str]:
    """Values that cut a column into ``parts`` ranges of about equal rows (from a sample of
    each kept frame); any bounds give the same codes, these only balance the ranges."""
    sample = []
    for path in paths:
        column = _read(path, name)
        step = max(1, len(column) // _SAMPLE)
        sample.extend(column.take(pa.array(range(0, len(column), step))).to_pylist())
    ordered = sorted(v for v in sample if v)
    if not ordered:
        return []
    picks = {ordered[len(ordered) * p // parts] for p in range(1, parts)}
    return sorted(picks)


def _codes(paths: list[Path], lengths: list[int], name: str) -> np.ndarray:
    """Code of each row's value of a column (-1: empty, no entity), in the values' order (a
    code is the value's rank among the column's distinct values, so sorting by code sorts by
    value). The values are encoded a range at a time (about ``_PART_ROWS`` rows, bounds from
    a sample), reading each kept frame's column once per range, so that only a range's
    distinct values are held as text, never the whole column's."""
    n = sum(lengths)
    codes = np.full(n, -1, dtype=_code_type(n))
    parts = max(1, -(-n // _PART_ROWS))
    bounds = _bounds(paths, name, parts) if parts > 1 else []
    ranges = list(zip([None, *bounds], [*bounds, None], strict=True))
    base = 0
    for lo, hi in ranges:
        values: list[pa.Array] = []
        where: list[np.ndarray] = []
        start = 0
        for path, length in zip(paths, lengths, strict=True):
            column = _read(path, name)
            mask = pc.greater(column, "") if lo is None else pc.greater_equal(column, lo)
            if hi is not None:
                mask = pc.and_(mask, pc.less(column, hi))
            mask = pc.fill_null(mask, False)
            values.extend(column.filter(mask).chunks)
            where.append(np.flatnonzero(mask.to_numpy(zero_copy_only=False)) + start)
            start += length
            del column, mask
        part = pa.chunked_array(values, pa.string())
        del values
        distinct = pc.unique(part)
        distinct = distinct.take(pc.sort_indices(distinct))
        found = pc.index_in(part, value_set=distinct).to_numpy(zero_copy_only=False)
        codes[np.concatenate(where)] = found.astype(codes.dtype) + base
        base += len(distinct)
        del part, distinct, found, where
    pa.default_memory_pool().release_unused()
    return codes


def _texts(paths: list[Path], lengths: list[int], name: str, at: np.ndarray) -> list[str]:
    """A column's values at these rows of the run (in the order given), read from the kept
    frames: the few that are looked up in the snapshot."""
    out = np.empty(len(at), dtype=object)
    order = np.argsort(at, kind="stable")
    ordered = at[order]
    starts = np.concatenate([[0], np.cumsum(lengths)])
    for i, path in enumerate(paths):
        lo, hi = np.searchsorted(ordered, starts[i : i + 2]).tolist()
        if lo < hi:
            local = pa.array(ordered[lo:hi] - starts[i])
            out[order[lo:hi]] = _read(path, name).take(local).to_pylist()
    return list(out)


def _code_type(n: int) -> type[np.signedinteger[Any]]:
    """Codes of n rows' values: int32 where they fit (half the memory of int64)."""
    return np.int32 if n < 2**31 else np.int64


def _pairs(sender: np.ndarray, recipient: np.ndarray) -> np.ndarray:
    both = (sender >= 0) & (recipient >= 0)
    pair = np.full(len(sender), -1, dtype=_code_type(len(sender)))
    if both.any():
        width = int(recipient.max()) + 1
        joint = sender[both].astype(np.int64) * width + recipient[both]
        pair[both] = np.unique(joint, return_inverse=True)[1].reshape(-1)
    return pair


@dataclasses.dataclass(frozen=True, slots=True)
class _Run:
    """The run's kept frames, for reading a column's values at some rows."""

    paths: list[Path]
    lengths: list[int]

    def texts(self, name: str, at: np.ndarray) -> list[str]:
        return _texts(self.paths, self.lengths, name, at)


def _linked(
    backend: HistoryBackend,
    run: _Run,
    kind: str,
    codes: np.ndarray,
    partner_kind: str,
    partners: np.ndarray,
    counts: np.ndarray,
) -> np.ndarray:
    """Rows whose entity the snapshot links to the row's counterpart already (so the
    counterpart is not new to it): looked up only for entities met twice or more in the run
    that the snapshot knows with a counterpart."""
    wanted: np.ndarray = (codes >= 0) & (partners >= 0) & counts
    if not wanted.any():
        return np.zeros(len(codes), dtype=bool)
    repeated = np.bincount(codes[codes >= 0]) > 1
    wanted[wanted] = repeated[codes[wanted]]
    del repeated
    rows = np.flatnonzero(wanted)
    candidates, first = np.unique(codes[rows], return_index=True)
    found = backend.get_tokens(kind, run.texts(_TOKEN + kind, rows[first]))
    linking = candidates[[s is not None and s.partners > 0 for s in found]]
    del rows, candidates, first, found
    wanted &= np.isin(codes, linking)
    if not wanted.any():
        return np.zeros(len(codes), dtype=bool)
    rows = np.flatnonzero(wanted)
    pairs, first = np.unique(
        np.stack([codes[rows], partners[rows]], axis=1), axis=0, return_index=True
    )
    keys = run.texts(_TOKEN + kind, rows[first])
    others = run.texts(_TOKEN + partner_kind, rows[first])
    triples = [(kind, k, p) for k, p in zip(keys, others, strict=True)]
    known = backend.known_links(triples)
    hit = np.array([t in known for t in triples], dtype=bool)
    if not hit.any():
        return np.zeros(len(codes), dtype=bool)
    width = int(partners.max()) + 1
    linked_keys = pairs[hit, 0].astype(np.int64) * width + pairs[hit, 1]
    wanted &= np.isin(codes.astype(np.int64) * width + partners, linked_keys)
    return wanted


def count(out: Path, indices: list[int], backend: HistoryBackend) -> None:
    """Step 2: every prepared chunk's parcels counted in the run's order (see the module)."""
    folder(out).mkdir(parents=True, exist_ok=True)
    paths = [frame_path(out, i) for i in sorted(indices)]
    if paths:
        # what step 1 freed, Arrow's pool keeps for reuse; the count's columns are NumPy's
        pa.default_memory_pool().release_unused()
        _count(out, paths, backend)
    mark = folder(out) / _MARK
    mark.write_text("counted\n", encoding="utf-8")
    with open(mark, "rb") as handle:
        os.fsync(handle.fileno())


def _count(out: Path, paths: list[Path], backend: HistoryBackend) -> None:
    rows = _column(paths, "row").to_numpy()  # increasing: chunks in file order
    lengths = [feather.read_table(p, columns=["row"]).num_rows for p in paths]
    run = _Run(paths, lengths)
    posted = _column(paths, "posted_us").to_numpy()
    items = _codes(paths, lengths, "item_id")  # in item ID order: sorts as the IDs
    seq = run_order(posted, items, rows)
    counts = counting(seq, items, _column(paths, _IN_HISTORY).to_numpy(zero_copy_only=False))
    del items
    codes: dict[str, np.ndarray] = {}
    for kind in KINDS:
        if kind == "pair":
            key = _pairs(codes["sender"], codes["recipient"])
        elif kind in codes:
            key = codes[kind]
        else:
            key = codes[kind] = _codes(paths, lengths, _TOKEN + kind)
        partner_kind = KINDS[kind]
        partner = np.full(len(rows), -1, dtype=key.dtype)
        if partner_kind:
            if partner_kind not in codes:
                codes[partner_kind] = _codes(paths, lengths, _TOKEN + partner_kind)
            partner = codes[partner_kind].copy()
            partner[_linked(backend, run, kind, key, partner_kind, partner, counts)] = -1
        stats = run_stats(key, partner, seq, posted, counts)
        del key, partner
        got = stats["parcels"] > 0  # a parcel that got nothing from the run is not kept
        table = pa.table({"row": rows[got]} | {name: stats[name][got] for name in RUN_FIELDS})
        del stats, got
        write_atomic(
            _stats_path(out, kind),
            lambda tmp, t=table: feather.write_feather(t, tmp, compression="uncompressed"),
        )
        del table
        for done in [k for k in codes if k not in _still_needed(kind)]:
            del codes[done]


def _still_needed(kind: str) -> set[str]:
    """Token codes still to be read after ``kind`` (KINDS' order: sender, sender_address,
    recipient, recipient_address, pair, office)."""
    later = list(KINDS)[list(KINDS).index(kind) + 1 :]
    needed = set(later) | {p for k in later if (p := KINDS[k])}
    if "pair" in later:
        needed |= {"sender", "recipient"}
    return needed


# --- 3. score -----------------------------------------------------------------------------


def run_history(engine: ScoringEngine, out: Path, rows: np.ndarray) -> RunHistory:
    """The history of parcels at these manifest rows (in this order): the engine's snapshot
    plus what the run's earlier parcels added (step 2's counts)."""
    n = len(rows)
    run: dict[str, dict[str, np.ndarray]] = {}
    if n:
        order = np.argsort(rows, kind="stable")
        ordered = rows[order]
        for kind in KINDS:
            table = feather.read_table(_stats_path(out, kind), memory_map=True)
            kept_rows = table.column("row").to_numpy()
            lo = int(np.searchsorted(kept_rows, ordered[0], side="left"))
            hi = int(np.searchsorted(kept_rows, ordered[-1], side="right"))
            found = table.slice(lo, hi - lo)
            found_rows = found.column("row").to_numpy()
            at = np.searchsorted(ordered, found_rows)
            hit = (at < n) & (ordered[np.minimum(at, n - 1)] == found_rows)
            place = order[at[hit]]
            columns = {}
            for name in RUN_FIELDS:
                column = np.zeros(n, dtype=np.int64)
                column[place] = found.column(name).to_numpy()[hit]
                columns[name] = column
            run[kind] = columns
    return RunHistory(engine.history.backend, run, n)
