"""TreeExplainerTables against XGBoost pred_contribs and a brute-force Shapley computation."""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xgboost as xgb
from hypothesis import given, settings
from hypothesis import strategies as st

from screening.explain import TreeExplainerTables

TOL = 1e-5


def _data(rows: int, features: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Random rows with NaNs, two small-int (categorical-coded) columns, a noisy label."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, features))
    x[:, 1] = rng.integers(0, 4, rows)
    x[:, 2] = rng.integers(0, 3, rows)
    x[rng.random(x.shape) < 0.1] = np.nan
    signal = np.nan_to_num(x[:, 0]) + 0.5 * x[:, 1] - (x[:, 2] == 1) + rng.normal(size=rows)
    return x, (signal > 0.5).astype(float)


def _train(depth: int, rounds: int, x: np.ndarray, y: np.ndarray, **extra: float) -> xgb.Booster:
    params = {
        "max_depth": depth,
        "objective": "binary:logistic",
        "eta": 0.3,
        "nthread": 1,
        "min_child_weight": 0.5,
        **extra,
    }
    return xgb.train(params, xgb.DMatrix(x, y, missing=np.nan), rounds)


def _assert_parity(booster: xgb.Booster, x: np.ndarray, explainer: TreeExplainerTables) -> None:
    data = xgb.DMatrix(x, missing=np.nan)
    expected = booster.predict(data, pred_contribs=True).astype(np.float64)
    margin = booster.predict(data, output_margin=True).astype(np.float64)
    ours = explainer.contributions(x)
    assert ours.dtype == np.float64 and ours.shape == expected.shape
    np.testing.assert_allclose(ours, expected, rtol=0, atol=TOL)
    np.testing.assert_allclose(ours.sum(axis=1), margin, rtol=0, atol=TOL)
    np.testing.assert_allclose(explainer.contributions(x[:1]), ours[:1], rtol=0, atol=1e-9)


@pytest.mark.parametrize(
    ("depth", "rounds"),
    [
        (2, 20),  # shallow: whole trees fit in one tabulated unit
        (6, 30),  # the production depth
        (10, 8),  # deep: leaves past the table limit are explained on the fly
    ],
)
def test_parity_with_pred_contribs(depth: int, rounds: int) -> None:
    x, y = _data(3000, 8, seed=depth)
    booster = _train(depth, rounds, x, y)
    explainer = TreeExplainerTables.from_booster(booster, 8)
    _assert_parity(booster, _data(300, 8, seed=100 + depth)[0], explainer)


def test_parity_all_on_the_fly() -> None:
    # max_state_bits=0: no tables at all, every leaf computed at run time
    x, y = _data(2000, 6, seed=3)
    booster = _train(5, 10, x, y)
    _assert_parity(booster, x[:200], TreeExplainerTables.from_booster(booster, 6, 0))


def test_single_tree_and_rows_on_thresholds() -> None:
    x, y = _data(2000, 5, seed=4)
    booster = _train(4, 1, x, y)
    explainer = TreeExplainerTables.from_booster(booster, 5)
    thresholds = explainer.arrays["node_thr"][explainer.arrays["node_feat"] >= 0]
    features = explainer.arrays["node_feat"][explainer.arrays["node_feat"] >= 0]
    on_split = np.tile(x[:1], (len(thresholds), 1))
    on_split[np.arange(len(thresholds)), features] = thresholds
    _assert_parity(booster, np.vstack([on_split, x[:50]]), explainer)


@pytest.mark.parametrize(
    ("depth", "max_state_bits", "unit_height"), [(10, 5, 2), (6, 10, 3), (6, 0, 2)]
)
def test_one_row_path_matches_pred_contribs(
    depth: int, max_state_bits: int, unit_height: int
) -> None:
    # one row takes its own kernel path (all units' table rows prefetched, then summed): every
    # row alone, with units and loose leaves mixed (depth 10), bigger units, or no tables
    x, y = _data(2000, 8, seed=11 + depth)
    booster = _train(depth, 6, x, y)
    explainer = TreeExplainerTables.from_booster(booster, 8, max_state_bits, unit_height)
    rows = _data(60, 8, seed=12)[0]
    expected = booster.predict(xgb.DMatrix(rows, missing=np.nan), pred_contribs=True)
    batch = explainer.contributions(rows)
    for i, row in enumerate(rows):
        one = explainer.contributions(row)
        np.testing.assert_allclose(one[0], expected[i], rtol=0, atol=TOL)
        np.testing.assert_allclose(one[0], batch[i], rtol=0, atol=1e-9)


def test_single_leaf_trees() -> None:
    # no split anywhere (huge gamma): units without columns or inner nodes
    x, y = _data(500, 3, seed=13)
    booster = _train(3, 3, x, y, gamma=1e9)
    explainer = TreeExplainerTables.from_booster(booster, 3)
    assert (explainer.arrays["node_feat"] < 0).all()
    _assert_parity(booster, x[:20], explainer)


def test_all_missing_row_and_empty_batch() -> None:
    x, y = _data(1000, 4, seed=5)
    booster = _train(3, 5, x, y)
    explainer = TreeExplainerTables.from_booster(booster, 4)
    _assert_parity(booster, np.full((2, 4), np.nan), explainer)
    assert explainer.contributions(np.empty((0, 4))).shape == (0, 5)
    with pytest.raises(ValueError, match="4 features"):
        explainer.contributions(np.zeros((1, 3)))


def test_save_load_round_trip(tmp_path: Path) -> None:
    x, y = _data(1000, 6, seed=6)
    booster = _train(6, 5, x, y)
    explainer = TreeExplainerTables.from_booster(booster, 6)
    path = tmp_path / "treeshap.npz"
    explainer.save(path)
    loaded = TreeExplainerTables.load(path)
    assert loaded.nbytes == explainer.nbytes > 0
    np.testing.assert_array_equal(loaded.contributions(x[:50]), explainer.contributions(x[:50]))


def test_to_shap_explanation() -> None:
    x, y = _data(1000, 4, seed=7)
    booster = _train(3, 5, x, y)
    explainer = TreeExplainerTables.from_booster(booster, 4)
    explanation = explainer.to_shap_explanation(x[:10], ["a", "b", "c", "d"])
    contributions = explainer.contributions(x[:10])
    np.testing.assert_allclose(explanation.values, contributions[:, :-1])
    np.testing.assert_allclose(explanation.base_values, contributions[:, -1])
    assert list(explanation.feature_names) == ["a", "b", "c", "d"]


def _brute_force(booster: xgb.Booster, row: np.ndarray, n_features: int) -> np.ndarray:
    """Shapley values of v(S) = path-dependent conditional expectation (covers), by subsets."""
    import json

    trees = json.loads(bytes(booster.save_raw("json")))["learner"]["gradient_booster"]
    row32 = row.astype(np.float32)

    def expect(tree: dict[str, Any], node: int, subset: frozenset[int]) -> float:
        left, right = tree["left_children"][node], tree["right_children"][node]
        if left == -1:
            return float(np.float32(tree["split_conditions"][node]))
        feature = tree["split_indices"][node]
        if feature in subset:
            value = row32[feature]
            go_left = (
                bool(tree["default_left"][node])
                if np.isnan(value)
                else bool(value < np.float32(tree["split_conditions"][node]))
            )
            return expect(tree, left if go_left else right, subset)
        cover = np.asarray(tree["sum_hessian"], dtype=np.float32).astype(np.float64)
        return float(
            (cover[left] * expect(tree, left, subset) + cover[right] * expect(tree, right, subset))
            / cover[node]
        )

    def value(subset: frozenset[int]) -> float:
        return sum(expect(tree, 0, subset) for tree in trees["model"]["trees"])

    phi = np.zeros(n_features)
    players = range(n_features)
    for i in players:
        others = [p for p in players if p != i]
        for size in range(n_features):
            weight = (
                math.factorial(size)
                * math.factorial(n_features - size - 1)
                / math.factorial(n_features)
            )
            for subset in itertools.combinations(others, size):
                s = frozenset(subset)
                phi[i] += weight * (value(s | {i}) - value(s))
    return phi


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n_features=st.integers(1, 5),
    depth=st.integers(1, 4),
    rounds=st.integers(1, 3),
)
def test_matches_brute_force_shapley(seed: int, n_features: int, depth: int, rounds: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 4, size=(80, n_features)).astype(float)  # few values: repeated splits
    x[rng.random(x.shape) < 0.15] = np.nan
    y = rng.integers(0, 2, 80).astype(float)
    booster = _train(depth, rounds, x, y, min_child_weight=0.0)
    explainer = TreeExplainerTables.from_booster(booster, n_features)
    for row in x[:3]:
        ours = explainer.contributions(row[None, :])[0]
        np.testing.assert_allclose(ours[:-1], _brute_force(booster, row, n_features), atol=1e-6)
        assert ours[-1] == explainer.bias
