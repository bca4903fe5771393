"""A batch run's counts of its own parcels (issue 18) equal the service's, value for value.

The service scores a parcel with the history as of before it, then records it
(``History.observe_frame`` of that one parcel). A batch run keeps each chunk's frame, counts
the run's parcels in one ordered pass, and scores each chunk against the snapshot plus those
counts (``serving.batch._in_run``). On streams built to hit the rules: entities shared with
the snapshot and within the run, counterparts the snapshot already links, items already in
the snapshot (a manifest screened again), an item twice in the run, ties in posting time, a
manifest out of time order cut into chunks, parcels with no sender; memory and SQLite
snapshots (the SQL reads the partner links itself).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import cast

import numpy as np
import pyarrow as pa
import pytest

from data_contracts import ParcelDeclaration, make_s10, to_table
from screening import (
    HISTORY_FEATURES,
    History,
    HistoryBackend,
    MemoryBackend,
    ParcelFrame,
    Pseudonymiser,
    ScoringEngine,
    SQLiteBackend,
    copy_history,
    frame_from_declarations,
    frame_from_table,
)
from screening.history import RUN_ORDER
from screening.history import _in_run as in_run
from serving.batch import _in_run as batch_in_run
from serving.batch._in_run import count, frame_of, prepare, run_history
from serving.batch._read import QUARANTINE_SCHEMA, Chunk
from tests.factories import declaration
from tests.screening.helpers import KEY, T0


@dataclass
class _Engine:
    """What the steps read of an engine: its frame builder, its history, and its partner
    inputs (none: a model that reads no partner features)."""

    history: History

    def frame(self, table: pa.Table) -> ParcelFrame:
        return frame_from_table(table, Pseudonymiser(KEY))

    def exchange_inputs(self, parties: pa.Table, frame: ParcelFrame) -> None:
        return None


def _declarations(seed: int, n: int, first_serial: int) -> list[ParcelDeclaration]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        sender = f"Sender {rng.integers(0, 6)}" if rng.random() > 0.1 else ""
        record = declaration(
            item_id=make_s10("RR", first_serial + i, "NL"),
            posted_at=(T0 + timedelta(hours=int(rng.integers(0, 40)))).isoformat(),  # ties
            **{
                "sender.name": sender or "-",  # "-": no sender entity
                "recipient.street": f"{rng.integers(0, 8)} Long Road",
                "recipient.name": f"Recipient {rng.integers(0, 5)}",
            },
        )
        out.append(ParcelDeclaration.model_validate(record))
    return out


def _snapshot(kind: str, past: list[ParcelDeclaration], tmp_path: Path) -> HistoryBackend:
    memory = MemoryBackend()
    History(memory).observe_frame(frame_from_declarations(past, Pseudonymiser(KEY)))
    if kind == "memory":
        return memory
    sqlite = SQLiteBackend(tmp_path / "snapshot.sqlite")
    copy_history(memory, sqlite)
    return sqlite


def _service(backend: MemoryBackend, run: list[ParcelDeclaration]) -> np.ndarray:
    """The service's features of each parcel of the run (in the run's rows), scoring them
    one by one in ``RUN_ORDER`` against a copy of the snapshot."""
    history = History(copy.deepcopy(backend))
    order = sorted(range(len(run)), key=lambda i: (run[i].posted_at, run[i].item_id, i))
    out = np.empty((len(run), len(HISTORY_FEATURES)))
    for i in order:
        out[i] = history.observe_frame(frame_from_declarations([run[i]], Pseudonymiser(KEY)))[0]
    return out


# 7: entities replayed in many parts, and each column's values encoded in many ranges
@pytest.mark.parametrize("part_rows", [None, 7])
@pytest.mark.parametrize("store", ["memory", "sqlite"])
@pytest.mark.parametrize("seed", range(3))
def test_a_run_counts_its_parcels_as_the_service_does(
    store: str, seed: int, part_rows: int | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert RUN_ORDER == ("posted_us", "item_id", "row")
    if part_rows is not None:
        monkeypatch.setattr(in_run, "_PART_ROWS", part_rows)
        monkeypatch.setattr(batch_in_run, "_PART_ROWS", part_rows)
    past = _declarations(seed, 60, 10_000_000)
    fresh = _declarations(seed + 100, 90, 20_000_000)
    again = past[5:12]  # screened again: in the snapshot already, counted once
    twice = fresh[3:6]  # an item twice in the run
    run = fresh + again + twice
    rng = np.random.default_rng(seed)
    run = [run[i] for i in rng.permutation(len(run))]  # out of time order

    memory = MemoryBackend()
    History(memory).observe_frame(frame_from_declarations(past, Pseudonymiser(KEY)))
    expected = _service(memory, run)

    backend = _snapshot(store, past, tmp_path)
    engine = cast(ScoringEngine, _Engine(History(backend)))
    out = tmp_path / "out"
    table = to_table(run, "declaration")
    cuts = [0, 17, 18, 70, len(run)]  # chunks of any size, one of a single row
    for index, (a, b) in enumerate(zip(cuts, cuts[1:], strict=False)):
        rows = np.arange(a + 1, b + 1, dtype=np.int64)
        chunk = Chunk(index, a + 1, b - a, table.slice(a, b - a), rows, _empty_quarantine())
        prepare(engine, out, chunk)
    count(out, list(range(len(cuts) - 1)), backend)
    got = np.empty_like(expected)
    for index in range(len(cuts) - 1):
        frame, chunk = frame_of(out, index)
        history = run_history(engine, out, chunk.row_numbers)
        got[chunk.row_numbers - 1] = history.observe_frame(frame)
    assert np.array_equal(got, expected, equal_nan=True)
    assert (expected[:, 0] > 0).any() and (expected[:, 5] > 1).any()  # counts and partners
    backend.close()


def _empty_quarantine() -> pa.Table:
    return QUARANTINE_SCHEMA.empty_table()
