"""Training data on a Dask cluster, slice by slice: no process holds the declarations whole.

The driver sends out work and receives counts and bounded samples; the workers read, check,
pseudonymise and replay::

    slices of the file (row group, batch)
      -> posting times: the split's bounds and the edges of the time buckets (a sample)
      -> (time, item ID) of each bucket sorted: every parcel's place in the replay's order
      -> each slice read again, checked, pseudonymised and labelled (outcomes joined per
         item); its entity rows cut by entity; the rows training needs kept (labelled,
         samples), the rest dropped
      -> entity rows written to the worker's scratch folder, one Parquet file per replay
         partition (tokens' halves, times, counts: pseudonymised, nothing in clear)
      -> replay partitions read back (on the worker that wrote each file) and replayed by
         entity (``replay_entities``) a few at a time, each released before the next is
         read; each kept parcel's stats sent back to its slice, its history features there

A worker thus holds its slices' kept rows and a few partitions' entity rows at a time, not
its share of every entity row of the data set.

An entity is keyed by its token (128 bits, hex) read as two integers (a pair of parties by
both), so the cut by entity needs no table of all tokens; the replay's order is the
single-process one (posting time, then item ID), so the features are the same, value for
value (a test holds it so).
"""

from __future__ import annotations

import math
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from data_contracts import DECLARATION_SCHEMA, conform_declarations
from screening import HISTORY_FEATURES, KnownOutcome, ParcelFrame, Pseudonymiser, frame_from_table
from screening.history import (
    KIND_NAMES,
    KINDS,
    STATS_FIELDS,
    entity_features,
    outcome_changes,
    replay_entities,
)

from ._dataset import Dataset, _check_schema, _labels, _validate, read_table
from ._errors import DataError

#: Declarations per slice read by one task (the file's row groups cut in batches of this).
SLICE_ROWS = 250_000
#: Parcels per time bucket when they are put in the replay's order.
BUCKET_ROWS = 500_000
#: Entity rows per replay partition (about 75 bytes a row; a few partitions are in memory at
#: a time, read from the workers' scratch files).
PARTITION_ROWS = 1_000_000
#: Entity rows a parcel makes, about (for the number of replay partitions).
ROWS_PER_PARCEL = 6
#: Columns of a frame that the features' reference statistics read (``fit_feature_spec``).
SPEC_COLUMNS = (
    "origin",
    "destination",
    "hs_chapter",
    "currency",
    "gross_weight_kg",
    "declared_value",
)
#: Posting times per slice from which the time buckets' edges are drawn.
TIME_SAMPLE = 2_000


@dataclass(frozen=True)
class Slice:
    """Rows ``batch * size`` .. of row group ``group``: one read task's share of a file."""

    group: int
    batch: int
    rows: int


@dataclass(frozen=True)
class Plan:
    """What every slice needs to know once the posting times are in: where the periods
    split, how many replay partitions, what share of each period to keep as a sample."""

    declarations: str
    outcomes: str
    key: bytes
    validate: bool
    bounds_us: tuple[int, int, int, int, int, int]
    train_cutoff_us: int
    validation_cutoff_us: int
    parts: int
    spec_rate: float  # training parcels kept for the features' reference statistics
    reference_rate: float  # validation parcels kept for thresholds and drift references
    evaluation_rate: float  # test parcels kept for the evaluation
    seed: int
    slice_rows: int = SLICE_ROWS
    keep_all: bool = False  # every parcel kept (to compare the replay with one process's)
    run: str = "run"  # names this run's scratch folder on each worker


@dataclass(frozen=True)
class Spilled:
    """A slice's entity rows in its worker's scratch folder: one Parquet file per replay
    partition that has any, readable only where they were written (``worker``)."""

    worker: str
    files: dict[int, str]


@dataclass
class Kept:
    """The rows of one slice that training needs: labelled in the training or validation
    period, or drawn in a sample. ``data.history`` is filled in once the replay is done."""

    data: Dataset
    seq: np.ndarray  # place in the replay's order
    period: np.ndarray  # int8: 0 training, 1 validation, 2 test, -1 in a gap
    labelled: np.ndarray  # bool: inspected, the outcome known by its period's cutoff
    reference: np.ndarray  # bool: drawn from the validation period
    evaluation: np.ndarray  # bool: drawn from the test period


def slices(path: Path, rows: int = SLICE_ROWS) -> list[Slice]:
    """The file's rows cut into slices of at most ``rows`` (within its row groups)."""
    meta = pq.ParquetFile(path).metadata
    out = []
    for group in range(meta.num_row_groups):
        n = meta.row_group(group).num_rows
        out += [Slice(group, b, min(rows, n - b * rows)) for b in range(math.ceil(n / rows))]
    return out


def read_slice(path: str, part: Slice, size: int, columns: list[str] | None = None) -> pa.Table:
    """One slice of a Parquet file (its batch of ``size`` rows within its row group)."""
    with pq.ParquetFile(path) as f:
        batches = f.iter_batches(batch_size=size, row_groups=[part.group], columns=columns)
        for i, batch in enumerate(batches):
            if i == part.batch:
                table = pa.Table.from_batches([batch])
                if table.num_rows != part.rows:
                    raise DataError(f"{path}: a slice of {part.rows} rows came as {len(table)}")
                return table
    raise DataError(f"{path}: row group {part.group} ended before slice {part.batch}")


def _posted(table: pa.Table) -> np.ndarray:
    return np.asarray(table.column("posted_at").cast(pa.int64()).to_numpy(), dtype=np.int64)


def posting_times(path: str, part: Slice, size: int) -> tuple[int, int, int, np.ndarray]:
    """A slice's count, first and last posting time, and a sorted sample of its times."""
    posted = np.sort(_posted(read_slice(path, part, size, ["posted_at"])))
    step = max(len(posted) // TIME_SAMPLE, 1)
    low, high = (int(posted[0]), int(posted[-1])) if len(posted) else (0, -1)
    return len(posted), low, high, posted[::step]


def bucket_keys(path: str, part: Slice, size: int, edges: np.ndarray) -> dict[int, pd.DataFrame]:
    """A slice's (posting time, item ID, row) by time bucket (``edges`` between them)."""
    table = read_slice(path, part, size, ["posted_at", "item_id"])
    posted = _posted(table)
    keys = pd.DataFrame(
        {
            "posted": posted,
            "item": np.asarray(table.column("item_id").to_numpy(zero_copy_only=False), object),
            "row": np.arange(len(posted), dtype=np.int64),
        }
    )
    bucket = np.searchsorted(edges, posted, side="right")
    return {int(b): keys[bucket == b] for b in np.unique(bucket)}


def pick(pieces: dict[int, Any], index: int) -> Any:
    return pieces.get(index)


def rank_bucket(*pieces: pd.DataFrame | None) -> dict[str, Any]:
    """The parcels of one time bucket (one piece per slice) in the replay's order: posting
    time, then item ID; each slice's rows with their rank in the bucket, and its size."""
    found = [p.assign(part=i) for i, p in enumerate(pieces) if p is not None and len(p)]
    if not found:
        return {"size": 0, "ranks": {}}
    keys = pd.concat(found, ignore_index=True).sort_values(["posted", "item"], kind="stable")
    keys["rank"] = np.arange(len(keys), dtype=np.int64)
    part = keys["part"].to_numpy()
    ranks = {int(p): keys.loc[part == p, ["row", "rank"]] for p in np.unique(part)}
    return {"size": len(keys), "ranks": ranks}


def bucket_size(ranked: dict[str, Any]) -> int:
    return int(ranked["size"])


def bucket_ranks(ranked: dict[str, Any], part: int) -> pd.DataFrame | None:
    found: pd.DataFrame | None = ranked["ranks"].get(part)
    return found


def id_hashes(path: str, part: Slice, size: int, buckets: int) -> dict[int, pd.DataFrame]:
    """A slice's item IDs by hash bucket, to find an ID given twice anywhere in the file."""
    ids = read_slice(path, part, size, ["item_id"]).column("item_id").to_numpy(zero_copy_only=False)
    frame = pd.DataFrame({"item": np.asarray(ids, dtype=object)})
    where = pd.util.hash_array(frame["item"].to_numpy()) % np.uint64(buckets)
    return {int(b): frame[where == b] for b in np.unique(where)}


def duplicate_ids(*pieces: pd.DataFrame | None) -> list[str]:
    """The item IDs given more than once in one hash bucket (at most 5, sorted)."""
    found = [p for p in pieces if p is not None and len(p)]
    if not found:
        return []
    items = pd.concat(found)["item"]
    return sorted(str(i) for i in items[items.duplicated()].unique())[:5]


def _halves(tokens: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each token (32 hex digits) as two 64-bit integers, and whether there is one."""
    codes, found = pd.factorize(np.asarray(tokens, dtype=object))
    distinct = [str(t) for t in found]
    high = np.array([int(t[:16], 16) if t else 0 for t in distinct] + [0], dtype=np.uint64)
    low = np.array([int(t[16:32], 16) if t else 0 for t in distinct] + [0], dtype=np.uint64)
    present = np.array([bool(t) for t in distinct] + [False])
    if any(t and len(t) != 32 for t in distinct):
        raise ValueError("an entity token is not 32 hex digits")
    return high[codes], low[codes], present[codes]


def entity_rows(
    frame: ParcelFrame, seq: np.ndarray, changes: pd.DataFrame, parts: int
) -> dict[int, pd.DataFrame]:
    """A slice's rows of the entity table (as ``entity_table``: one per parcel and entity
    kind with a token, one per outcome change and entity of its item), keyed by the tokens
    themselves (``k1`` .. ``k4``), by replay partition."""
    n = len(frame)
    empty = np.full(n, "", dtype=object)
    halves = {kind: _halves(frame.tokens.get(kind, empty)) for kind in KIND_NAMES}
    zero = np.zeros(n, dtype=np.uint64)
    s, r = halves["sender"], halves["recipient"]
    posted = np.asarray(frame.posted_us, dtype=np.int64)
    change_rows = changes["row"].to_numpy()
    pieces = []
    for index, kind in enumerate(KIND_NAMES):
        if kind == "pair":  # both parties, when both have a token
            k1, k2, k3, k4, has = s[0], s[1], r[0], r[1], s[2] & r[2]
        else:
            (k1, k2, has), k3, k4 = halves[kind], zero, zero
        partner_kind = KINDS[kind]
        p1, p2, p_has = halves[partner_kind] if partner_kind else (zero, zero, zero.astype(bool))
        rows = np.flatnonzero(has)
        linked = change_rows[has[change_rows]]
        linked_at = has[change_rows]
        for at, parcel in ((rows, True), (linked, False)):
            piece = pd.DataFrame(
                {
                    "k1": k1[at],
                    "k2": k2[at],
                    "k3": k3[at],
                    "k4": k4[at],
                    "kind": np.int8(index),
                    "seq": seq[at] if parcel else np.int64(-1),
                    "time": posted[at] if parcel else changes["time"].to_numpy()[linked_at],
                    "p1": p1[at] if parcel else np.uint64(0),
                    "p2": p2[at] if parcel else np.uint64(0),
                    "partner": p_has[at] if parcel else False,
                    "seized": np.int8(0) if parcel else changes["seized"].to_numpy()[linked_at],
                    "clean": np.int8(0) if parcel else changes["clean"].to_numpy()[linked_at],
                }
            )
            pieces.append(piece)
    table = pd.concat(pieces, ignore_index=True)
    where = (table["k1"].to_numpy() ^ table["k3"].to_numpy()) % np.uint64(parts)
    return {p: table[where == p] for p in range(parts)}


def scratch(run: str, worker: Any = None) -> Path:
    """A run's scratch folder on this worker (in its local directory; outside a worker,
    in the system's temporary folder)."""
    if worker is None:
        from distributed import get_worker

        try:
            worker = get_worker()
        except ValueError:  # not in a worker's task
            return Path(tempfile.gettempdir()) / f"parcelscreen-replay-{run}"
    return Path(worker.local_directory) / f"parcelscreen-replay-{run}"


def _address() -> str:
    from distributed import get_worker

    try:
        return str(get_worker().address)
    except ValueError:
        return ""


def spill_rows(rows: dict[int, pd.DataFrame], run: str, index: int) -> Spilled:
    """A slice's entity rows written to this worker's scratch folder, a file per replay
    partition (only pseudonymised keys, times and counts: see :func:`entity_rows`)."""
    folder = scratch(run)
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for part, piece in rows.items():
        if len(piece):
            path = folder / f"slice-{index}-part-{part}.parquet"
            pq.write_table(
                pa.Table.from_pandas(piece, preserve_index=False), path, compression="none"
            )
            files[part] = str(path)
    return Spilled(_address(), files)


def read_rows(path: str) -> pd.DataFrame:
    """One slice's entity rows of one replay partition, from its scratch file."""
    rows: pd.DataFrame = pq.read_table(path).to_pandas()
    return rows


def remove_scratch(run: str, dask_worker: Any = None) -> None:
    """A run's scratch folder removed (on every worker, by ``Client.run``)."""
    shutil.rmtree(scratch(run, dask_worker), ignore_errors=True)


def light(frame: ParcelFrame, rows: np.ndarray, columns: Sequence[str]) -> ParcelFrame:
    """A frame of some rows carrying only ``columns`` (the others empty), text columns
    sharing one string per distinct value: small to send."""
    out: dict[str, Any] = {}
    for f in fields(frame):
        value = getattr(frame, f.name)
        if f.name == "tokens":
            out[f.name] = {}
        elif f.name not in columns:
            out[f.name] = np.zeros(0, dtype=value.dtype)
        elif value.dtype == object:
            codes, distinct = pd.factorize(value[rows])
            out[f.name] = np.asarray(np.asarray(distinct, dtype=object)[codes], dtype=object)
        else:
            out[f.name] = value[rows]
    return ParcelFrame(**out)


def _draw(rng: np.random.Generator, mask: np.ndarray, rate: float) -> np.ndarray:
    if rate >= 1.0:
        return mask.copy()
    return mask & (rng.random(len(mask)) < rate)


def _take(frame: ParcelFrame, rows: np.ndarray) -> ParcelFrame:
    """Some rows of a frame, without their tokens (the entity rows have them)."""
    changes = {f.name: getattr(frame, f.name)[rows] for f in fields(frame) if f.name != "tokens"}
    return replace(frame, **changes, tokens={})


def load_slice(
    plan: Plan, part: Slice, index: int, offsets: np.ndarray, *ranks: pd.DataFrame | None
) -> dict[str, Any]:
    """One slice read, checked, pseudonymised and labelled: its entity rows written to
    scratch files by replay partition (``rows``, a :class:`Spilled`), the rows training
    needs (``kept``, a :class:`Kept`), and counts."""
    table = read_slice(plan.declarations, part, plan.slice_rows)
    table = conform_declarations(table)
    if plan.validate:
        _validate(Path(plan.declarations), table, "declaration", lambda _m: None)
    table = table.select(DECLARATION_SCHEMA.names)
    seq = np.full(table.num_rows, -1, dtype=np.int64)
    for bucket, found in enumerate(ranks):
        if found is not None:
            seq[found["row"].to_numpy()] = offsets[bucket] + found["rank"].to_numpy()
    frame = frame_from_table(table, Pseudonymiser(plan.key))
    del table
    outcomes = read_table(Path(plan.outcomes), "outcome", False, lambda _m: None)
    inspected, seized, known, reason, propensity = _labels(frame, outcomes)
    known_outcomes = [
        KnownOutcome(str(frame.item_id[i]), int(known[i]), bool(seized[i]), not seized[i])
        for i in np.flatnonzero(inspected)
    ]
    rows = spill_rows(
        entity_rows(frame, seq, outcome_changes(frame, known_outcomes), plan.parts),
        plan.run,
        index,
    )
    b = plan.bounds_us
    posted = np.asarray(frame.posted_us, dtype=np.int64)
    period = np.full(len(frame), -1, dtype=np.int8)
    period[(posted >= b[0]) & (posted < b[1])] = 0
    period[(posted >= b[2]) & (posted < b[3])] = 1
    period[posted >= b[4]] = 2
    known_train = (period == 0) & inspected & (known < plan.train_cutoff_us)
    known_valid = (period == 1) & inspected & (known < plan.validation_cutoff_us)
    rng = np.random.default_rng([plan.seed, index])
    spec = _draw(rng, period == 0, plan.spec_rate)
    reference = _draw(rng, period == 1, plan.reference_rate)
    evaluation = _draw(rng, period == 2, plan.evaluation_rate)
    keep = np.flatnonzero(known_train | known_valid | reference | evaluation | plan.keep_all)
    history = np.zeros((len(keep), len(HISTORY_FEATURES)))
    kept = Kept(
        Dataset(
            _take(frame, keep),
            history,
            inspected[keep],
            seized[keep],
            known[keep],
            reason[keep],
            propensity[keep],
        ),
        seq[keep],
        period[keep],
        (known_train | known_valid)[keep],
        reference[keep],
        evaluation[keep],
    )
    counts = {
        "parcels": len(frame),
        "training": int((period == 0).sum()),
        "test": int((period == 2).sum()),
        "labelled": int(known_train.sum()),
        "seizures": int(seized[known_train].sum()),
        "validation_labelled": int(known_valid.sum()),
        "validation_seizures": int(seized[known_valid].sum()),
    }
    spec_rows = light(frame, np.flatnonzero(spec), SPEC_COLUMNS)
    return {"rows": rows, "kept": kept, "spec": spec_rows, "counts": counts}


def spec_of(loaded: dict[str, Any]) -> ParcelFrame:
    frame: ParcelFrame = loaded["spec"]
    return frame


def kept_seqs(loaded: dict[str, Any]) -> np.ndarray:
    seqs: np.ndarray = loaded["kept"].seq
    return seqs


def counts_of(loaded: dict[str, Any]) -> dict[str, int]:
    counts: dict[str, int] = loaded["counts"]
    return counts


def spilled_of(loaded: dict[str, Any]) -> Spilled:
    spilled: Spilled = loaded["rows"]
    return spilled


def kept_of(loaded: dict[str, Any]) -> Kept:
    kept: Kept = loaded["kept"]
    return kept


def kept_index(*seqs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The kept rows' places in the replay's order, sorted, and the slice of each."""
    seq = np.concatenate([np.asarray(s, dtype=np.int64) for s in seqs])
    part = np.concatenate([np.full(len(s), i, dtype=np.int64) for i, s in enumerate(seqs)])
    order = np.argsort(seq, kind="stable")
    return seq[order], part[order]


def replay_partition(
    index: tuple[np.ndarray, np.ndarray], *pieces: pd.DataFrame
) -> dict[int, pd.DataFrame]:
    """One replay partition (whole entities, one piece per slice) replayed; the stats of
    the kept parcels, by the slice that keeps them."""
    found = [p for p in pieces if len(p)]
    if not found:
        return {}
    rows = pd.concat(found, ignore_index=True)
    key = rows.groupby(["kind", "k1", "k2", "k3", "k4"], sort=False).ngroup().to_numpy()
    partner = pd.MultiIndex.from_arrays([rows["p1"], rows["p2"]]).factorize()[0]
    table = pd.DataFrame(
        {
            "key": key.astype(np.int64),
            "kind": rows["kind"].to_numpy(),
            "seq": rows["seq"].to_numpy(),
            "time": rows["time"].to_numpy(),
            "partner": np.where(rows["partner"].to_numpy(), partner, -1).astype(np.int64),
            "seized": rows["seized"].to_numpy(),
            "clean": rows["clean"].to_numpy(),
        }
    )
    del rows, found
    stats = replay_entities(table)
    del table
    seq_sorted, part_sorted = index
    seq = stats["seq"].to_numpy()
    at = np.minimum(np.searchsorted(seq_sorted, seq), max(len(seq_sorted) - 1, 0))
    hit = (seq_sorted[at] == seq) if len(seq_sorted) else np.zeros(len(seq), dtype=bool)
    stats, owner = stats[hit], part_sorted[at[hit]]
    return {int(p): stats[owner == p] for p in np.unique(owner)}


def with_history(kept: Kept, *pieces: pd.DataFrame | None) -> Kept:
    """A slice's kept rows with their history features, from their stats (its piece of
    each replay partition, None where it has none)."""
    found = [p for p in pieces if p is not None]
    columns = ("seq", "kind", "time", *STATS_FIELDS)
    stats = (
        pd.concat(found, ignore_index=True)
        if found
        else pd.DataFrame({c: np.zeros(0, np.int64) for c in columns})
    )
    order = np.argsort(kept.seq, kind="stable")
    at = order[np.searchsorted(kept.seq[order], stats["seq"].to_numpy())]
    stats = stats.assign(seq=at)
    history = entity_features(stats, 0, len(kept.seq))
    return replace(kept, data=replace(kept.data, history=np.asarray(history, dtype=np.float64)))


def check_schema(path: Path) -> None:
    """The declarations file's columns against the contract (refused naming what is wrong)."""
    try:
        schema = pq.read_schema(path)
    except (OSError, pa.ArrowInvalid) as exc:
        raise DataError(f"{path}: cannot read as Parquet: {exc}") from exc
    _check_schema(schema, DECLARATION_SCHEMA, path)
