"""The ranked list built from bounded batches equals the one built from the whole file."""

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from serving.batch._finalise import Capacity, inspection_list, ranking_candidates


def _results(n: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    prob = np.round(rng.random(n) ** 4, 3)  # many ties
    random = rng.random(n) < 0.01
    return pa.table(
        {
            "row": np.arange(1, n + 1),
            "item_id": [f"ID{i:07d}" for i in range(n)],
            "probability": prob,
            "band": ["low"] * n,
            "decision": np.where(random, "inspect", "pass").tolist(),
            "selection_reason": [("random_control" if r else None) for r in random],
            "selection_probability": np.where(random, 0.002, np.nan),
        }
    )


@pytest.mark.parametrize("capacity", ["2%", "150", "0", "100%"])
def test_candidates_give_the_same_ranked_list(tmp_path: Path, capacity: str) -> None:
    table = _results(20_000, seed=len(capacity))
    pq.write_table(table, tmp_path / "results.parquet")
    cap = Capacity.parse(capacity)
    key = b"k" * 32
    whole = inspection_list(table, cap, 0.1, key)
    candidates = ranking_candidates(
        tmp_path / "results.parquet", cap.slots(table.num_rows), batch_rows=3_000
    )
    if capacity in ("2%", "150"):
        assert candidates.num_rows < table.num_rows / 2  # bounded by the capacity, not n
    assert inspection_list(candidates, cap, 0.1, key, scored=table.num_rows).equals(whole)


@pytest.mark.parametrize(
    ("capacity", "scored", "slots"),
    [
        ("2.5%", 100, 3),
        ("3.5%", 100, 4),
        ("2%", 25, 1),
        ("0.5%", 100, 1),
        ("2%", 10, 0),
        ("1.5%", 1000, 15),
        ("7", 5, 5),
        ("100%", 3, 3),
    ],
)
def test_capacity_rounds_halves_up(capacity: str, scored: int, slots: int) -> None:
    assert Capacity.parse(capacity).slots(scored) == slots


def test_random_control_slots_round_halves_up() -> None:
    from serving.batch._finalise import nearest

    assert [nearest(s * 0.10) for s in (4, 5, 15, 25)] == [0, 1, 2, 3]
