"""The product's weekly retraining inside the loop: trees on clipped inverse-propensity
weights, cross-fitted Platt scaling."""

from __future__ import annotations

from typing import Any

import numpy as np
import xgboost

from screening import Calibration, fit_platt
from training._train import leaf_weight

from ._config import LoopConfig


class Learner:
    """Weekly retraining on the labels known so far; calibration on matured random control."""

    def __init__(self, config: LoopConfig) -> None:
        self.config = config
        self.booster: xgboost.Booster | None = None
        self.calibration = Calibration()
        self.fits = 0

    def params(self) -> dict[str, Any]:
        c = self.config
        return {
            "objective": "binary:logistic",
            "tree_method": "hist",
            "max_depth": c.max_depth,
            "eta": c.learning_rate,
            "min_child_weight": c.min_child_weight,
            "subsample": 0.9,
            "colsample_bytree": 0.8,
            "nthread": c.threads,
            "seed": c.seed,
        }

    def fit(
        self, x: np.ndarray, y: np.ndarray, weight: np.ndarray, calibrate: np.ndarray, cap: float
    ) -> None:
        """Trees on clipped weights; Platt scaling on cross-fitted margins (each calibration
        row scored by a model that did not see it: in-sample margins of the inspected rows
        are overconfident) with full inverse-propensity weights."""
        clipped = np.minimum(weight, cap)
        self.booster = self._train(x, y, clipped)
        self.fits += 1
        if self.fits % self.config.calibrate_every != 1 and self.config.calibrate_every > 1:
            return  # keep the last calibration (cross-fitting costs two more fits)
        rows = calibrate if y[calibrate].sum() >= 5 else np.ones(y.size, bool)
        fold = np.random.default_rng(self.config.seed).random(y.size) < 0.5
        margin = np.empty(y.size)
        for held in (fold, ~fold):
            booster = self._train(x[~held], y[~held], clipped[~held])
            margin[held] = self._margin(booster, x[held])
        self.calibration = fit_platt(margin[rows], y[rows], weight[rows])

    def _train(self, x: np.ndarray, y: np.ndarray, weight: np.ndarray) -> xgboost.Booster:
        dtrain = xgboost.DMatrix(
            x, label=y.astype(np.float32), weight=weight / weight.mean(), missing=np.nan
        )
        # as the product's training: the leaf bound scaled to the seizure share
        params = self.params() | {
            "min_child_weight": leaf_weight(self.config.min_child_weight, y, weight)
        }
        return xgboost.train(params, dtrain, num_boost_round=self.config.rounds)

    @staticmethod
    def _margin(booster: xgboost.Booster, x: np.ndarray) -> np.ndarray:
        return np.asarray(
            booster.predict(xgboost.DMatrix(x, missing=np.nan), output_margin=True),
            dtype=np.float64,
        )

    def margin(self, x: np.ndarray) -> np.ndarray:
        assert self.booster is not None
        return self._margin(self.booster, x)

    def probability(self, x: np.ndarray) -> np.ndarray:
        return self.calibration.probability(self.margin(x))
