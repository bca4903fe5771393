"""The same screening over pieces of a Parquet manifest on a Dask cluster.

A run goes in the three steps of ``_in_run``: each task of step 1 reads its own row groups,
validates them and keeps their frame in the run's folder (``prepare_piece``); the driver
counts the run's parcels towards each other in one ordered pass, so the counts carry across
pieces; each task of step 3 scores a prepared piece with the worker's engine (built once per
worker process by ``engine_for``, so one onnxruntime session each) against the snapshot plus
those counts and returns its results to the driver, which journals them exactly as a
single-process run does (``screen_piece``). So a parcel's result does not depend on which
piece or worker handled it: the merged output equals the single-process output. Workers and
driver share the run's folder, as they share the manifest and the history snapshot.

Partner-seizure inputs (a model that reads them, issue 21) are the driver's: the exchange
source (custodians' tokens, counted against the quota and logged, and the partners'
indicators) is the process's that started the run, which a worker process does not share.
So the workers prepare pieces without them, and the driver, piece by piece in order as each
is prepared, reads the piece's rows again, takes their tokens once and keeps the piece's
inputs beside its frame (``_in_run.keep_exchange``), before the count; the workers score
with them as a single-process run does. No token leaves the driver; what it keeps holds
none, nor any clear value (as a single-process run keeps it).

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
from screening import ScoringEngine

from ._in_run import count, counted, exchange_path, keep_exchange, prepared
from ._keys import EngineSpec, engine_for
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


def prepare_piece(
    spec: EngineSpec,
    manifest: str,
    out: str,
    index: int,
    groups: list[int],
    first_row: int,
    window: PostingWindow | None = None,
    exchange: bool = True,
) -> int:
    """One Dask task of step 1: read row groups, validate, keep the frame (on a worker;
    ``exchange``: and the partner-seizure inputs, which the driver keeps instead)."""
    from ._run import prepare_chunk

    raw = pq.ParquetFile(manifest).read_row_groups(groups)
    return prepare_chunk(spec, Path(out), split_table(raw, index, first_row, window), exchange)


def keep_piece_exchange(
    engine: ScoringEngine,
    manifest: Path,
    out: Path,
    piece: tuple[int, list[int], int],
    window: PostingWindow | None,
) -> None:
    """The driver's part of step 1 for a model that reads the partner-seizure features: a
    prepared piece's inputs, from its rows read and validated again here, through the
    driver's exchange source."""
    index, groups, first_row = piece
    raw = pq.ParquetFile(manifest).read_row_groups(groups)
    keep_exchange(engine, out, split_table(raw, index, first_row, window))


def screen_piece(
    spec: EngineSpec,
    out: str,
    index: int,
    explain_all: bool,
) -> tuple[ChunkDone, Any, Any]:
    """One Dask task: score a prepared piece against the run's history (runs on a worker)."""
    from ._run import Prepared, process_chunk

    return process_chunk(spec, Prepared(Path(out), index), explain_all)


def run_dask(config: Any, state: RunState, manifest: Path, progress: Progress) -> None:
    from dask.distributed import Client, LocalCluster, as_completed

    pieces = plan(manifest, config.chunk_rows)
    todo = [p for p in pieces if p[0] not in state.done]
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
        if not counted(state.out):  # step 1 on the workers, step 2 here (see ``_in_run``)
            engine = engine_for(config.engine)
            reads = engine.model.spec.reads_exchange  # then the driver keeps the inputs
            ready = {
                index: client.submit(
                    prepare_piece,
                    config.engine,
                    str(manifest),
                    str(state.out),
                    index,
                    groups,
                    first,
                    config.window,
                    not reads,
                    key=f"prepare-piece-{run}-{index}",
                    pure=False,
                )
                for index, groups, first in pieces
                if not prepared(state.out, index)
            }
            for piece in pieces if reads else []:  # in order, each once it is prepared
                if piece[0] in ready:
                    ready[piece[0]].result()
                if not exchange_path(state.out, piece[0]).is_file():
                    keep_piece_exchange(engine, manifest, state.out, piece, config.window)
            client.gather(list(ready.values()))
            del ready
            count(state.out, [p[0] for p in pieces], engine.history.backend)
        futures = [
            client.submit(
                screen_piece,
                config.engine,
                str(state.out),
                index,
                config.explain_all,
                key=f"screen-piece-{run}-{index}",
                pure=False,
            )
            for index, _, _ in todo
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
