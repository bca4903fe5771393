"""The same screening over pieces of a Parquet manifest on a Dask cluster.

Each task reads its own row groups, validates and scores them with the worker's engine (built
once per worker process by ``engine_for``, so one onnxruntime session each) and returns the
chunk's results to the driver, which journals them exactly as a single-process run does.
Because history is the run-start snapshot (see ``_score``), a parcel's result does not depend
on which piece or worker handled it: the merged output equals the single-process output.

A run keeps to its own client. Left to itself ``as_completed`` waits on the event loop of
the process's *default* client, the one made last (or the caller's current one), which with
two runs in one process (on one shared scheduler) is as often the other run's: once that run
closes its client, this run's pieces finish on the scheduler while it waits for ever (issue
22; dask/distributed#4357). So the run's client is nobody's default, and ``as_completed``
is given its loop.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from data_contracts import PostingWindow

from ._keys import EngineSpec
from ._progress import Progress, log
from ._read import check_parquet, split_table
from ._state import ChunkDone, RunState


def plan(manifest: Path, chunk_rows: int) -> list[tuple[int, list[int], int]]:
    """Pieces of whole row groups of about ``chunk_rows`` rows: (index, groups, first_row)."""
    meta = check_parquet(manifest).metadata
    pieces: list[tuple[int, list[int], int]] = []
    groups: list[int] = []
    first = row = 1
    for g in range(meta.num_row_groups):
        groups.append(g)
        row += meta.row_group(g).num_rows
        if row - first >= chunk_rows:
            pieces.append((len(pieces), groups, first))
            groups, first = [], row
    if groups:
        pieces.append((len(pieces), groups, first))
    return pieces


def screen_piece(
    spec: EngineSpec,
    manifest: str,
    index: int,
    groups: list[int],
    first_row: int,
    explain_all: bool,
    window: PostingWindow | None = None,
) -> tuple[ChunkDone, Any, Any]:
    """One Dask task: read row groups, validate, score (runs on a worker)."""
    from ._run import process_chunk

    raw = pq.ParquetFile(manifest).read_row_groups(groups)
    return process_chunk(spec, split_table(raw, index, first_row, window), explain_all)


def run_dask(config: Any, state: RunState, manifest: Path, progress: Progress) -> None:
    from dask.distributed import Client, LocalCluster, as_completed

    todo = [p for p in plan(manifest, config.chunk_rows) if p[0] not in state.done]
    cluster = None
    if config.dask == "local":
        cluster = LocalCluster(
            n_workers=config.dask_workers,
            threads_per_worker=1,
            processes=config.dask_processes,
            dashboard_address=None,
        )
        client = Client(cluster, set_as_default=False)
    else:
        client = Client(config.dask, set_as_default=False)
    try:
        log.info("dask: %d piece(s) on %s", len(todo), client)
        run = uuid.uuid4().hex  # keys are the scheduler's, shared by every client: per run
        futures = [
            client.submit(
                screen_piece,
                config.engine,
                str(manifest),
                index,
                groups,
                first,
                config.explain_all,
                config.window,
                key=f"screen-piece-{run}-{index}",
                pure=False,
            )
            for index, groups, first in todo
        ]
        for future in as_completed(futures, loop=client.loop):
            entry, results, quarantine = future.result()
            state.finish(entry, results, quarantine)
            progress.update(entry.rows)
            future.release()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
