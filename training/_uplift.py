"""The partner-seizure uplift: trees added to a base model, splitting on the partner-seizure
features alone, so that a partner hit can only raise a score and a parcel without a hit keeps
the base model's order exactly.

A model that reads the partner-seizure features (:data:`screening.exchange.EXCHANGE_FEATURES`,
the spec's last columns) is trained in two stages and kept as one booster, so the ONNX export
and TreeSHAP read it as any other:

1. the base: trees on every other feature, the very model trained without the exchange on the
   same rows (:func:`widened` only lets it take the wider input);
2. the uplift (:func:`add_partner_uplift`): boosting on from the base's margins on the partner
   columns alone, each held to +1, and its trees appended to the base's (:func:`appended`).

Every parcel without a hit has the same partner inputs (all 0), so it falls in the same leaf of
every added tree: the uplift shifts all of them by one constant, and their order (and, Platt's
calibration being monotone, their order by probability) is the base model's. A hit's inputs are
at least 0 in every partner column, so under +1 constraints its leaves are at least as high as
no hit's: a hit never lowers a score. A joint model (every feature in one fit) guarantees the
second but not the first: its ranking of the parcels without a hit is another model's, and in
``python -m bench exchange`` it came out worse in two seeds of five (issue 21).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import xgboost

from screening.exchange import EXCHANGE_FEATURES, EXCHANGE_MONOTONE

#: (features, labels, weights), the training and validation rows' form (as ``_train.XY``).
XY = tuple[np.ndarray, np.ndarray, np.ndarray]

#: Depth of the uplift's trees: five monotone inputs need few levels, and a shallow tree keeps
#: each leaf's share of the (few) hits large.
UPLIFT_DEPTH = 3


def uplift_params(params: dict[str, Any]) -> dict[str, Any]:
    """The base's XGBoost parameters for the uplift: every partner column +1, shallower trees,
    all columns in every tree, stopped on validation log loss (it sees how far a hit's
    probability should rise; PR-AUC moves only as far as the few hits change places)."""
    signs = ",".join(str(EXCHANGE_MONOTONE[name]) for name in EXCHANGE_FEATURES)
    return params | {
        "monotone_constraints": f"({signs})",
        "max_depth": min(int(params.get("max_depth", UPLIFT_DEPTH)), UPLIFT_DEPTH),
        "colsample_bytree": 1.0,
        "eval_metric": "logloss",
    }


def _model(booster: xgboost.Booster) -> dict[str, Any]:
    model: dict[str, Any] = json.loads(bytes(booster.save_raw("json")))
    if model["learner"]["gradient_booster"]["name"] != "gbtree":
        raise ValueError("only gbtree boosters take a partner-seizure uplift")
    return model


def _booster(model: dict[str, Any]) -> xgboost.Booster:
    booster = xgboost.Booster()
    booster.load_model(bytearray(json.dumps(model).encode()))
    return booster


def widened(base: xgboost.Booster, n_features: int) -> xgboost.Booster:
    """``base`` taking ``n_features`` inputs (its own first, the others never read): the same
    trees, so the same margins on the columns it was trained on."""
    model = _model(base)
    learner = model["learner"]
    if int(learner["learner_model_param"]["num_feature"]) > n_features:
        raise ValueError(f"a booster of {base.num_features()} features cannot take {n_features}")
    learner["learner_model_param"]["num_feature"] = str(n_features)
    for tree in learner["gradient_booster"]["model"]["trees"]:
        tree["tree_param"]["num_feature"] = str(n_features)
    learner["feature_names"], learner["feature_types"] = [], []
    return _booster(model)


def appended(base: xgboost.Booster, uplift: xgboost.Booster, first: int) -> xgboost.Booster:
    """One booster: ``base``'s trees, then ``uplift``'s, whose inputs are the base's columns
    from ``first`` on (the base's ``base_score`` stays: the uplift was fitted on its margins)."""
    model, extra = _model(base), _model(uplift)
    n_features = int(model["learner"]["learner_model_param"]["num_feature"])
    if first + uplift.num_features() != n_features:
        raise ValueError(
            f"uplift of {uplift.num_features()} features from column {first} does not fit "
            f"a booster of {n_features}"
        )
    gbtree = model["learner"]["gradient_booster"]["model"]
    trees = gbtree["trees"]
    for tree in extra["learner"]["gradient_booster"]["model"]["trees"]:
        inner = [child != -1 for child in tree["left_children"]]
        tree["split_indices"] = [
            i + first if split else i for i, split in zip(tree["split_indices"], inner, strict=True)
        ]
        tree["tree_param"]["num_feature"] = str(n_features)
        tree["id"] = len(trees)
        trees.append(tree)
    gbtree["tree_info"] = [0] * len(trees)
    gbtree["iteration_indptr"] = list(range(len(trees) + 1))
    gbtree["gbtree_model_param"]["num_trees"] = str(len(trees))
    model["learner"]["attributes"] = {}
    return _booster(model)


def add_partner_uplift(
    base: xgboost.Booster,
    params: dict[str, Any],
    train: XY,
    valid: XY,
    rounds: int,
    early_stopping: int,
) -> tuple[xgboost.Booster, int, dict[str, Any]]:
    """``base`` (trained on every column but the partner ones, the last
    ``len(EXCHANGE_FEATURES)``) with the partner-seizure uplift appended: (booster, uplift
    rounds kept, evaluation log). ``train`` and ``valid`` hold every column.

    The uplift is boosted from the base's margins (``base_margin``) on the partner columns
    alone, with :func:`uplift_params`, and stopped early on validation. Without a seizure
    among the training rows with a hit there is nothing to learn: no tree is added (the model
    is the base, taking the partner columns unread)."""
    width = train[0].shape[1]
    first = width - len(EXCHANGE_FEATURES)
    if base.num_features() != first:
        raise ValueError(f"the base reads {base.num_features()} features, expected {first}")

    def dmatrix(xyw: XY) -> xgboost.DMatrix:
        x, y, w = xyw
        margin = base.predict(xgboost.DMatrix(x[:, :first], missing=np.nan), output_margin=True)
        return xgboost.DMatrix(x[:, first:], label=y, weight=w, base_margin=margin, missing=np.nan)

    hits = np.asarray(train[0][:, first] > 0)
    if not (hits & (np.asarray(train[1]) > 0)).any():
        return widened(base, width), 0, {}
    dtrain, dvalid = dmatrix(train), dmatrix(valid)
    log: dict[str, Any] = {}
    uplift = xgboost.train(
        uplift_params(params),
        dtrain,
        num_boost_round=rounds,
        evals=[(dtrain, "train"), (dvalid, "validation")],
        early_stopping_rounds=early_stopping,
        evals_result=log,
        verbose_eval=False,
    )
    kept = int(uplift.best_iteration) + 1
    return appended(widened(base, width), uplift[:kept], first), kept, log
