"""The end of a run: merged results and quarantine, the inspection list, drift, summary.

Everything here is computed from the part files and the journal, so finalising a resumed run
or a Dask run gives the same files as an uninterrupted single-process run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from screening import DRIFT_MIN_ROWS, histogram_alarms, psi_from_counts, uniform_draws

from ._read import QUARANTINE_SCHEMA
from ._score import RESULT_SCHEMA
from ._state import ChunkDone, RunState, write_atomic


def nearest(x: float) -> int:
    """``x`` rounded to the nearest whole number, halves up (Python's ``round`` sends halves to
    the even number, so 2.5% of 100 items gave 2 slots and 3.5% gave 4); a share computed
    in floating point (0.035 * 100 = 3.5000000000000004) rounds as written."""
    return int(math.floor(x + 0.5 + 1e-9))


@dataclass(frozen=True)
class Capacity:
    """Inspection capacity: a share of the scored flow (``2%``) or a number of items."""

    share: float | None = None
    items: int | None = None

    @classmethod
    def parse(cls, text: str) -> Capacity:
        text = text.strip()
        try:
            if text.endswith("%"):
                share = float(text[:-1]) / 100
                if not 0 < share <= 1:
                    raise ValueError
                return cls(share=share)
            items = int(text)
            if items < 0:
                raise ValueError
            return cls(items=items)
        except ValueError:
            raise ValueError(
                f"capacity must be a share like 2% (0-100%) or a number of items; got {text!r}"
            ) from None

    def slots(self, scored: int) -> int:
        return min(
            scored, self.items if self.items is not None else nearest((self.share or 0) * scored)
        )

    def __str__(self) -> str:
        return f"{self.share * 100:g}%" if self.share is not None else str(self.items)


def _merge(state: RunState, kind: str, schema: pa.Schema, out: Path, csv: bool) -> None:
    chunks = [c.chunk for c in state.finished()]

    def write_parquet(tmp: Path) -> None:
        with pq.ParquetWriter(tmp, schema) as writer:
            for chunk in chunks:
                writer.write_table(pq.read_table(state.part(kind, chunk)).cast(schema))

    write_atomic(out.with_suffix(".parquet"), write_parquet)
    if not csv:
        return

    def write_csv(tmp: Path) -> None:
        flat = _csv_schema(schema)
        with pacsv.CSVWriter(tmp, flat) as writer:
            for chunk in chunks:
                writer.write_table(_flatten(pq.read_table(state.part(kind, chunk)), flat))

    write_atomic(out.with_suffix(".csv"), write_csv)


def _csv_schema(schema: pa.Schema) -> pa.Schema:
    return pa.schema([pa.field(f.name, pa.string()) if f.name == "reasons" else f for f in schema])


def _flatten(table: pa.Table, flat: pa.Schema) -> pa.Table:
    """Reasons as one text column for CSV: ``Label (+0.42): sentence | ...``."""
    if "reasons" not in table.column_names:
        return table
    text = [
        None
        if r is None
        else " | ".join(f"{x['label']} ({x['contribution']:+.2f}): {x['sentence']}" for x in r)
        for r in table.column("reasons").to_pylist()
    ]
    index = table.column_names.index("reasons")
    return table.set_column(index, "reasons", pa.array(text, pa.string())).cast(flat)


RANKING_COLUMNS = [
    "row",
    "item_id",
    "probability",
    "band",
    "decision",
    "selection_reason",
    "selection_probability",
]


def ranking_candidates(path: Path, slots: int, batch_rows: int = 200_000) -> pa.Table:
    """The rows of a results file that can enter the ranked list, read in bounded batches.

    Per batch: every random-control row, and every row scoring at least the batch's
    ``slots``-th highest probability (ties kept). The list's top rows are always among them,
    so memory follows the capacity, not the manifest.
    """
    kept = []
    for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_rows, columns=RANKING_COLUMNS):
        prob = batch.column("probability").to_numpy(zero_copy_only=False)
        keep = pc.fill_null(
            pc.equal(batch.column("selection_reason"), "random_control"), False
        ).to_numpy(zero_copy_only=False)
        if slots > 0 and len(prob):
            cut = np.partition(prob, max(len(prob) - slots, 0))[max(len(prob) - slots, 0)]
            keep = keep | (prob >= cut)
        kept.append(pa.Table.from_batches([batch]).filter(pa.array(keep)))
    if not kept:
        return pa.Table.from_batches([], schema=pq.read_schema(path)).select(RANKING_COLUMNS)
    return pa.concat_tables(kept)


def inspection_list(
    results: pa.Table,
    capacity: Capacity,
    random_share: float,
    key: bytes,
    scored: int | None = None,
) -> pa.Table:
    """Ranked list for the capacity: random-control slots first filled, the rest by score.

    ``nearest(slots * random_share)`` slots go to parcels the policy drew as random control
    (the earliest keyed draws first); the others to the highest probabilities. ``scored`` is
    the number of scored rows when ``results`` holds only the candidates.
    """
    slots = capacity.slots(results.num_rows if scored is None else scored)
    ids = results.column("item_id").to_numpy(zero_copy_only=False)
    prob = results.column("probability").to_numpy()
    rows = results.column("row").to_numpy()
    random_rows = np.flatnonzero(
        pc.fill_null(
            pc.equal(results.column("selection_reason"), "random_control"), False
        ).to_numpy(zero_copy_only=False)
    )
    draws = uniform_draws(key, ids[random_rows])
    random_rows = random_rows[np.argsort(draws, kind="stable")][: nearest(slots * random_share)]
    rest = np.setdiff1d(np.arange(results.num_rows), random_rows)
    by_score = rest[np.lexsort((rows[rest], -prob[rest]))][: slots - len(random_rows)]
    chosen = np.concatenate([by_score, random_rows]).astype(np.int64)
    picked = results.take(pa.array(chosen)).select(
        ["row", "item_id", "probability", "band", "decision", "selection_probability"]
    )
    selection = ["model"] * len(by_score) + ["random_control"] * len(random_rows)
    sel_prob = np.concatenate(
        [np.ones(len(by_score)), picked.column("selection_probability").to_numpy()[len(by_score) :]]
    )
    picked = picked.drop_columns(["selection_probability"])
    return (
        picked.append_column("selection", pa.array(selection, pa.string()))
        .append_column("selection_probability", pa.array(sel_prob, pa.float64()))
        .add_column(0, "rank", pa.array(np.arange(1, len(chosen) + 1), pa.int64()))
    )


def drift(reference: dict[str, Any], done: list[ChunkDone]) -> dict[str, Any]:
    """The run's drift check from the summed chunk counts: ``screening.histogram_alarms``,
    the rules of the service's drift alarms (at least ``DRIFT_MIN_ROWS`` rows, calendar and
    growing history features not compared by level, significant and material). ``drifted``
    is None when not measured (``note`` says why), never an empty list that reads "no drift";
    PSI of every feature is kept for information."""
    total = sum(c.scored for c in done)
    sums: dict[str, np.ndarray] = {}
    for chunk in done:
        for name, counts in chunk.drift.items():
            sums[name] = sums.get(name, 0) + np.asarray(counts, dtype=np.float64)
    check = histogram_alarms(reference, sums, total)
    features = {
        name: psi_from_counts(reference["features"][name], counts)
        for name, counts in sums.items()
        if name != "__score__" and name in reference.get("features", {})
    }
    alarms = [a for a in check.alarms if a.feature != "score"]
    moved = any(a.feature == "score" for a in check.alarms)
    listed = [{"feature": a.feature, "psi": a.psi, "p_value": a.p_value} for a in check.alarms]
    return {
        "rows": total,
        "measured": check.measured,
        "note": check.note,
        "min_rows": DRIFT_MIN_ROWS,
        "drifted": [a.feature for a in alarms] if check.measured else None,
        "score_drifted": moved if check.measured else None,
        "alarms": listed,
        "not_compared": {kind: list(names) for kind, names in check.skipped.items()},
        "score_psi": psi_from_counts(reference["score"], sums["__score__"]) if total else None,
        "feature_psi": features,
    }


def finalise(state: RunState, csv: bool) -> None:
    """Merge the parts into ``results`` and ``quarantine`` (Parquet; CSV also if asked)."""
    _merge(state, "results", RESULT_SCHEMA, state.out / "results.parquet", csv)
    _merge(state, "quarantine", QUARANTINE_SCHEMA, state.out / "quarantine.parquet", True)


def write_table(table: pa.Table, path: Path, csv: bool) -> None:
    write_atomic(path, lambda tmp: pq.write_table(table, tmp))
    if csv:
        write_atomic(path.with_suffix(".csv"), lambda tmp: pacsv.write_csv(table, tmp))
