"""Training on a Dask cluster: the point-in-time history replay by entity, and the XGBoost fit
with ``xgboost.dask``.

The replay: the stream becomes one row per (parcel, entity) and per (outcome change, entity)
(``entity_table``), shuffled by entity key so that each partition holds whole entities, each
replayed alone in time order (``replay_entities``); the per-entity stats of each parcel are
shuffled back by block of parcels (in time order) and joined into its features
(``entity_features``). Same features as the single-process replay, value for value.

The fit: the labelled training and validation rows as Dask arrays, one chunk per worker,
trained with the single-process run's parameters, early stopping and weights.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd
import xgboost

from screening import HISTORY_FEATURES, KnownOutcome, ParcelFrame
from screening.history import (
    STATS_FIELDS,
    entity_features,
    entity_table,
    replay_entities,
    time_order,
)

from ._errors import TrainingError

#: Table rows per replay partition (about 60 bytes a row): a worker's share stays bounded.
PARTITION_ROWS = 2_000_000
#: Parcels per block when the stats are joined back into features.
BLOCK_ROWS = 500_000
XY = tuple[np.ndarray, np.ndarray, np.ndarray]  # features, labels, weights
_NO_STATS = pd.DataFrame({c: np.zeros(0, np.int64) for c in ("seq", "kind", "time", *STATS_FIELDS)})


@contextmanager
def dask_client(scheduler: str, workers: int = 2, processes: bool = True) -> Iterator[Any]:
    """A client of a local cluster (``scheduler`` "local": ``workers`` workers of one thread)
    or of the scheduler at ``scheduler`` (tcp://HOST:PORT)."""
    from dask.distributed import Client, LocalCluster

    cluster = None
    try:
        if scheduler == "local":
            cluster = LocalCluster(  # a task's failure reaches the driver, which says it in
                # one `error:` line: the workers' own logs of it (tracebacks) are not printed
                n_workers=workers,
                threads_per_worker=1,
                processes=processes,
                dashboard_address=":0",
                silence_logs=logging.CRITICAL,
            )
            client = Client(cluster)
        else:
            client = Client(scheduler, timeout=10)
    except (OSError, TimeoutError, ValueError) as exc:
        raise TrainingError(f"cannot reach the Dask scheduler {scheduler}: {exc}") from exc
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _workers(client: Any) -> int:
    return max(len(client.scheduler_info().get("workers", {})), 1)


def _blocks(stats: pd.DataFrame, block_rows: int) -> dict[int, pd.DataFrame]:
    """A partition's stats rows by block of parcels (``block_rows`` in time order)."""
    block = stats["seq"].to_numpy() // block_rows
    return {int(b): stats[block == b] for b in np.unique(block)}


def _pick(blocks: dict[int, pd.DataFrame], block: int) -> pd.DataFrame | None:
    return blocks.get(block)


def _block_features(first: int, size: int, *pieces: pd.DataFrame | None) -> np.ndarray:
    """Features of the parcels ``first`` .. ``first + size - 1`` from their stats rows (one
    piece per partition; a parcel with no entity of any kind has none)."""
    found = [p for p in pieces if p is not None]
    stats = pd.concat(found, ignore_index=True) if found else _NO_STATS
    return entity_features(stats, first, size)


def dask_replay(
    client: Any,
    frame: ParcelFrame,
    outcomes: Sequence[KnownOutcome],
    partition_rows: int = PARTITION_ROWS,
    block_rows: int = BLOCK_ROWS,
) -> np.ndarray:
    """``replay`` of a frame and its outcomes on the cluster: an (n, k) float64 matrix in
    frame order, equal to the single-process replay from an empty history.

    The entity table is cut by entity key into partitions scattered to the workers; each is
    replayed where it lies; its stats are cut by block of parcels; each block's pieces are
    joined on one worker into features, which come back to this process."""
    n = len(frame)
    table = entity_table(frame, outcomes)
    parts = max(2 * _workers(client), math.ceil(len(table) / partition_rows))
    where = table["key"].to_numpy() % parts
    pieces = [table[where == p] for p in range(parts)]
    del table, where
    scattered = client.scatter(pieces)
    del pieces
    stats = client.map(replay_entities, scattered, pure=False)
    split = client.map(_blocks, stats, block_rows=block_rows, pure=False)
    del scattered, stats
    joined = []
    for block in range(math.ceil(n / block_rows)):
        first = block * block_rows
        picks = [client.submit(_pick, s, block, pure=False) for s in split]
        joined.append(
            client.submit(_block_features, first, min(block_rows, n - first), *picks, pure=False)
        )
    del split
    out = np.zeros((0, len(HISTORY_FEATURES)))
    if joined:
        out = np.vstack([np.asarray(part, dtype=np.float64) for part in client.gather(joined)])
    return np.asarray(out[time_order(frame)], dtype=np.float64)


def dask_fit(
    client: Any, params: dict[str, Any], train: XY, valid: XY, rounds: int, early_stopping: int
) -> tuple[xgboost.Booster, dict[str, Any]]:
    """``xgboost.train`` on the cluster: training and validation rows spread over the
    workers (one chunk each), the same parameters; the booster and its evaluation log."""
    import dask.array as da
    import xgboost.dask

    workers = _workers(client)

    def matrix(xyw: XY) -> Any:
        x, y, w = xyw
        chunk = max(math.ceil(len(x) / workers), 1)
        return xgboost.dask.DaskDMatrix(
            client,
            da.from_array(x, chunks=(chunk, x.shape[1])),
            da.from_array(y, chunks=chunk),
            weight=da.from_array(w, chunks=chunk),
            missing=np.nan,
        )

    return _train(client, params, matrix(train), matrix(valid), rounds, early_stopping)


#: One set of rows (training or validation) as it lies on the workers: a future per piece
#: holding (features, labels, clipped weights), and each piece's (rows, sum of weights).
Pieces = tuple[list[Any], list[tuple[int, float]]]


def fit_on_parts(
    client: Any,
    params: dict[str, Any],
    sets: list[Pieces],
    features: int,
    rounds: int,
    early_stopping: int,
) -> tuple[xgboost.Booster, dict[str, Any]]:
    """:func:`dask_fit` of training and validation rows that stay where they were made
    (``sets``: the two of them), weights divided by their mean as the single-process run
    does; the booster and its evaluation log."""
    import operator

    import dask.array as da
    import xgboost.dask
    from dask.delayed import delayed

    def matrix(pieces: Pieces) -> Any:
        futures, sizes = pieces
        rows = sum(s[0] for s in sizes)
        mean = sum(s[1] for s in sizes) / max(rows, 1)
        found = [(f, s[0]) for f, s in zip(futures, sizes, strict=True) if s[0]]

        def column(i: int, width: int | None, dtype: Any) -> Any:
            return da.concatenate(
                [
                    da.from_delayed(
                        delayed(operator.getitem)(f, i),
                        shape=(k, width) if width else (k,),
                        dtype=dtype,
                    )
                    for f, k in found
                ]
            )

        return xgboost.dask.DaskDMatrix(
            client,
            column(0, features, np.float32),
            column(1, None, np.float32),
            weight=column(2, None, np.float64) / mean,
            missing=np.nan,
        )

    train, valid = sets
    return _train(client, params, matrix(train), matrix(valid), rounds, early_stopping)


def _train(
    client: Any, params: dict[str, Any], dtrain: Any, dvalid: Any, rounds: int, stopping: int
) -> tuple[xgboost.Booster, dict[str, Any]]:
    import xgboost.dask

    params = {k: v for k, v in params.items() if k != "nthread"}  # each worker's own threads
    out = xgboost.dask.train(
        client,
        params,
        dtrain,
        num_boost_round=rounds,
        evals=[(dtrain, "train"), (dvalid, "validation")],
        early_stopping_rounds=stopping,
        verbose_eval=False,
    )
    return out["booster"], dict(out["history"])
