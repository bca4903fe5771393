"""A batch run's own parcels counted towards each other, as the service would have counted them.

The service scores a parcel with the history as of before it, then records it. A batch run
reads a snapshot of the store taken at its start, so to see what the service would have seen
each of its parcels needs the counts its entities got from the run's parcels before it: the
run's parcels in the service's order (:data:`RUN_ORDER`: posting time, then item ID, then
manifest row), replayed by entity with the training replay (:func:`replay_entities`) in one
pass before anything is scored (:func:`run_stats`); :class:`RunHistory` adds those counts to
the snapshot's as :meth:`History.observe_frame` would have, parcel after parcel.

As the service records an item once (``observe_frame``), a parcel counts towards later ones
only if its item is not in the snapshot already (a manifest screened again adds nothing) and
it is the item's first parcel in the run's order. A counterpart counts as new for an entity
only where the snapshot holds no link between them. Outcomes are the snapshot's: a run
records none.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .._frame import ParcelFrame
from ._backend import KINDS, HistoryBackend
from ._engine import History
from ._features import column_features
from ._partitioned import replay_entities

#: The order in which the service would have scored a run's parcels, one by one: posting time,
#: then item ID (ties in posting time), then manifest row (an item posted twice at one time).
RUN_ORDER = ("posted_us", "item_id", "row")
#: What a run's parcel got from the run's parcels before it, per entity kind.
RUN_FIELDS = ("parcels", "first_us", "last_us", "partners")
_PART_ROWS = 200_000  # entity rows replayed at a time (whole entities, by key)
Columns = Mapping[str, np.ndarray]


def run_order(
    posted_us: np.ndarray, item_id: pa.Array | pa.ChunkedArray | np.ndarray, row: np.ndarray
) -> np.ndarray:
    """Each parcel's place in :data:`RUN_ORDER` (0: first). ``item_id``: the IDs, or codes
    that sort as they do."""
    table = pa.table({"posted_us": posted_us, "item_id": item_id, "row": row})
    order = pc.sort_indices(table, sort_keys=[(c, "ascending") for c in RUN_ORDER]).to_numpy()
    seq = np.empty(len(order), dtype=np.int64)
    seq[order] = np.arange(len(order), dtype=np.int64)
    return seq


def counting(seq: np.ndarray, item: np.ndarray, in_history: np.ndarray) -> np.ndarray:
    """Which parcels count towards later ones: the first of each item in the run's order,
    unless the item is in the history already (``item``: a code per distinct item ID)."""
    order = np.argsort(seq)
    _, first = np.unique(item[order], return_index=True)
    counts = np.zeros(len(seq), dtype=bool)
    counts[order[first]] = True
    counts &= ~np.asarray(in_history, dtype=bool)
    return counts


def run_stats(
    key: np.ndarray, partner: np.ndarray, seq: np.ndarray, time: np.ndarray, counts: np.ndarray
) -> dict[str, np.ndarray]:
    """Of one entity kind: each parcel's counts from the run's parcels before it.

    ``key``: the parcel's entity (a code; -1: none), ``partner`` its counterpart (-1: none, or
    one the history links to the entity already), ``seq`` its place in the run's order (a
    permutation of 0..n-1), ``time`` its posting time, ``counts`` whether it counts
    (:func:`counting`). Returns :data:`RUN_FIELDS`, one value per parcel (zeros: nothing;
    the counts as int32 where a run's length fits, the times int64). Entities are replayed a
    part at a time (whole entities, by key), so that memory beyond the returned columns stays
    bounded however long the run.
    """
    n = len(key)
    small = np.int32 if n < 2**31 else np.int64  # a count, or a place in the run, fits
    out = {
        name: np.zeros(n, dtype=np.int64 if name.endswith("_us") else small) for name in RUN_FIELDS
    }
    has = key >= 0
    if not has.any():
        return out
    seen = np.bincount(key[has])
    has[has] = seen[key[has]] > 1  # an entity met once in the run gets nothing from it
    del seen
    rows = np.flatnonzero(has)
    del has
    parts = max(1, -(-len(rows) // _PART_ROWS))
    part = key[rows] % parts
    rows = rows[np.argsort(part, kind="stable")]
    bounds = np.concatenate([[0], np.cumsum(np.bincount(part, minlength=parts))])
    del part
    position = np.empty(n, dtype=small)
    position[seq] = np.arange(n, dtype=small)  # each place in the order's parcel
    for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        mine = rows[a:b]
        table = pd.DataFrame(
            {
                "key": key[mine],
                "kind": np.int8(0),
                "seq": seq[mine],
                "time": time[mine],
                "partner": partner[mine],
                "seized": np.int8(0),
                "clean": np.int8(0),
                "counts": counts[mine].astype(np.int8),
            }
        )
        stats = replay_entities(table)
        at = position[stats["seq"].to_numpy()]
        for name in RUN_FIELDS:
            out[name][at] = stats[name].to_numpy()
    return out


def merged(snapshot: Columns, run: Columns) -> dict[str, np.ndarray]:
    """An entity's stats columns in the snapshot plus what the run's earlier parcels added,
    as recording them one by one would have left them (``History._add``)."""
    out = dict(snapshot)
    in_run = run["parcels"] > 0
    if not in_run.any():
        return out
    known = snapshot["parcels"] > 0
    both = known & in_run
    first = np.where(in_run, run["first_us"], snapshot["first_us"])
    last = np.where(in_run, run["last_us"], snapshot["last_us"])
    first[both] = np.minimum(snapshot["first_us"][both], run["first_us"][both])
    last[both] = np.maximum(snapshot["last_us"][both], run["last_us"][both])
    out["parcels"] = snapshot["parcels"] + run["parcels"]
    out["partners"] = snapshot["partners"] + run["partners"]
    out["first_us"], out["last_us"] = first, last
    return out


class RunHistory(History):
    """A run's snapshot plus, for one frame of the run's parcels, what the run's parcels
    before each of them added (:data:`RUN_FIELDS` columns per entity kind, one value per row
    of the frame; a kind not given added nothing).

    :meth:`observe_frame` gives each parcel the features the service would have given it;
    the run's recording was done once for the whole run (:func:`run_stats`), so it records
    nothing. It answers for a whole frame only: the row-at-a-time reads refuse.
    """

    def __init__(self, backend: HistoryBackend, run: Mapping[str, Columns], rows: int) -> None:
        super().__init__(backend)
        self.run = run
        self.rows = rows

    def observe_frame(self, frame: ParcelFrame) -> np.ndarray:
        if len(frame) != self.rows:
            raise ValueError(f"a run history of {self.rows} parcels read for {len(frame)}")
        snapshot = self.snapshot_stats(frame)
        stats = {
            kind: merged(snapshot[kind], self.run[kind]) if kind in self.run else snapshot[kind]
            for kind in KINDS
        }
        return column_features(stats, np.asarray(frame.posted_us, dtype=np.int64))

    def snapshot_features(self, frame: ParcelFrame) -> np.ndarray:
        return self.observe_frame(frame)

    def features(self, tokens: Mapping[str, str], now_us: int) -> list[float]:
        raise TypeError("a run's history is read a whole frame at a time (observe_frame)")
