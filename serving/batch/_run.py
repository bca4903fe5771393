"""``screen``: one manifest through contract, scoring and policy, in resumable chunks."""

from __future__ import annotations

import json
import queue
import threading
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

import numpy as np
import pyarrow.parquet as pq

from data_contracts import FormError, PostingWindow, form_of

from .._settings import Settings
from ._errors import ManifestError, ReconciliationError
from ._finalise import (
    Capacity,
    drift,
    finalise,
    inspection_list,
    ranking_candidates,
    write_table,
)
from ._in_run import (
    count,
    counted,
    drop,
    exchange_of,
    frame_of,
    kept,
    prepare,
    prepared,
    run_history,
)
from ._keys import EngineSpec, engine_for, release_engine
from ._progress import Progress, log
from ._read import Chunk, iter_chunks
from ._record import RunFacts, check_not_halted, record_run, run_id
from ._score import score_chunk
from ._state import SNAPSHOT, ChunkDone, RunState, copy_sqlite, write_json

DEFAULT_CHUNK_ROWS = 50_000
T = TypeVar("T")
_SCORERS = 2  # chunks scored at a time (threads)


@dataclass
class BatchConfig:
    """One batch run. ``dask``: None (one process), ``"local"`` or a scheduler address."""

    manifest: Path
    out: Path
    engine: EngineSpec
    capacity: Capacity = field(default_factory=lambda: Capacity(share=0.02))
    chunk_rows: int = DEFAULT_CHUNK_ROWS
    csv: bool = False
    explain_all: bool = False
    fresh: bool = False
    dask: str | None = None
    dask_workers: int = 2
    dask_processes: bool = True
    progress_bar: bool | None = None  # None: a bar when stderr is a terminal
    #: Reference time of the posting window (data_contracts.PostingWindow, 90 days back to 2
    #: ahead): a record posted outside it is quarantined. "now": when the run first started
    #: (a resumed run keeps that time); None: no window, for data whose dates the caller
    #: vouches for (tests, replays of simulated data).
    as_of: datetime | Literal["now"] | None = None
    #: The record database to record the run's decisions in when it completes (the
    #: service's settings: ``PARCELSCREEN_DATA_DIR`` or ``STATE_DB``); None: files only.
    record: Settings | None = None

    @property
    def window(self) -> PostingWindow | None:
        if self.as_of is None:
            return None
        return PostingWindow(datetime.now(UTC) if self.as_of == "now" else self.as_of)


def prepare_chunk(spec: EngineSpec, out: Path, chunk: Chunk, exchange: bool = True) -> int:
    """Step 1 of a chunk (see ``_in_run``): its frame kept for the count and for scoring
    (``exchange``: and its partner-seizure inputs, see ``_in_run.prepare``)."""
    prepare(engine_for(spec), out, chunk, exchange)
    return chunk.rows


@dataclass(frozen=True)
class Prepared:
    """A chunk whose frame step 1 kept in the run's folder ``out``."""

    out: Path
    index: int


def process_chunk(
    spec: EngineSpec, chunk: Prepared, explain_all: bool
) -> tuple[ChunkDone, Any, Any]:
    """Score a prepared chunk against the run's history; its journal entry, results and
    quarantine."""
    engine = engine_for(spec)
    frame, read = frame_of(chunk.out, chunk.index)
    rows = read.row_numbers
    history = run_history(engine, chunk.out, rows)
    exchange = exchange_of(chunk.out, chunk.index)
    results, counts = score_chunk(engine, frame, rows, explain_all, history, exchange)
    quarantined = len(np.unique(read.quarantine.column("row").to_numpy()))
    entry = ChunkDone(
        read.index,
        read.first_row,
        read.rows,
        results.num_rows,
        quarantined,
        read.quarantine.num_rows,
        counts,
    )
    return entry, results, read.quarantine


def _identity(config: BatchConfig, manifest: Path) -> dict[str, Any]:
    stat = manifest.stat()
    engine = engine_for(replace(config.engine, history=None))  # the model's identity only
    return {
        "manifest": str(manifest),
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "chunk_rows": config.chunk_rows,
        "mode": "dask" if config.dask else "local",
        "bundle_hash": engine.model.bundle_hash,
        "model_version": engine.model.version,
        "capacity": config.engine.capacity,
        "random_share": config.engine.random_share,
        "history": config.engine.history,
        "explain_all": config.explain_all,
        "keys": config.engine.fingerprint(),
        "as_of": config.as_of.isoformat() if isinstance(config.as_of, datetime) else None,
    }


def _reference_time(config: BatchConfig) -> BatchConfig:
    """The run with its posting window's reference time fixed: "now" is the time the run
    first started, read back from its folder when it resumes."""
    if config.as_of != "now":
        return config
    run_file = config.out / "run.json"
    if not config.fresh and run_file.is_file():
        known = json.loads(run_file.read_text(encoding="utf-8")).get("as_of")
        if isinstance(known, str):
            return replace(config, as_of=datetime.fromisoformat(known))
    return replace(config, as_of=datetime.now(UTC))


def _history_snapshot(config: BatchConfig) -> BatchConfig:
    """The run scores against a copy of the history store taken when it starts, kept in its
    folder until it completes: chunks scored later, and a resumed run, see the same history
    as the first chunk, however much the service records meanwhile. Each copy has a name of
    its own, so an engine cached for an earlier run's copy is never taken for this one's."""
    source = config.engine.history
    if source is None:
        return config
    found = sorted(config.out.glob(f"{SNAPSHOT}-*.sqlite"))
    snapshot = found[-1] if found else config.out / f"{SNAPSHOT}-{time.time_ns()}.sqlite"
    if not found:
        copy_sqlite(Path(source), snapshot)
    return replace(config, engine=replace(config.engine, history=str(snapshot.resolve())))


def _drop_snapshot(config: BatchConfig) -> None:
    """A completed run needs its history copy and its in-run history no more: its engine
    and files go."""
    drop(config.out)
    if config.engine.history is not None:
        release_engine(config.engine)
        for path in config.out.glob(f"{SNAPSHOT}-*"):
            path.unlink(missing_ok=True)


def _total_rows(manifest: Path) -> int | None:
    if form_of(manifest) == "parquet" and manifest.stat().st_size:
        try:
            return int(pq.ParquetFile(manifest).metadata.num_rows)
        except (OSError, ValueError):
            return None
    return None


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


_END = object()


def prefetch(items: Iterator[T], depth: int = 1) -> Iterator[T]:
    """The items of an iterator, produced by a background thread up to ``depth`` ahead.

    Reading and validating a Parquet chunk is mostly Arrow work that releases the GIL, so it
    overlaps with scoring the chunk before. An error in the producer is raised here, in
    order; leaving the loop early stops the producer.
    """
    slots: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                slots.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(_END)
        except BaseException as exc:  # handed to the consumer, raised there
            put(_Failed(exc))

    thread = threading.Thread(target=produce, name="batch-read", daemon=True)
    thread.start()
    try:
        while True:
            item = slots.get()
            if item is _END:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item
    finally:
        stop.set()
        thread.join()


def _prepare_local(config: BatchConfig, state: RunState, manifest: Path) -> None:
    """Steps 1 and 2 (see ``_in_run``): every chunk's frame kept, read ahead in one thread and
    built by two, then the run's parcels counted in one ordered pass."""
    indices: list[int] = []
    with ThreadPoolExecutor(max_workers=_SCORERS, thread_name_prefix="batch-prepare") as pool:
        in_flight: deque[Future[int]] = deque()
        for chunk in prefetch(iter_chunks(manifest, config.chunk_rows, config.window)):
            indices.append(chunk.index)
            if prepared(state.out, chunk.index):
                continue
            in_flight.append(pool.submit(prepare_chunk, config.engine, state.out, chunk))
            if len(in_flight) >= _SCORERS:
                in_flight.popleft().result()
        while in_flight:
            in_flight.popleft().result()
    count(state.out, indices, engine_for(config.engine).history.backend)


def _run_local(config: BatchConfig, state: RunState, manifest: Path, progress: Progress) -> None:
    """Prepared chunks in file order, scored by two threads, written by one more.

    Two chunks are scored at a time so that the work which releases the GIL (Arrow, ONNX
    Runtime, the explanation kernels) of one overlaps the Python of the other. Parts are
    written (and journalled) strictly in chunk order by one writer thread; a chunk counts as
    done only once its journal line is written, as before.
    """
    if not counted(state.out):
        _prepare_local(config, state, manifest)
    todo = sorted(i for i in kept(state.out) if i not in state.done)
    in_flight: deque[Future[tuple[ChunkDone, Any, Any]]] = deque()
    with (
        ThreadPoolExecutor(max_workers=_SCORERS, thread_name_prefix="batch-score") as scorers,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="batch-write") as writer,
    ):
        pending: Future[None] | None = None

        def retire() -> None:
            nonlocal pending
            entry, results, quarantine = in_flight.popleft().result()
            if pending is not None:
                pending.result()
            pending = writer.submit(state.finish, entry, results, quarantine)
            progress.update(entry.rows)

        for index in todo:
            in_flight.append(
                scorers.submit(
                    process_chunk, config.engine, Prepared(state.out, index), config.explain_all
                )
            )
            if len(in_flight) >= _SCORERS:
                retire()
        while in_flight:
            retire()
        if pending is not None:
            pending.result()


def _reconcile(state: RunState) -> dict[str, Any]:
    done = state.finished()
    read = sum(c.rows for c in done)
    scored = sum(c.scored for c in done)
    quarantined = sum(c.quarantined for c in done)
    rows = pq.read_table(state.out / "results.parquet", columns=["row"]).column("row").to_numpy()
    bad = pq.read_table(state.out / "quarantine.parquet", columns=["row"]).column("row")
    seen = np.sort(np.concatenate([rows, np.unique(bad.to_numpy())]))
    exact = bool(len(seen) == read and np.array_equal(seen, np.arange(1, read + 1)))
    return {
        "rows_read": read,
        "rows_scored": scored,
        "rows_quarantined": quarantined,
        "problems": sum(c.problems for c in done),
        "chunks": len(done),
        "reconciled": read == scored + quarantined and exact,
    }


def screen(config: BatchConfig) -> dict[str, Any]:
    """Run (or resume) a batch; write every output; return the summary.

    Raises ManifestError for a manifest that cannot be read as its form, ResumeError when the
    output folder holds another run, HaltedError when model-based selection is halted in the
    record database (before scoring, or while the run screened: then after its files),
    ReconciliationError when counts do not add up (after the summary is written).
    """
    started = time.perf_counter()
    manifest = config.manifest.resolve()
    if not manifest.is_file():
        raise ManifestError(f"{config.manifest}: no such file")
    try:
        form = form_of(manifest)
    except FormError as exc:
        raise ManifestError(str(exc)) from exc
    if config.dask and form != "parquet":
        raise ManifestError(f"{manifest}: Dask runs read Parquet manifests; this is {form}")
    if config.engine.history is not None and not Path(config.engine.history).is_file():
        raise ManifestError(f"{config.engine.history}: no such history store")
    if config.record is not None:  # human oversight: no model-driven run while halted
        check_not_halted(config.record)
    config.out.mkdir(parents=True, exist_ok=True)
    config = _reference_time(config)
    state = RunState(config.out, _identity(config, manifest), fresh=config.fresh)
    config = _history_snapshot(config)
    if state.done:
        log.info("resuming: %d chunk(s) already done", len(state.done))
    progress = Progress(_total_rows(manifest), config.progress_bar)
    try:
        if config.dask:
            from ._dask import run_dask

            run_dask(config, state, manifest, progress)
        else:
            _run_local(config, state, manifest, progress)
    finally:
        progress.close()
    finalise(state, config.csv)
    engine = engine_for(config.engine)
    results_path = state.out / "results.parquet"
    scored = pq.ParquetFile(results_path).metadata.num_rows
    candidates = ranking_candidates(results_path, config.capacity.slots(scored))
    ranked = inspection_list(
        candidates, config.capacity, config.engine.random_share, engine.decision_key, scored
    )
    del candidates
    write_table(ranked, state.out / "inspection_list.parquet", config.csv)
    report = drift(engine.model.reference, state.finished())
    write_json(state.out / "drift.json", report)
    summary = _reconcile(state) | {
        "manifest": str(manifest),
        "form": form,
        "model_version": engine.model.version,
        "capacity": str(config.capacity),
        "inspection_list": ranked.num_rows,
        "random_control": int(
            (ranked.column("selection").to_numpy(zero_copy_only=False) == "random_control").sum()
        ),
        "drifted_features": report["drifted"],
        "drift": report["note"],
        "seconds": round(time.perf_counter() - started, 2),
        "mode": "dask" if config.dask else "local",
    }
    if config.record is not None and summary["reconciled"]:
        facts = RunFacts(
            run_id(state.identity),
            manifest,
            config.chunk_rows,
            config.window,
            results_path,
            str(config.capacity),
        )
        summary["recorded"] = record_run(config.record, engine, facts, ranked)
    write_json(state.out / "summary.json", summary)
    _drop_snapshot(config)
    if not summary["reconciled"]:
        raise ReconciliationError(
            f"rows read {summary['rows_read']} != rows scored {summary['rows_scored']} + rows "
            f"quarantined {summary['rows_quarantined']} (or a row is missing or doubled)"
        )
    return summary
