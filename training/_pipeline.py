"""``parcelscreen train``: data in, a verified model bundle in the registry out."""

from __future__ import annotations

import json
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import xgboost

from screening import (
    FEATURE_VERSION,
    BundleContents,
    Ed25519PrivateKey,
    ModelRegistry,
    Pseudonymiser,
    reference_histogram,
    write_bundle,
)
from screening import replay as replay_history
from screening.exchange import EXCHANGE_FEATURES, EXCHANGE_MONOTONE, ExchangeSource

from ._card import model_card
from ._dask import dask_client, dask_fit, dask_replay
from ._dask_train import DaskTraining, train_on_dask
from ._dataset import Progress, load_dataset
from ._evaluate import evaluate
from ._provenance import read_provenance
from ._train import TrainConfig, TrainResult, fit_local, predict_margin, train_model
from .export import export_onnx

#: Capacity shares at which the bundle stores probability thresholds (log-spaced grid).
THRESHOLD_SHARES = tuple(float(f"{s:.6g}") for s in np.geomspace(0.0005, 0.5, 31))
PARITY_ROWS = 4000


@dataclass
class TrainingRun:
    version: str
    bundle: Path
    metrics: dict[str, Any]
    seconds: float


def thresholds(prob: np.ndarray) -> dict[str, float]:
    """Probability above which each share of the reference flow scores."""
    return {f"{s:g}": float(np.quantile(prob, 1 - s)) for s in THRESHOLD_SHARES}


def reference(result: TrainResult, prob: np.ndarray, rows: np.ndarray) -> dict[str, Any]:
    matrix = result.matrix[rows]
    return {
        "period": "validation",
        "score": reference_histogram(prob),
        "features": {n: reference_histogram(matrix[:, i]) for i, n in enumerate(result.spec.names)},
    }


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=float))


def run_training(
    data_dir: Path,
    registry_root: Path,
    key: bytes | str,
    truth: Path | None = None,
    alias: str = "champion",
    config: TrainConfig | None = None,
    validate: bool = True,
    progress: Progress = lambda _m: None,
    signing_key: Ed25519PrivateKey | None = None,
    dask: str | None = None,
    dask_workers: int = 2,
    dask_processes: bool = True,
    exchange: ExchangeSource | None = None,
) -> TrainingRun:
    """Train on ``data_dir`` (declarations.parquet, outcomes.parquet), publish (signed with
    ``signing_key`` when given), set alias.

    With ``dask`` ("local": a cluster of ``dask_workers`` here; else a scheduler's address)
    the history replay and the tree fit run on the cluster (see ``_dask``); the rest, and
    the model's files, are those of a single-process run.

    With ``exchange`` (partners' indicators in the store: ``parcelscreen train`` passes one
    where the exchange is configured and the store holds some), every parcel's
    partner-seizure features, point in time, become inputs of the model, each held to a
    monotone (+1) constraint; the model card says so. Without, the model is as before."""
    started = time.perf_counter()
    config = config or TrainConfig()
    on_dask: DaskTraining | None = None
    data = None
    with ExitStack() as stack:
        replay, fit, cluster = replay_history, fit_local, None
        if dask is not None:
            client = stack.enter_context(dask_client(dask, dask_workers, dask_processes))
            replay, fit = partial(dask_replay, client), partial(dask_fit, client)
            cluster = {
                "scheduler": "local" if dask == "local" else "remote",
                "workers": len(client.scheduler_info().get("workers", {})),
            }
            progress(f"on Dask: {cluster['workers']} worker(s) at {client.scheduler.address}")
        if dask is not None and exchange is None:  # the data never whole in this process
            on_dask = train_on_dask(client, data_dir, key, config, validate, progress, truth)
            result = on_dask.result
        else:
            data = load_dataset(
                data_dir / "declarations.parquet",
                data_dir / "outcomes.parquet",
                Pseudonymiser(key),
                validate,
                progress,
                replay,
                exchange,
            )
            result = train_model(data, config, progress, fit)
    split = result.split
    if on_dask is not None:
        metrics, prob_valid, check = on_dask.metrics, on_dask.prob_reference, on_dask.check
        reference_rows = np.arange(len(result.matrix))
        counts = {name: on_dask.counts[name] for name in ("training", "labelled", "seizures")}
    else:
        assert data is not None
        progress("evaluating on the test period")
        metrics = evaluate(result, data, pq.read_table(truth) if truth else None)
        reference_rows = np.flatnonzero(split.validation)
        prob_valid = result.calibration.probability(
            predict_margin(result.booster, result.matrix[reference_rows])
        )
        test_rows = np.flatnonzero(split.test)
        rng = np.random.default_rng(config.seed)
        check = result.matrix[
            rng.choice(test_rows, min(PARITY_ROWS, len(test_rows)), replace=False)
        ]
        known = split.train & data.inspected & (data.known_us < split.train_cutoff_us)
        counts = {
            "training": int(split.train.sum()),
            "labelled": int(known.sum()),
            "seizures": int(data.seized[known].sum()),
        }
    progress("exporting to ONNX with the parity gate")
    onnx_bytes, parity = export_onnx(result.booster, len(result.spec.names), check)
    info = {
        "model_name": "parcelscreen-xgboost",
        "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "feature_version": FEATURE_VERSION,
        "features": len(result.spec.names),
        "xgboost_version": xgboost.__version__,
        "parity": {
            "rows": parity.rows,
            "max_abs_diff": parity.max_abs_diff,
            "tolerance": parity.tolerance,
        },
        "training": result.params()
        | {
            "period": split.describe(),
            "parcels": counts["training"],
            "labelled": counts["labelled"],
            "seizures": counts["seizures"],
            "source": str(data_dir.name),
            **read_provenance(data_dir),
        }
        | ({"dask": cluster} if cluster else {}),
    }
    if exchange is not None and data is not None and data.exchange is not None:
        hit = data.exchange.matrix[:, 0] > 0
        info["exchange"] = {
            "features": list(EXCHANGE_FEATURES),
            "monotone": dict(EXCHANGE_MONOTONE),
            "partner_indicators": exchange.index().indicators,
            "training_parcels_with_hit": int((hit & split.train).sum()),
            "labelled_with_hit": int((hit & known).sum()),
            "seizures_with_hit": int((hit & known & data.seized).sum()),
            "uplift_rounds": result.uplift_rounds,
        }
    with tempfile.TemporaryDirectory() as tmp:
        bundle = Path(tmp) / "bundle"
        write_bundle(
            bundle,
            BundleContents(
                onnx_bytes,
                result.booster,
                result.spec,
                result.calibration,
                thresholds(prob_valid),
                reference(result, prob_valid, reference_rows),
                metrics,
                info,
                model_card(info, metrics),
            ),
        )
        registry = ModelRegistry(registry_root)
        version = registry.publish(bundle, signing_key=signing_key)
    registry.set_alias(alias, version)
    progress(f"published version {version} as {alias}")
    return TrainingRun(
        version, registry.path(version), _jsonable(metrics), time.perf_counter() - started
    )
