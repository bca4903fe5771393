"""A batch run's partner-seizure inputs read back by manifest row (``_in_run.run_exchange``):
what its recording stores as each parcel's partner features and hits is what the parcel's
prepared chunk (or Dask piece) kept and was scored with, whichever chunks the rows are read
back in."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.feather as feather

from screening.exchange import EXCHANGE_FEATURES, ExchangeInputs, Hit
from serving.batch._in_run import (
    exchange_path,
    folder,
    frame_path,
    run_exchange,
    take_exchange,
)

HIT = Hit(
    "nl",
    "nl:0123456789abcdef01234567",
    "2026-02",
    "stimulants",
    "10-100 g",
    "B",
    "2",
    "H1",
    "recipient",
    "address",
    0,
    ("recipient address",),
)
WIDTH = len(EXCHANGE_FEATURES)


def _prepared(out: Path, index: int, first: int, read: int, rows: list[int]) -> None:
    """A prepared chunk's kept frame, as far as the read-back looks: its rows and range."""
    table = pa.table({"row": pa.array(rows, pa.int64())})
    meta = {b"first_row": str(first).encode(), b"rows": str(read).encode()}
    feather.write_feather(table.replace_schema_metadata(meta), frame_path(out, index))


def _kept(out: Path, index: int, inputs: ExchangeInputs) -> None:
    feather.write_feather(inputs.to_arrow(), exchange_path(out, index))


def _row(value: float) -> np.ndarray:
    return np.full(WIDTH, value)


def test_partner_inputs_are_read_back_by_manifest_row(tmp_path: Path) -> None:
    folder(tmp_path).mkdir(parents=True)
    # chunk 0: records 1-4, 2 quarantined; row 3 had a hit
    _prepared(tmp_path, 0, 1, 4, [1, 3, 4])
    _kept(
        tmp_path,
        0,
        ExchangeInputs(np.stack([_row(0), _row(1), _row(0)]), [[], [HIT], []], [None] * 3),
    )
    # chunk 1: records 5-6, every one quarantined
    _prepared(tmp_path, 1, 5, 2, [])
    _kept(tmp_path, 1, ExchangeInputs(np.zeros((0, WIDTH)), [], []))
    # chunk 2: records 7-9; row 9 not checked
    _prepared(tmp_path, 2, 7, 3, [7, 9])
    _kept(tmp_path, 2, ExchangeInputs(np.stack([_row(2), _row(0)]), [[], []], [None, "refused"]))
    # chunk 3: record 10, kept no inputs (scored without them)
    _prepared(tmp_path, 3, 10, 1, [10])

    rows = np.array([9, 3, 10, 7, 1])  # across chunks, in another order (a recorded slice)
    inputs = run_exchange(tmp_path, rows)
    assert inputs is not None
    np.testing.assert_array_equal(
        inputs.matrix, np.stack([_row(0), _row(1), _row(0), _row(2), _row(0)])
    )
    assert inputs.hits == [[], [HIT], [], [], []]
    assert inputs.unavailable == [
        "refused",
        None,
        "the parties were not given to the scorer",
        None,
        None,
    ]
    picked = take_exchange(inputs, np.array([1, 3]))
    np.testing.assert_array_equal(picked.matrix, np.stack([_row(1), _row(2)]))
    assert picked.hits == [[HIT], []]
    assert picked.facts(0) == inputs.facts(1)  # the hit's words, as when it was scored


def test_a_run_whose_model_reads_no_partner_features_has_no_inputs(tmp_path: Path) -> None:
    folder(tmp_path).mkdir(parents=True)
    _prepared(tmp_path, 0, 1, 2, [1, 2])
    assert run_exchange(tmp_path, np.array([1, 2])) is None
