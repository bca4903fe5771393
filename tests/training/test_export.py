"""Margin-output ONNX export of real, small XGBoost models, with its parity gate."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np
import onnx
import pytest
import xgboost
from onnx import helper

from training.export import (
    ExportError,
    ParityError,
    check_parity,
    export_onnx,
    onnx_margins,
    threshold_rows,
)

N_FEATURES = 6


def _data(seed: int, n: int = 3000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, N_FEATURES))
    x[rng.random(x.shape) < 0.15] = np.nan  # missing values everywhere, as in declarations
    signal = np.nan_to_num(x[:, 0]) + 0.5 * np.nan_to_num(x[:, 1]) + rng.normal(size=n)
    y = (signal > 2.5).astype(int)  # rare positives, a few percent
    return x, y


def _train(
    depth: int, rounds: int, seed: int = 0, names: bool = False, **params: object
) -> xgboost.Booster:
    x, y = _data(seed)
    feature_names = [f"col_{i}" for i in range(N_FEATURES)] if names else None
    dtrain = xgboost.DMatrix(x, label=y, missing=np.nan, feature_names=feature_names)
    params = {"objective": "binary:logistic", "max_depth": depth, "eta": 0.3, **params}
    return xgboost.train(params, dtrain, rounds)


MODELS = {
    "depth2": lambda: _train(depth=2, rounds=30),  # shallow, many trees
    "depth6": lambda: _train(depth=6, rounds=60, seed=1),  # deep trees, long NaN paths
    "single_tree": lambda: _train(depth=3, rounds=1, seed=2),  # one tree only
    "named_features": lambda: _train(depth=4, rounds=10, seed=3, names=True),  # col_i names
    "stump_no_split": lambda: _train(depth=3, rounds=3, seed=4, gamma=1e9),  # leaves only
}


@pytest.fixture(scope="module", params=sorted(MODELS))
def booster(request: pytest.FixtureRequest) -> xgboost.Booster:
    return MODELS[request.param]()


@pytest.fixture(scope="module")
def deep_booster() -> xgboost.Booster:
    return MODELS["depth6"]()


def test_export_passes_parity(booster: xgboost.Booster) -> None:
    x, _ = _data(seed=99, n=500)
    data, report = export_onnx(booster, N_FEATURES, x)
    assert report.max_abs_diff <= report.tolerance == 1e-4
    assert report.rows == 500 + 1 + report.threshold_rows
    onnx.checker.check_model(onnx.load_from_string(data))


def test_graph_interface(deep_booster: xgboost.Booster) -> None:
    x, _ = _data(seed=5, n=50)
    data, _ = export_onnx(deep_booster, N_FEATURES, x)
    model = onnx.load_from_string(data)
    (inp,), (out,) = model.graph.input, model.graph.output
    assert inp.name == "features"
    assert inp.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert [d.dim_value for d in inp.type.tensor_type.shape.dim] == [0, N_FEATURES]
    assert out.name == "margin"
    assert [d.dim_value for d in out.type.tensor_type.shape.dim] == [0, 1]
    assert [n.op_type for n in model.graph.node] == ["TreeEnsembleRegressor"]


def test_sigmoid_of_margin_is_the_booster_probability(deep_booster: xgboost.Booster) -> None:
    x, _ = _data(seed=6, n=400)
    data, _ = export_onnx(deep_booster, N_FEATURES, x)
    margin = onnx_margins(data, x).astype(np.float64)
    prob = 1.0 / (1.0 + np.exp(-margin))
    expected = deep_booster.predict(xgboost.DMatrix(x, missing=np.nan))
    np.testing.assert_allclose(prob, expected, rtol=1e-4, atol=1e-7)


def test_base_score_is_in_the_graph() -> None:
    """XGBoost 3 estimates base_score from the labels; the margin must include its logit."""
    booster = _train(depth=2, rounds=2, seed=7, base_score=0.02)
    config = json.loads(booster.save_config())["learner"]["learner_model_param"]
    assert float(json.loads(config["base_score"])[0]) == pytest.approx(0.02)
    x, _ = _data(seed=8, n=100)
    export_onnx(booster, N_FEATURES, x)  # parity would fail by |logit(.02)| ~ 3.9 otherwise


def test_threshold_rows_hit_every_split_exactly(deep_booster: xgboost.Booster) -> None:
    rows = threshold_rows(deep_booster, N_FEATURES)
    model = json.loads(deep_booster.save_raw("json"))
    splits = 0
    for tree in model["learner"]["gradient_booster"]["model"]["trees"]:
        for left, feature, value in zip(
            tree["left_children"], tree["split_indices"], tree["split_conditions"], strict=True
        ):
            if left == -1:
                continue  # a leaf
            splits += 1
            assert (rows[:, feature] == np.float32(value)).any(), (feature, value)
    assert splits > 0
    assert np.isnan(rows).any()  # the second block mixes NaN into threshold rows


def test_rows_one_ulp_around_thresholds_agree(deep_booster: xgboost.Booster) -> None:
    """x < t goes left in XGBoost; BRANCH_LT must agree right at and next to t."""
    at = threshold_rows(deep_booster, N_FEATURES)
    below = np.nextafter(at, np.float32(-np.inf))
    above = np.nextafter(at, np.float32(np.inf))
    _, report = export_onnx(deep_booster, N_FEATURES, np.vstack([at, below, above]))
    assert report.max_abs_diff <= 1e-4


def _tampered(data: bytes, attribute: str, change: Callable[[Any], Any]) -> bytes:
    model = onnx.load_from_string(data)
    (node,) = model.graph.node
    for i, attr in enumerate(node.attribute):
        if attr.name == attribute:
            node.attribute[i].CopyFrom(
                helper.make_attribute(attribute, change(helper.get_attribute_value(attr)))
            )
    return bytes(model.SerializeToString())


def test_tampered_base_value_is_refused(deep_booster: xgboost.Booster) -> None:
    x, _ = _data(seed=9, n=200)
    data, _ = export_onnx(deep_booster, N_FEATURES, x)
    bad = _tampered(data, "base_values", lambda v: [v[0] + 1e-3])
    with pytest.raises(ParityError, match=r"differs from XGBoost by 0\.001 > tolerance 0\.0001"):
        check_parity(bad, deep_booster, x)
    assert check_parity(bad, deep_booster, x, tolerance=1e-2).max_abs_diff > 1e-4


def test_tampered_leaf_is_refused_and_row_named(deep_booster: xgboost.Booster) -> None:
    x, _ = _data(seed=10, n=200)
    data, _ = export_onnx(deep_booster, N_FEATURES, x)
    bad = _tampered(data, "target_weights", lambda w: [v + 0.5 for v in w[:1]] + list(w[1:]))
    with pytest.raises(ParityError, match=r"by 0\.5 > tolerance.*worst row \d+ \("):
        check_parity(bad, deep_booster, np.vstack([x, threshold_rows(deep_booster, 6)]))


def test_graph_of_another_model_is_refused(deep_booster: xgboost.Booster) -> None:
    """A perturbed model (one more boosting round) must not pass against the exported one."""
    x, y = _data(seed=1)
    data, _ = export_onnx(deep_booster, N_FEATURES, x[:100])
    grown = deep_booster.copy()
    grown.update(xgboost.DMatrix(x, label=y, missing=np.nan), iteration=60)
    with pytest.raises(ParityError, match="worst row"):
        check_parity(data, grown, x[:100], tolerance=0.0)


@pytest.mark.parametrize(
    ("make", "n_features", "rows", "message"),
    [
        # a regression objective has no logit margin to export
        (
            lambda: _train(2, 2, objective="reg:squarederror"),
            6,
            np.zeros((1, 6)),
            "only binary:logistic",
        ),
        # the graph's input width must match the booster
        (lambda: _train(2, 2), 5, np.zeros((1, 5)), "n_features is 5 but the booster"),
        # check rows of the wrong width
        (lambda: _train(2, 2), 6, np.zeros((3, 4)), r"check_rows must have shape \(n, 6\)"),
        # no rows at all
        (lambda: _train(2, 2), 6, np.zeros((0, 6)), "check_rows is empty"),
        # infinity is not a missing value
        (lambda: _train(2, 2), 6, np.full((1, 6), np.inf), r"check_rows\[0, 0\] is infinite"),
    ],
)
def test_bad_exports_are_refused(make: Any, n_features: Any, rows: Any, message: Any) -> None:
    with pytest.raises(ExportError, match=message):
        export_onnx(make(), n_features, rows)


def test_leaf_weights_survive_as_float32(deep_booster: xgboost.Booster) -> None:
    """The graph keeps the converter's leaf values; none is lost or duplicated."""
    x, _ = _data(seed=11, n=10)
    data, _ = export_onnx(deep_booster, N_FEATURES, x)
    (node,) = onnx.load_from_string(data).graph.node
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    leaves = sum(m == b"LEAF" for m in attrs["nodes_modes"])
    assert len(attrs["target_weights"]) == leaves
    assert len(set(attrs["target_treeids"])) == deep_booster.num_boosted_rounds()
