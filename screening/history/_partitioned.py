"""The training replay cut by entity, so that it can run in partitions (on Dask, say).

Every entity's stats depend only on the parcels and outcomes of that entity: its parcels
(count, first and last time, distinct counterparts) and the outcome changes of its items. So
the stream is split into one table row per (parcel, entity kind with a token) and one per
(outcome change, entity of the item), keyed by entity; any partition that holds whole
entities (a hash of the key) replays them alone, in time order within each entity
(:func:`replay_entities`); the stats of a parcel's entities are then joined back on its
sequence number and turned into features (:func:`entity_features`).

Equal to :func:`replay` from an empty history, value for value (a test holds it so), under
its rules: parcels in posting-time order (ties in frame order); an outcome recorded at T
counts for parcels posted strictly after T, and only if its item was posted by T (else the
item was unknown when the outcome came); an item's later outcome corrects its earlier one.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from .._frame import ParcelFrame
from ._backend import KINDS, OUTCOME_COUNTS, outcome_code
from ._engine import KnownOutcome
from ._features import STATS_FIELDS, column_features

#: Entity kinds in a fixed order: a table row's ``kind`` is the index here.
KIND_NAMES: tuple[str, ...] = tuple(KINDS)
#: Columns of the entity table: ``key`` names the entity (unique over kinds), ``seq`` the
#: parcel's place in time order (-1 on an outcome row), ``time`` its posting time or the
#: outcome's recording time, ``partner`` the counterpart's code (-1: none), ``seized`` and
#: ``clean`` an outcome row's change of the entity's counts.
TABLE_COLUMNS = ("key", "kind", "seq", "time", "partner", "seized", "clean")


def time_order(frame: ParcelFrame) -> np.ndarray:
    """Each row's place in the replay's order (posting time, ties in frame order)."""
    order = np.argsort(frame.posted_us, kind="stable")
    seq = np.empty(len(order), dtype=np.int64)
    seq[order] = np.arange(len(order), dtype=np.int64)
    return seq


def _codes(values: np.ndarray) -> np.ndarray:
    """Code of each row's token (-1: empty token, no entity)."""
    codes, distinct = pd.factorize(np.asarray(values, dtype=object))
    codes = np.asarray(codes, dtype=np.int64)
    empty = np.flatnonzero(np.asarray(distinct, dtype=object) == "")
    if len(empty):
        codes[codes == empty[0]] = -1
    return codes


def _kind_codes(frame: ParcelFrame) -> dict[str, np.ndarray]:
    codes = {kind: _codes(frame.tokens[kind]) for kind in KIND_NAMES if kind in frame.tokens}
    s, r = codes["sender"], codes["recipient"]
    both = (s >= 0) & (r >= 0)
    pair = np.full(len(s), -1, dtype=np.int64)
    if both.any():
        pair[both] = np.unique(s[both] * (int(r.max()) + 1) + r[both], return_inverse=True)[1]
    codes["pair"] = pair
    return codes


def outcome_changes(frame: ParcelFrame, outcomes: Iterable[KnownOutcome]) -> pd.DataFrame:
    """What each applied outcome changes in its item's counts: row, time, seized, clean.

    Outcomes in recording order (ties in the given order); one of an item not in the frame,
    or recorded before the item was posted, is never applied; each applied one moves the
    counts from what the item's previous one counted.
    """
    known = list(outcomes)
    rows = pd.Index(frame.item_id).get_indexer([o.item_id for o in known])
    table = pd.DataFrame(
        {
            "row": rows.astype(np.int64),
            "time": np.array([o.known_us for o in known], dtype=np.int64),
            "seized": np.zeros(len(known), dtype=np.int8),
            "clean": np.zeros(len(known), dtype=np.int8),
        }
    )
    counts = [OUTCOME_COUNTS[outcome_code(o.seized, o.clean)] for o in known]
    table["seized"] = np.array([c[0] for c in counts], dtype=np.int8)
    table["clean"] = np.array([c[1] for c in counts], dtype=np.int8)
    table = table.sort_values("time", kind="stable")
    table = table[table["row"] >= 0]
    posted = np.asarray(frame.posted_us, dtype=np.int64)
    table = table[posted[table["row"].to_numpy()] <= table["time"].to_numpy()]
    before = table.groupby("row", sort=False)[["seized", "clean"]].shift(1, fill_value=0)
    table[["seized", "clean"]] = table[["seized", "clean"]] - before
    changed: pd.DataFrame = table[(table["seized"] != 0) | (table["clean"] != 0)]
    return changed.reset_index(drop=True)


def entity_table(frame: ParcelFrame, outcomes: Iterable[KnownOutcome]) -> pd.DataFrame:
    """The stream as rows keyed by entity (columns :data:`TABLE_COLUMNS`)."""
    if len(set(frame.item_id.tolist())) != len(frame):
        raise ValueError("item IDs are not unique: the replay by entity needs one row an item")
    seq, codes = time_order(frame), _kind_codes(frame)
    posted = np.asarray(frame.posted_us, dtype=np.int64)
    changes = outcome_changes(frame, outcomes)
    change_rows = changes["row"].to_numpy()
    parts, offset = [], 0
    for index, kind in enumerate(KIND_NAMES):
        code = codes.get(kind, np.full(len(frame), -1, dtype=np.int64))
        partner_kind = KINDS[kind]
        partner = codes[partner_kind] if partner_kind else np.full(len(frame), -1, np.int64)
        has = np.flatnonzero(code >= 0)
        parts.append(
            pd.DataFrame(
                {
                    "key": code[has] + offset,
                    "kind": np.int8(index),
                    "seq": seq[has],
                    "time": posted[has],
                    "partner": partner[has],
                    "seized": np.int8(0),
                    "clean": np.int8(0),
                }
            )
        )
        linked = code[change_rows] >= 0
        parts.append(
            pd.DataFrame(
                {
                    "key": code[change_rows][linked] + offset,
                    "kind": np.int8(index),
                    "seq": np.int64(-1),
                    "time": changes["time"].to_numpy()[linked],
                    "partner": np.int64(-1),
                    "seized": changes["seized"].to_numpy()[linked],
                    "clean": changes["clean"].to_numpy()[linked],
                }
            )
        )
        offset += int(code.max(initial=-1)) + 1
    return pd.concat(parts, ignore_index=True)[list(TABLE_COLUMNS)]


def replay_entities(table: pd.DataFrame) -> pd.DataFrame:
    """Each parcel row's entity stats as they stood just before it: one partition of an
    :func:`entity_table` that holds whole entities (every row of each key it has).

    Columns ``seq``, ``kind``, ``time`` and :data:`STATS_FIELDS`, one row per parcel row.
    An optional ``counts`` column (0 or 1) marks the parcel rows that count towards later
    ones (a batch run's parcel already in the history, or an item posted twice, does not);
    a row that does not count is still given its stats. Without it every parcel counts.
    """
    # Within an entity: by time; an outcome after the parcels of its own time (it counts
    # only for later ones); parcels of one time in replay order. An entity's first row is
    # a parcel (an outcome is applied only to an item posted by then).
    t = table.assign(outcome=(table["seq"].to_numpy() < 0).astype(np.int8))
    t = t.sort_values(["key", "time", "outcome", "seq"], kind="stable")
    n = len(t)
    key, time = t["key"].to_numpy(), t["time"].to_numpy()
    is_parcel = t["outcome"].to_numpy() == 0
    counted = is_parcel
    if "counts" in t.columns:
        counted = is_parcel & (t["counts"].to_numpy() != 0)
    start = np.ones(n, dtype=bool)
    start[1:] = key[1:] != key[:-1]
    first = np.flatnonzero(start)
    group = np.cumsum(start) - 1  # each row's entity, numbered in order
    group_first = first[group]  # index of each row's entity's first row

    def before(values: np.ndarray) -> np.ndarray:
        """Sum of ``values`` over the rows of the same entity before each row."""
        total: np.ndarray = np.cumsum(values, dtype=np.int64) - values
        return np.asarray(total - total[group_first], dtype=np.int64)

    partner = np.where(counted, t["partner"].to_numpy(), -1)  # a link counts once counted
    fresh = counted & (partner >= 0) & ~pd.DataFrame({"k": key, "p": partner}).duplicated()
    parcel_at = np.where(counted, np.arange(n), -1)
    last = np.full(n, -1, dtype=np.int64)
    last[1:] = np.maximum.accumulate(parcel_at)[:-1]  # the last counted row before each row
    # each entity's first counted row (its first row, where every parcel counts)
    first_counted = (
        np.minimum(np.minimum.reduceat(np.where(counted, np.arange(n), n), first), n - 1)
        if n
        else first
    )
    parcels = before(counted.astype(np.int64))
    seen = parcels > 0
    out = pd.DataFrame(
        {
            "seq": t["seq"].to_numpy(),
            "kind": t["kind"].to_numpy(),
            "time": time,
            "parcels": parcels,
            "first_us": np.where(seen, time[first_counted[group]], 0),
            "last_us": np.where(seen, time[np.maximum(last, 0)], 0),
            "seizures": before(t["seized"].to_numpy().astype(np.int64)),
            "clean": before(t["clean"].to_numpy().astype(np.int64)),
            "partners": before(np.asarray(fresh, dtype=np.int64)),
        }
    )
    parcels_only: pd.DataFrame = out[is_parcel]
    return parcels_only.reset_index(drop=True)


def entity_features(stats: pd.DataFrame, first_seq: int, rows: int) -> np.ndarray:
    """History features of the parcels ``first_seq`` .. ``first_seq + rows - 1`` (in replay
    order) from their entities' stats (:func:`replay_entities` rows of those parcels)."""
    columns: dict[str, dict[str, np.ndarray]] = {}
    now = np.zeros(rows, dtype=np.int64)  # a parcel with no entity: no time needed
    at = stats["seq"].to_numpy() - first_seq
    kind = stats["kind"].to_numpy()
    for index, name in enumerate(KIND_NAMES):
        mine = kind == index
        place = at[mine]
        now[place] = stats["time"].to_numpy()[mine]
        columns[name] = {}
        for field in STATS_FIELDS:
            column = np.zeros(rows, dtype=np.int64)
            column[place] = stats[field].to_numpy()[mine]
            columns[name][field] = column
    return column_features(columns, now)


def replay_by_entity(frame: ParcelFrame, outcomes: Iterable[KnownOutcome]) -> np.ndarray:
    """:func:`replay` from an empty history, computed by entity in one partition: an (n, k)
    float64 matrix in frame order."""
    stats = replay_entities(entity_table(frame, outcomes))
    features = entity_features(stats, 0, len(frame))
    return np.asarray(features[time_order(frame)], dtype=np.float64)
