"""The replay by entity (what training runs in partitions on Dask) equals the replay, value for
value, on streams built to hit its rules: ties in time, outcomes before their item, outcomes of
unknown items, corrections, parcels with no entity of a kind, a frame out of time order."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from screening import ParcelFrame
from screening.history import KnownOutcome, replay
from screening.history._partitioned import (
    entity_features,
    entity_table,
    replay_by_entity,
    replay_entities,
)
from tests.screening.helpers import stream

_HOUR_US = 3_600_000_000


def _random_case(seed: int) -> tuple[ParcelFrame, list[KnownOutcome]]:
    rng = np.random.default_rng(seed)
    n = 120
    hours = rng.integers(0, 60, n).astype(float)  # many ties
    senders = [f"Sender {i}" for i in rng.integers(0, 7, n)]
    streets = [f"{i} Long Road" for i in rng.integers(0, 9, n)]
    frame = stream(list(zip(hours.tolist(), senders, streets, strict=True)))
    t0 = int(frame.posted_us.min())
    outcomes = []
    for _ in range(70):
        row = int(rng.integers(0, n + 5))  # some of items the frame lacks
        item = str(frame.item_id[row]) if row < n else f"XX{row:09d}NL"
        at = t0 + int(rng.integers(-5, 70)) * _HOUR_US  # some before their item was posted
        result = int(rng.integers(0, 3))
        outcomes.append(KnownOutcome(item, at, seized=result == 0, clean=result == 1))
    return frame, outcomes


@pytest.mark.parametrize("seed", range(6))
def test_replay_by_entity_equals_the_replay(seed: int) -> None:
    frame, outcomes = _random_case(seed)
    expected = replay(frame, outcomes)
    assert np.array_equal(replay_by_entity(frame, outcomes), expected, equal_nan=True)
    assert (expected[:, 3] > 0).any(), "the case must count some seizures"


def test_parcels_without_an_entity_of_a_kind() -> None:
    frame, outcomes = _random_case(7)
    tokens = dict(frame.tokens)
    for kind in ("sender", "recipient_address"):
        column = tokens[kind].copy()
        column[::3] = ""
        tokens[kind] = column
    frame = replace(frame, tokens=tokens)
    assert np.array_equal(
        replay_by_entity(frame, outcomes), replay(frame, outcomes), equal_nan=True
    )


@pytest.mark.parametrize("partitions", [2, 5])
def test_any_partition_by_entity_gives_the_same_features(partitions: int) -> None:
    """Whole entities replayed apart, then joined back on the parcel: the same features."""
    frame, outcomes = _random_case(11)
    table = entity_table(frame, outcomes)
    parts = [replay_entities(table[table["key"] % partitions == p]) for p in range(partitions)]
    stats = pd.concat(parts, ignore_index=True)
    n = len(frame)
    order = np.argsort(frame.posted_us, kind="stable")
    seq = np.empty(n, dtype=np.int64)
    seq[order] = np.arange(n)
    half = n // 2  # two blocks of parcels joined separately
    blocks = [
        entity_features(stats[(stats["seq"] >= a) & (stats["seq"] < b)], a, b - a)
        for a, b in ((0, half), (half, n))
    ]
    got = np.vstack(blocks)[seq]
    assert np.array_equal(got, replay(frame, outcomes), equal_nan=True)


def test_repeated_item_ids_are_refused() -> None:
    frame = stream([(0, "Ann", "1 A St"), (1, "Bob", "2 B St")])
    ids = frame.item_id.copy()
    ids[1] = ids[0]
    with pytest.raises(ValueError, match="item IDs are not unique"):
        entity_table(replace(frame, item_id=ids), [])
