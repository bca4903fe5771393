"""XGBoost on observed labels with inverse-propensity weights, then Platt calibration.

No blind re-weighting of positives: rare positives are handled by early stopping on the
validation PR-AUC, and probabilities are calibrated on the validation period.

Selective labels: only inspected parcels are labelled. Each carries its inverse selection
probability as a weight. Calibration and the evaluation use those weights in full, so they
speak for the whole flow. The trees are fitted with the weights clipped (``train_weight_cap``):
today's selections depend on observable data (rules, watch lists), so P(seizure | features)
is learnable from the inspected parcels themselves, and full weights of several hundred on the
few random-control items made the fit noise (measured on the simulator at default settings:
Precision@1% 0.035 with full weights, 0.35 clipped at 10, 0.385 with every label known).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

import numpy as np
import xgboost

from screening import (
    Calibration,
    FeatureSpec,
    ParcelFrame,
    feature_matrix,
    fit_feature_spec,
    fit_platt,
)

from ._dataset import Dataset, Progress
from ._errors import QualityGateError
from ._split import TimeSplit, time_split
from ._uplift import add_partner_uplift

XY = tuple[np.ndarray, np.ndarray, np.ndarray]  # features, labels, weights
#: Trains the trees: (parameters, training rows, validation rows, rounds, early stopping)
#: to (booster, evaluation log).
Fit = Callable[[dict[str, Any], XY, XY, int, int], tuple[xgboost.Booster, dict[str, Any]]]


@dataclass(frozen=True)
class TrainConfig:
    """Knobs of one training run (defaults suit the simulated data's size)."""

    gap_days: float = 21.0
    max_depth: int = 6
    learning_rate: float = 0.08
    rounds: int = 800
    early_stopping: int = 60
    min_child_weight: float = 2.0
    subsample: float = 0.9
    colsample_bytree: float = 0.8
    weight_cap: float = 1000.0  # inverse-propensity weights for calibration and metrics
    train_weight_cap: float = 10.0  # clipped weights for fitting the trees (see module doc)
    min_positives: int = 10
    threads: int = 2
    seed: int = 0


@dataclass
class TrainResult:
    booster: xgboost.Booster
    spec: FeatureSpec
    calibration: Calibration
    split: TimeSplit
    matrix: np.ndarray  # float32 features of every parcel
    weights: np.ndarray  # inverse-propensity weights (0 where unlabelled)
    best_iteration: int
    config: TrainConfig
    log: dict[str, Any] = field(default_factory=dict)
    #: Trees of the partner-seizure uplift after the base's (``_uplift``); 0 without one.
    uplift_rounds: int = 0

    def params(self) -> dict[str, Any]:
        uplift = {"uplift_rounds": self.uplift_rounds} if self.spec.reads_exchange else {}
        return asdict(self.config) | {"best_iteration": self.best_iteration} | uplift


def ipw_weights(data: Dataset, cap: float) -> np.ndarray:
    """1 / selection probability for inspected parcels (1 where unknown), capped, else 0."""
    p = np.where(np.isfinite(data.selection_probability), data.selection_probability, 1.0)
    w = np.minimum(1.0 / np.clip(p, 1e-9, 1.0), cap)
    return np.where(data.inspected, w, 0.0)


#: Share of seizures among the weighted labelled rows from which ``min_child_weight`` applies as
#: configured; below it the setting shrinks in proportion (:func:`leaf_weight`).
FULL_LEAF_RATE = 0.04


def leaf_weight(min_child_weight: float, seized: np.ndarray, weights: np.ndarray) -> float:
    """``min_child_weight`` for the trees, scaled down in proportion to the seizure share of the
    labelled rows below :data:`FULL_LEAF_RATE`.

    The setting bounds a leaf's hessian, about ``rate * (1 - rate)`` a row at the base rate, so
    one value asks for ten times as many parcels in a leaf when seizures are ten times rarer.
    In the loop bench at 0.05% (seizures 0.6 to 0.9% of the policy's inspections, against 11
    to 13% at 0.5%) the trees then could not split off the few seizures they had; scaled, a
    leaf needs about as many parcels at either prevalence. The loop's weekly retraining uses it;
    :func:`train_model` does not yet: on the tests' small data set (seizures 0.3% of the
    labelled rows) the Dask and single-process models then differ by 0.039 in ROC AUC, beyond
    the 0.03 their parity test allows (issue 18, third session)."""
    w = np.asarray(weights, dtype=np.float64)
    rate = float(np.sum(w * np.asarray(seized, dtype=bool)) / max(np.sum(w), 1e-12))
    return min_child_weight * min(1.0, rate / FULL_LEAF_RATE)


def _xgb_params(config: TrainConfig) -> dict[str, Any]:
    """XGBoost's parameters (the partner-seizure uplift adds its own constraints:
    ``_uplift.uplift_params``)."""
    return {
        "objective": "binary:logistic",
        "eval_metric": "aucpr",
        "tree_method": "hist",
        "max_depth": config.max_depth,
        "eta": config.learning_rate,
        "min_child_weight": config.min_child_weight,
        "subsample": config.subsample,
        "colsample_bytree": config.colsample_bytree,
        "nthread": config.threads,
        "seed": config.seed,
    }


def fit_local(
    params: dict[str, Any], train: XY, valid: XY, rounds: int, early_stopping: int
) -> tuple[xgboost.Booster, dict[str, Any]]:
    """``xgboost.train`` in this process, stopping early on validation; booster and log."""

    def dmatrix(xyw: XY) -> xgboost.DMatrix:
        return xgboost.DMatrix(xyw[0], label=xyw[1], weight=xyw[2], missing=np.nan)

    dtrain, dvalid = dmatrix(train), dmatrix(valid)
    log: dict[str, Any] = {}
    booster = xgboost.train(
        params,
        dtrain,
        num_boost_round=rounds,
        evals=[(dtrain, "train"), (dvalid, "validation")],
        early_stopping_rounds=early_stopping,
        evals_result=log,
        verbose_eval=False,
    )
    return booster, log


def train_model(
    data: Dataset, config: TrainConfig, progress: Progress, fit: Fit = fit_local
) -> TrainResult:
    """Split by time, fit features' reference statistics, train, stop early, calibrate.

    ``fit`` trains the trees (:func:`fit_local`, or on a Dask cluster: same parameters). With
    partners' indicators (``data.exchange``) those trees are the base model, on every feature
    but the partner ones; trees on the partner features alone follow in this process
    (``_uplift``), so parcels without a hit keep the base model's order."""
    split = time_split(data.frame.posted_us, config.gap_days)
    train_rows = np.flatnonzero(split.train)
    spec = fit_feature_spec(_rows(data, train_rows))
    base_columns = len(spec.names)  # the base model's: every feature but the partner ones
    exchange = None
    if data.exchange is not None:  # partners' indicators in the store: the model reads them
        spec, exchange = spec.with_exchange(), data.exchange.matrix
    matrix = feature_matrix(data.frame, data.history, spec, exchange)
    weights = ipw_weights(data, config.weight_cap)
    known_train = split.train & data.inspected & (data.known_us < split.train_cutoff_us)
    known_valid = split.validation & data.inspected & (data.known_us < split.validation_cutoff_us)
    for name, mask in (("training", known_train), ("validation", known_valid)):
        positives = int(data.seized[mask].sum())
        if positives < config.min_positives:
            raise QualityGateError(
                f"{name} period has {positives} known seizures; at least "
                f"{config.min_positives} are needed to train"
            )
    progress(
        f"training on {known_train.sum()} labelled parcels "
        f"({data.seized[known_train].sum()} seizures), validating on {known_valid.sum()}"
    )

    train_weights = np.minimum(weights, config.train_weight_cap)

    def labelled(mask: np.ndarray, columns: int = matrix.shape[1]) -> XY:
        w = train_weights[mask]
        return matrix[mask, :columns], data.seized[mask].astype(np.float32), w / w.mean()

    # the base model: every feature but the partner ones (the model trained without them)
    booster, log = fit(
        _xgb_params(config),
        labelled(known_train, base_columns),
        labelled(known_valid, base_columns),
        config.rounds,
        config.early_stopping,
    )
    best = int(booster.best_iteration)
    booster = booster[: best + 1]  # keep exactly the trees that scored best on validation
    progress(f"best iteration {best} of {config.rounds}")
    uplift_rounds = 0
    if spec.reads_exchange:  # then trees on the partner features alone (see _uplift)
        booster, uplift_rounds, log["uplift"] = add_partner_uplift(
            booster,
            _xgb_params(config),
            labelled(known_train),
            labelled(known_valid),
            config.rounds,
            config.early_stopping,
        )
        progress(
            f"partner-seizure uplift: {uplift_rounds} trees on the partner features"
            if uplift_rounds
            else "warning: partner-seizure uplift: no tree, so this model weighs partner hits "
            "at 0: no labelled parcel with a hit was seized yet (hits count from a bundle's "
            "import on; retrain once parcels with hits have outcomes)"
        )
    progress("calibrating on validation")
    # Tip-offs are chosen knowing the label, so no propensity undoes their selection: they
    # train the trees but stay out of the calibration (and of weighted evaluation).
    rows = known_valid & (data.selection_reason != "tip_off")
    if not data.seized[rows].any():
        raise QualityGateError(
            "no seizure left to calibrate on in the validation period once tip-offs are left out"
        )
    calibration = fit_platt(predict_margin(booster, matrix[rows]), data.seized[rows], weights[rows])
    return TrainResult(
        booster, spec, calibration, split, matrix, weights, best, config, log, uplift_rounds
    )


def _rows(data: Dataset, rows: np.ndarray) -> ParcelFrame:
    """A frame restricted to some rows (for fitting reference statistics)."""
    frame = data.frame
    changes = {f.name: getattr(frame, f.name)[rows] for f in fields(frame) if f.name != "tokens"}
    return replace(frame, **changes, tokens={k: v[rows] for k, v in frame.tokens.items()})


def predict_margin(booster: xgboost.Booster, matrix: np.ndarray) -> np.ndarray:
    return np.asarray(
        booster.predict(xgboost.DMatrix(matrix, missing=np.nan), output_margin=True),
        dtype=np.float64,
    )
