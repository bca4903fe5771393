"""Training data: declarations and outcomes read, validated, pseudonymised and featurised.

Nothing here reads the simulator's truth file. Labels come from inspection outcomes only:
a parcel is labelled when it was inspected, positive when something was seized, and each
label carries the time it became known (label delay) and the probability with which the
parcel was selected (for inverse-propensity weights).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from data_contracts import (
    DECLARATION_SCHEMA,
    OUTCOME_SCHEMA,
    InspectionOutcome,
    Problem,
    conform_declarations,
    declaration_column_problems,
    iter_records,
    validate_records,
    validate_table,
)
from screening import HISTORY_FEATURES, KnownOutcome, ParcelFrame, Pseudonymiser, frame_from_table
from screening import replay as replay_history

from ._errors import DataError

if TYPE_CHECKING:
    from screening.exchange import ExchangeInputs, ExchangeSource

Progress = Callable[[str], None]
#: The history replay: parcels and known outcomes in, point-in-time features out (one process
#: or a Dask cluster, the same values).
Replay = Callable[[ParcelFrame, list[KnownOutcome]], np.ndarray]
NEVER = np.iinfo(np.int64).max


@dataclass
class Dataset:
    """Parcels in posting-time order with their history features and observed labels."""

    frame: ParcelFrame
    history: np.ndarray  # (n, len(HISTORY_FEATURES)), as of each parcel's time
    inspected: np.ndarray  # bool
    seized: np.ndarray  # bool (False where not inspected)
    known_us: np.ndarray  # int64 time the outcome was recorded (NEVER if none)
    selection_reason: np.ndarray  # object ("" where not inspected)
    selection_probability: np.ndarray  # float64 (NaN where unknown)
    #: partner-seizure features as of each parcel's time (None: no partners' indicators)
    exchange: ExchangeInputs | None = None

    def __len__(self) -> int:
        return len(self.frame)


def _check_schema(table: pa.Schema, expected: pa.Schema, path: Path) -> None:
    if expected is DECLARATION_SCHEMA:  # a version 1 file's columns pass too
        problems = declaration_column_problems(table)
        if problems:
            raise DataError(f"{path} does not fit the contract: " + "; ".join(problems))
        return
    problems = []
    for field in expected:
        if field.name not in table.names:
            problems.append(f"column {field.name} missing")
        elif not table.field(field.name).type.equals(field.type):
            problems.append(
                f"column {field.name} is {table.field(field.name).type}, expected {field.type}"
            )
    if problems:
        raise DataError(f"{path} does not fit the contract: " + "; ".join(problems))


def _refuse(path: Path, errors: list[Problem], rejected: int, records: int) -> None:
    shown = "\n  ".join(str(p) for p in errors[:20])
    more = len(errors) - 20
    raise DataError(
        f"{path}: {rejected} of {records} records break the contract:\n  {shown}"
        + (f"\n  ... and {more} more" if more > 0 else "")
    )


def _validate(path: Path, table: pa.Table, kind: str, progress: Progress) -> None:
    """Every record against the contract: declarations with the vectorised validator (the
    same rules as the pydantic model, proven equal by its tests), outcomes record by record."""
    if kind == "declaration":
        valid, errors = validate_table(table.select(DECLARATION_SCHEMA.names))
        if errors:
            _refuse(path, errors, int((~valid).sum()), table.num_rows)
    else:
        report = validate_records(InspectionOutcome, iter_records(path, "outcome"))
        if report.errors:
            _refuse(path, report.errors, len(report.rejected), report.records)
    progress(f"validated {table.num_rows} {kind} records")


def read_table(path: Path, kind: str, validate: bool, progress: Progress) -> pa.Table:
    """Read a Parquet file of one contract, checking its schema (and every record)."""
    expected = DECLARATION_SCHEMA if kind == "declaration" else OUTCOME_SCHEMA
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowInvalid) as exc:
        raise DataError(f"{path}: cannot read as Parquet: {exc}") from exc
    _check_schema(table.schema, expected, path)
    if kind == "declaration":
        table = conform_declarations(table)
    if validate:
        _validate(path, table, kind, progress)
    return table.select(expected.names)


def _labels(frame: ParcelFrame, outcomes: pa.Table) -> tuple[np.ndarray, ...]:
    n = len(frame)
    inspected = np.zeros(n, dtype=bool)
    seized = np.zeros(n, dtype=bool)
    known = np.full(n, NEVER, dtype=np.int64)
    reason = np.full(n, "", dtype=object)
    propensity = np.full(n, np.nan)
    outcomes = outcomes.filter(pc.field("inspected"))
    # One outcome per item: the one recorded last (a lab result correcting an earlier record),
    # whatever the file order; ties keep the later row.
    recorded = outcomes.column("recorded_at").cast(pa.int64()).to_numpy()
    order = np.argsort(recorded, kind="stable")
    _, last = np.unique(
        np.asarray(outcomes.column("item_id").take(pa.array(order)))[::-1], return_index=True
    )
    outcomes = outcomes.take(pa.array(np.sort(order[::-1][last])))
    rows = pc.index_in(outcomes.column("item_id"), pa.array(frame.item_id, pa.string()))
    rows_np = rows.to_numpy(zero_copy_only=False)
    matched = ~np.isnan(rows_np.astype(np.float64))
    idx = rows_np[matched].astype(np.int64)
    inspected[idx] = True
    seized[idx] = outcomes.column("result").to_numpy(zero_copy_only=False)[matched] == "seized"
    known[idx] = outcomes.column("recorded_at").cast(pa.int64()).to_numpy()[matched]
    reason[idx] = np.asarray(
        pc.fill_null(outcomes.column("selection_reason"), "").to_numpy(zero_copy_only=False)
    )[matched]
    probs = pc.fill_null(outcomes.column("selection_probability"), np.nan).to_numpy()
    propensity[idx] = probs[matched]
    return inspected, seized, known, reason, propensity


def not_unique(declarations: Path, item_ids: list[str]) -> str:
    """The refusal of a declarations file that gives item IDs more than once, naming some."""
    shown = ", ".join(item_ids[:5]) + (" ..." if len(item_ids) > 5 else "")
    return f"{declarations}: item IDs are not unique: each given more than once: {shown}"


def unmatched_outcomes(outcomes: pa.Table, declarations: Path | pa.ChunkedArray) -> list[str]:
    """Item IDs of outcome records that name no declared item, sorted. ``declarations``: the
    declared IDs where they are in memory already, else the file, whose IDs are read a batch
    at a time (no table of them all is held)."""
    if isinstance(declarations, pa.ChunkedArray):
        ids = outcomes.column("item_id")
        return sorted(set(ids.filter(pc.invert(pc.is_in(ids, value_set=declarations))).to_pylist()))
    left = set(outcomes.column("item_id").to_pylist())
    with pq.ParquetFile(declarations) as f:
        for batch in f.iter_batches(columns=["item_id"], batch_size=500_000):
            if not left:
                break
            left.difference_update(batch.column(0).to_pylist())
    return sorted(left)


def unmatched_warning(item_ids: list[str]) -> str:
    """The line that says outcome records were not used, naming the first of them."""
    shown = ", ".join(item_ids[:5]) + (
        f" and {len(item_ids) - 5} more" if len(item_ids) > 5 else ""
    )
    return (
        f"warning: {len(item_ids)} outcome record(s) name no declared item and are not used: "
        f"{shown}"
    )


def load_dataset(
    declarations: Path,
    outcomes: Path,
    pseudonymiser: Pseudonymiser,
    validate: bool = True,
    progress: Progress = lambda _msg: None,
    replay: Replay = replay_history,
    exchange: ExchangeSource | None = None,
) -> Dataset:
    """Read, validate, pseudonymise and compute point-in-time history for a data set; with
    ``exchange``, the partner-seizure features of every parcel too, point in time (refused,
    naming why, where a parcel's tokens cannot be had: a model is never trained on hits
    silently missing)."""
    table = read_table(declarations, "declaration", validate, progress)
    outcome_table = read_table(outcomes, "outcome", validate, progress)
    ids = table.column("item_id")
    unmatched = unmatched_outcomes(outcome_table, ids)  # the IDs read already, not again
    if unmatched:  # said, never dropped silently
        progress(unmatched_warning(unmatched))
    if pc.count_distinct(ids).as_py() != table.num_rows:
        counts = pc.value_counts(ids)
        twice = pc.filter(counts.field("values"), pc.greater(counts.field("counts"), 1))
        raise DataError(not_unique(declarations, sorted(twice.to_pylist())))
    table = table.take(
        pc.sort_indices(table, [("posted_at", "ascending"), ("item_id", "ascending")])
    )
    progress(f"pseudonymising and flattening {table.num_rows} declarations")
    frame = frame_from_table(table, pseudonymiser)
    inspected, seized, known, reason, propensity = _labels(frame, outcome_table)
    known_outcomes = [
        KnownOutcome(str(frame.item_id[i]), int(known[i]), bool(seized[i]), not seized[i])
        for i in np.flatnonzero(inspected)
    ]
    progress(f"replaying history of {len(frame)} parcels and {len(known_outcomes)} outcomes")
    history = replay(frame, known_outcomes)
    assert history.shape[1] == len(HISTORY_FEATURES)
    partners = None
    if exchange is not None:
        progress(f"matching {len(frame)} parcels against partners' seizures (exchange tokens)")
        partners = exchange.inputs(
            table.select(["sender", "recipient"]).to_pylist(),
            np.asarray(frame.posted_us, dtype=np.int64),
        )
        failed = [why for why in partners.unavailable if why is not None]
        if failed:
            raise DataError(
                f"{declarations}: partner-seizure features of {len(failed)} parcels could not "
                f"be computed ({failed[0]}); train without partners' indicators, or when the "
                "custodians answer"
            )
        hits = int(partners.matrix[:, 0].sum())
        progress(f"{hits} parcels match a partner's seizure known by their posting time")
    return Dataset(frame, history, inspected, seized, known, reason, propensity, partners)
