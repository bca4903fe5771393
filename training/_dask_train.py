"""Training on a Dask cluster from the files to the calibrated model, the driver holding no
more than counts and bounded samples.

The workers load the data slice by slice (``_dask_load``); the labelled rows stay on them as
Dask arrays for ``xgboost.dask``; the driver receives counts, the margins of the labelled
validation rows (for the calibration), and samples of at most :data:`SPEC_ROWS` training,
:data:`REFERENCE_ROWS` validation and :data:`EVALUATION_ROWS` test parcels. Below those
sizes every row is taken, and the run computes what the single-process run computes; above,
the reference statistics, thresholds, drift references and test metrics are those of a
uniform sample, and the metrics say how many parcels they rest on.
"""

from __future__ import annotations

import itertools
import math
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import xgboost

from screening import (
    FeatureSpec,
    ParcelFrame,
    feature_matrix,
    fit_feature_spec,
    fit_platt,
)

from . import _dask_load as load
from ._dask import _workers, fit_on_parts
from ._dataset import (
    Dataset,
    Progress,
    not_unique,
    read_table,
    unmatched_outcomes,
    unmatched_warning,
)
from ._errors import DataError, QualityGateError
from ._evaluate import evaluate
from ._split import TimeSplit, time_split
from ._train import TrainConfig, TrainResult, _xgb_params, ipw_weights, predict_margin

#: Training parcels, at most, from which the features' reference statistics are fitted.
SPEC_ROWS = 500_000
#: Validation parcels, at most, for the score thresholds and the drift references.
REFERENCE_ROWS = 200_000
#: Test parcels, at most, on which the model is evaluated.
EVALUATION_ROWS = 500_000
#: Columns of a frame that the evaluation reads.
_EVALUATION_COLUMNS = ("item_id", "origin", "mail_class", "posted_us")
#: Ranges of places in time order by which the labelled rows are counted, to cut them into
#: one chunk per worker of about as many rows.
FINE_RANGES = 4096
#: Labelled rows of a period per worker in the tree fit (see :func:`_chunks`).
FIT_ROWS = 1_000_000
#: Test rows for the ONNX parity gate (as the single-process run).
PARITY_ROWS = 4000


@dataclass
class Featured:
    """A slice's kept rows with their model inputs and inverse-propensity weights."""

    kept: load.Kept
    matrix: np.ndarray
    weights: np.ndarray


@dataclass
class DaskTraining:
    """What a run on Dask hands to the bundle: the model, and what was measured of it."""

    result: TrainResult  # its matrix and weights: the reference sample's rows
    metrics: dict[str, Any]
    prob_reference: np.ndarray  # calibrated probability of the reference sample
    check: np.ndarray  # test rows for the ONNX parity gate
    counts: dict[str, int]


def _concat(frames: Sequence[ParcelFrame]) -> ParcelFrame:
    out: dict[str, Any] = {"tokens": {}}
    for f in fields(ParcelFrame):
        if f.name != "tokens":
            out[f.name] = np.concatenate([getattr(frame, f.name) for frame in frames])
    return ParcelFrame(**out)


def featurise(kept: load.Kept, spec: FeatureSpec, weight_cap: float) -> Featured:
    """A slice's kept rows with their model inputs; of the frame, only what the evaluation
    reads is kept on."""
    data = kept.data
    matrix = feature_matrix(data.frame, data.history, spec)
    frame = load.light(data.frame, np.arange(len(data)), _EVALUATION_COLUMNS)
    kept = replace(kept, data=replace(data, frame=frame, history=np.zeros((len(data), 0))))
    return Featured(kept, matrix, ipw_weights(kept.data, weight_cap))


def _labelled(kept: load.Kept, period: int) -> np.ndarray:
    return np.asarray(kept.labelled & (kept.period == period))


def labelled_counts(featured: Featured, period: int, edges: np.ndarray) -> np.ndarray:
    """How many of a period's labelled rows fall in each range of places (``edges``)."""
    seq = featured.kept.seq[_labelled(featured.kept, period)]
    return np.histogram(seq, bins=edges)[0]


def labelled_rows(
    featured: Featured, period: int, cap: float, first: int, end: int
) -> tuple[np.ndarray, ...]:
    """Features, labels, clipped weights and places of a period's labelled rows whose
    places in the replay's order are ``first`` .. ``end - 1``."""
    seq = featured.kept.seq
    mask = _labelled(featured.kept, period) & (seq >= first) & (seq < end)
    weights = np.minimum(featured.weights[mask], cap)
    labels = featured.kept.data.seized[mask].astype(np.float32)
    return featured.matrix[mask], labels, weights, seq[mask]


def time_chunk(*pieces: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
    """Labelled rows of one range of places (a piece per slice) in the replay's order, as
    the single-process run holds them: its row order decides which rows trees sample."""
    order = np.argsort(np.concatenate([p[3] for p in pieces]), kind="stable")
    return tuple(np.concatenate([p[i] for p in pieces])[order] for i in range(3))


def sizes(rows: tuple[np.ndarray, ...]) -> tuple[int, float]:
    return len(rows[0]), float(rows[2].sum())


def _chunks(client: Any, featured: list[Any], parcels: int, period: int, cap: float) -> list[Any]:
    """A period's labelled rows in time order, in chunks of about :data:`FIT_ROWS` (one a
    worker at most, each made on its own worker: xgboost.dask trains each worker on the
    rows it holds), cut where a fine count of the rows by place says.

    Up to :data:`FIT_ROWS` labelled rows train on one worker, on the same rows in the same
    order as the single-process run (on the tests' data the two models' test metrics were
    equal); spread over several, each worker sketches its own feature quantiles and samples
    its own rows, and the trees differ a little."""
    workers = sorted(client.scheduler_info().get("workers", {}))
    edges = np.linspace(0, max(parcels, 1), FINE_RANGES + 1).astype(np.int64)
    edges[-1] = parcels + 1
    counts = sum(
        _gathered(client, [client.submit(labelled_counts, f, period, edges) for f in featured])
    )
    cumulative = np.concatenate([[0], np.cumsum(counts)])
    total = int(cumulative[-1])
    pieces = max(min(math.ceil(total / FIT_ROWS), len(workers)), 1)
    at = np.searchsorted(cumulative, [total * i / pieces for i in range(1, pieces)])
    bounds = [0, *(int(edges[i]) for i in at), parcels + 1]
    chunks = []
    for i, (first, end) in enumerate(itertools.pairwise(bounds)):
        rows = [
            client.submit(labelled_rows, f, period, cap, first, end, pure=False) for f in featured
        ]
        where = [workers[i % len(workers)]] if workers else None
        chunks.append(client.submit(time_chunk, *rows, workers=where, pure=False))
    return chunks


def calibration_rows(featured: Featured, booster: xgboost.Booster) -> tuple[np.ndarray, ...]:
    """Margin, label and weight of the labelled validation rows but tip-offs (see _train)."""
    kept = featured.kept
    rows = _labelled(kept, 1) & (kept.data.selection_reason != "tip_off")
    return (
        predict_margin(booster, featured.matrix[rows]),
        kept.data.seized[rows],
        featured.weights[rows],
    )


def sample_rows(featured: Featured, which: str) -> tuple[np.ndarray, Dataset, np.ndarray]:
    """The reference or evaluation sample's rows: features, data (light), weights."""
    kept = featured.kept
    rows = np.flatnonzero(getattr(kept, which))
    data = kept.data
    light = Dataset(
        load.light(data.frame, rows, _EVALUATION_COLUMNS if which == "evaluation" else ()),
        np.zeros((len(rows), 0)),
        data.inspected[rows],
        data.seized[rows],
        data.known_us[rows],
        data.selection_reason[rows],
        data.selection_probability[rows],
    )
    return featured.matrix[rows], light, featured.weights[rows]


def _check_outcomes(path: Path, validate: bool, declarations: Path) -> list[str]:
    """Check the outcomes file on a worker; the item IDs of its records that name no
    declared item (said by the driver, never dropped silently)."""
    return unmatched_outcomes(read_table(path, "outcome", validate, lambda _m: None), declarations)


def _truth(path: Path, item_ids: np.ndarray) -> pa.Table:
    """The truth file's rows of some items, read batch by batch."""
    wanted = pa.array(item_ids, pa.string())
    found = []
    with pq.ParquetFile(path) as f:
        for batch in f.iter_batches(columns=["item_id", "illicit", "oracle_probability"]):
            found.append(batch.filter(pc.is_in(batch.column("item_id"), value_set=wanted)))
    return (
        pa.Table.from_batches(found) if found else pa.table({"item_id": pa.array([], pa.string())})
    )


def _gathered(client: Any, futures: list[Any]) -> list[Any]:
    out: list[Any] = client.gather(futures)
    return out


@dataclass
class Loaded:
    """The data on the cluster: each slice's kept rows with their history (futures)."""

    kept: list[Any]
    specs: list[Any]  # each slice's sample of training parcels (``load.SPEC_COLUMNS``)
    parcels: int
    split: TimeSplit  # its masks: of the first and last posting times only
    plan: load.Plan
    counts: dict[str, int]


def load_on_dask(
    client: Any,
    data_dir: Path,
    key: bytes | str,
    config: TrainConfig,
    validate: bool = True,
    progress: Progress = lambda _m: None,
    slice_rows: int = load.SLICE_ROWS,
    bucket_rows: int = load.BUCKET_ROWS,
    partition_rows: int = load.PARTITION_ROWS,
    keep_all: bool = False,
) -> Loaded:
    """Read, check, pseudonymise, label and replay the data set on the cluster (see
    ``_dask_load``); with ``keep_all`` every parcel is kept (to compare with one process).
    The entity rows wait for the replay in scratch files on the workers, removed at the
    end, whether the load succeeds or not."""
    from dask.distributed import wait

    declarations, outcomes = data_dir / "declarations.parquet", data_dir / "outcomes.parquet"
    load.check_schema(declarations)
    parts = load.slices(declarations, slice_rows)
    workers = _workers(client)
    path = str(declarations)

    def each(fn: Any, *args: Any, **kwargs: Any) -> list[Any]:
        return [client.submit(fn, path, s, slice_rows, *args, **kwargs, pure=False) for s in parts]

    def picks(sources: list[Any], index: int, fn: Any = load.pick) -> list[Any]:
        return [client.submit(fn, s, index, pure=False) for s in sources]

    checked = client.submit(_check_outcomes, outcomes, validate, declarations, pure=False)
    times = _gathered(client, each(load.posting_times))
    n = sum(t[0] for t in times)
    if n == 0:
        raise DataError("no declarations to train on")
    low, high = min(t[1] for t in times if t[0]), max(t[2] for t in times if t[0])
    split = time_split(np.array([low, high], dtype=np.int64), config.gap_days)
    sample = np.sort(np.concatenate([t[3] for t in times]))
    buckets = max(2 * workers, math.ceil(n / bucket_rows))
    edges = np.unique(sample[(len(sample) * np.arange(1, buckets)) // buckets])
    buckets = len(edges) + 1
    progress(f"reading {n} declarations in {len(parts)} slices on {workers} worker(s)")
    hashes = each(load.id_hashes, buckets)
    twice = [
        client.submit(load.duplicate_ids, *picks(hashes, b), pure=False) for b in range(buckets)
    ]
    keys = each(load.bucket_keys, edges)
    ranked = [client.submit(load.rank_bucket, *picks(keys, b), pure=False) for b in range(buckets)]
    del keys, hashes
    given_twice = sorted(i for found in _gathered(client, twice) for i in found)
    if given_twice:
        raise DataError(not_unique(declarations, given_twice))
    unmatched = checked.result()
    if unmatched:
        progress(unmatched_warning(unmatched))
    sizes_ = _gathered(client, [client.submit(load.bucket_size, r) for r in ranked])
    offsets = np.concatenate([[0], np.cumsum(sizes_)[:-1]]).astype(np.int64)

    b = split.bounds_us
    periods = ((b[0], b[1]), (b[2], b[3]), (b[4], b[5]))
    share = [float(np.mean((sample >= lo) & (sample < hi))) for lo, hi in periods]

    def rate(cap: int, period: int) -> float:
        return 1.0 if n <= cap else min(1.0, cap / max(n * share[period], 1.0))

    plan = load.Plan(
        path,
        str(outcomes),
        key.encode() if isinstance(key, str) else key,
        validate,
        split.bounds_us,
        split.train_cutoff_us,
        split.validation_cutoff_us,
        max(2 * workers, math.ceil(n * load.ROWS_PER_PARCEL / partition_rows)),
        rate(SPEC_ROWS, 0),
        rate(REFERENCE_ROWS, 1),
        rate(EVALUATION_ROWS, 2),
        config.seed,
        slice_rows,
        keep_all,
        run=secrets.token_hex(8),
    )
    progress(f"pseudonymising and flattening {n} declarations on the workers")
    try:
        loaded = [
            client.submit(
                load.load_slice,
                plan,
                s,
                i,
                offsets,
                *picks(ranked, i, load.bucket_ranks),
                pure=False,
            )
            for i, s in enumerate(parts)
        ]
        del ranked
        counts: dict[str, int] = {}
        for c in _gathered(client, [client.submit(load.counts_of, f) for f in loaded]):
            for name, value in c.items():
                counts[name] = counts.get(name, 0) + value
        for name, positives in (("training", "seizures"), ("validation", "validation_seizures")):
            if counts[positives] < config.min_positives:
                raise QualityGateError(
                    f"{name} period has {counts[positives]} known seizures; at least "
                    f"{config.min_positives} are needed to train"
                )
        progress(f"replaying history of {n} parcels in {plan.parts} partitions by entity")
        index = client.submit(load.kept_index, *[client.submit(load.kept_seqs, f) for f in loaded])
        spilled = _gathered(client, [client.submit(load.spilled_of, f) for f in loaded])
        replayed = _replay(client, spilled, plan.parts, index, workers)
        kept = [
            client.submit(
                load.with_history,
                client.submit(load.kept_of, f),
                *picks(replayed, i),
                pure=False,
            )
            for i, f in enumerate(loaded)
        ]
        specs = [client.submit(load.spec_of, f, pure=False) for f in loaded]
        del replayed
        wait(kept)  # the replay done (its time is measured from its progress line to the next)
    finally:
        client.run(load.remove_scratch, plan.run)
    return Loaded(kept, specs, n, split, plan, counts)


def _replay(
    client: Any, spilled: list[load.Spilled], parts: int, index: Any, window: int
) -> list[Any]:
    """Each replay partition's stats (futures), at most ``window`` partitions at a time in
    memory: a partition's rows are read from the slices' scratch files (each on the worker
    that wrote it), replayed, and released once replayed, before the next is read."""
    from dask.distributed import as_completed

    replayed = []
    running = as_completed()
    for part in range(parts):
        if running.count() >= window:
            next(running)
        rows = [
            client.submit(
                load.read_rows,
                s.files[part],
                workers=[s.worker] if s.worker else None,
                allow_other_workers=not s.worker,
                pure=False,
            )
            for s in spilled
            if part in s.files
        ]
        replayed.append(client.submit(load.replay_partition, index, *rows, pure=False))
        running.add(replayed[-1])
    return replayed


def train_on_dask(
    client: Any,
    data_dir: Path,
    key: bytes | str,
    config: TrainConfig,
    validate: bool = True,
    progress: Progress = lambda _m: None,
    truth: Path | None = None,
) -> DaskTraining:
    """Load, replay, fit, calibrate and evaluate on the cluster (see the module's doc)."""
    loaded = load_on_dask(client, data_dir, key, config, validate, progress)
    kept, counts, split, plan = loaded.kept, loaded.counts, loaded.split, loaded.plan
    # the parcel features' reference statistics, from the (sampled) training parcels
    frames = _gathered(client, loaded.specs)
    spec = fit_feature_spec(_concat(frames))
    del frames
    featured = [client.submit(featurise, k, spec, config.weight_cap, pure=False) for k in kept]
    del kept
    progress(
        f"training on {counts['labelled']} labelled parcels ({counts['seizures']} seizures), "
        f"validating on {counts['validation_labelled']}"
    )
    cap = config.train_weight_cap
    sets = [_chunks(client, featured, loaded.parcels, p, cap) for p in (0, 1)]
    booster, log = fit_on_parts(
        client,
        _xgb_params(config),
        [(s, _gathered(client, [client.submit(sizes, r) for r in s])) for s in sets],
        len(spec.names),
        config.rounds,
        config.early_stopping,
    )
    del sets
    best = int(booster.best_iteration)
    booster = booster[: best + 1]
    progress(f"best iteration {best} of {config.rounds}; calibrating on validation")
    shared = client.scatter(booster, broadcast=True)
    margin, seized, weights = (
        np.concatenate(c)
        for c in zip(
            *_gathered(client, [client.submit(calibration_rows, f, shared) for f in featured]),
            strict=True,
        )
    )
    if not seized.any():
        raise QualityGateError(
            "no seizure left to calibrate on in the validation period once tip-offs are left out"
        )
    calibration = fit_platt(margin, seized, weights)
    progress("evaluating on the test period")
    reference = _sample(client, featured, "reference")
    evaluation = _sample(client, featured, "evaluation")
    del featured, shared
    result = TrainResult(
        booster,
        spec,
        calibration,
        replace(split, test=np.ones(len(evaluation[0]), dtype=bool)),
        evaluation[0],
        evaluation[2],
        best,
        config,
        log,
    )
    test_parcels = len(evaluation[0])
    metrics = evaluate(
        result,
        evaluation[1],
        _truth(truth, evaluation[1].frame.item_id) if truth else None,
    )
    if plan.evaluation_rate < 1.0:
        metrics["evaluated_parcels"] = test_parcels
        metrics["test_parcels"] = counts["test"]
    rng = np.random.default_rng(config.seed)
    rows = rng.choice(len(evaluation[0]), min(PARITY_ROWS, len(evaluation[0])), replace=False)
    prob = calibration.probability(predict_margin(booster, reference[0]))
    result = replace(result, split=split, matrix=reference[0], weights=reference[2])
    return DaskTraining(result, metrics, prob, evaluation[0][rows], counts)


def _sample(client: Any, featured: list[Any], which: str) -> tuple[np.ndarray, Dataset, np.ndarray]:
    """A sample's rows from every slice, in one piece on the driver."""
    got = _gathered(client, [client.submit(sample_rows, f, which) for f in featured])
    matrix = np.concatenate([g[0] for g in got])
    data = [g[1] for g in got]
    weights = np.concatenate([g[2] for g in got])

    def stacked(name: str) -> np.ndarray:
        return np.concatenate([getattr(d, name) for d in data])

    joined = Dataset(
        _concat([d.frame for d in data]),
        np.zeros((len(matrix), 0)),
        stacked("inspected"),
        stacked("seized"),
        stacked("known_us"),
        stacked("selection_reason"),
        stacked("selection_probability"),
    )
    return matrix, joined, weights
