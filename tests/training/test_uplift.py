"""The partner-seizure uplift (``training._uplift``): trees on the partner features alone,
appended to a base model that does not read them. Parcels without a hit keep the base's order
exactly; a hit never lowers a score; the one booster exports to ONNX and explains with exact
TreeSHAP like any other; no seizure among the hits adds no tree."""

from __future__ import annotations

import numpy as np
import pytest
import xgboost

from screening.exchange import EXCHANGE_FEATURES
from screening.explain import TreeExplainerTables
from training import add_partner_uplift
from training._uplift import XY, uplift_params
from training.export import export_onnx

BASE = 6  # the base model's columns; the partner ones follow
WIDTH = BASE + len(EXCHANGE_FEATURES)
PARAMS = {
    "objective": "binary:logistic",
    "eval_metric": "aucpr",
    "tree_method": "hist",
    "max_depth": 4,
    "eta": 0.1,
    "subsample": 0.9,
    "colsample_bytree": 0.8,
    "nthread": 1,
    "seed": 0,
}


def _partner_columns(rng: np.random.Generator, hit: np.ndarray) -> np.ndarray:
    """Hit, partners, freshness, reliability, address hit: 0 without a hit (as matched)."""
    n = len(hit)
    columns = np.column_stack(
        [
            np.ones(n),
            rng.integers(1, 3, n),
            rng.uniform(0.05, 1.0, n),
            rng.choice([0.5, 1.0, 2.0, 3.0], n),
            rng.integers(0, 2, n),
        ]
    )
    return np.where(hit[:, None], columns, 0.0)


def _data(seed: int, n: int, hit_rate: float = 0.06) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, BASE))
    hit = rng.random(n) < hit_rate
    partner = _partner_columns(rng, hit)
    logit = -3.5 + 1.2 * x[:, 0] - 0.8 * x[:, 1] * x[:, 2] + 1.5 * hit + 0.6 * partner[:, 3]
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.float32)
    return np.hstack([x, partner]).astype(np.float32), y


def _xy(x: np.ndarray, y: np.ndarray) -> XY:
    return x, y, np.ones(len(y), dtype=np.float32)


def _base(x: np.ndarray, y: np.ndarray) -> xgboost.Booster:
    return xgboost.train(PARAMS, xgboost.DMatrix(x[:, :BASE], label=y), num_boost_round=60)


def _margin(booster: xgboost.Booster, x: np.ndarray) -> np.ndarray:
    return booster.predict(xgboost.DMatrix(x, missing=np.nan), output_margin=True)


@pytest.fixture(scope="module")
def fitted() -> tuple[xgboost.Booster, xgboost.Booster, int, np.ndarray]:
    """(base, base with uplift, uplift trees, test rows)."""
    x, y = _data(1, 12_000)
    train, valid, test = x[:8000], x[8000:10_000], x[10_000:]
    base = _base(train, y[:8000])
    booster, rounds, _ = add_partner_uplift(
        base, PARAMS, _xy(train, y[:8000]), _xy(valid, y[8000:10_000]), 300, 30
    )
    return base, booster, rounds, test


def test_parcels_without_a_hit_keep_the_base_order(
    fitted: tuple[xgboost.Booster, xgboost.Booster, int, np.ndarray],
) -> None:
    base, booster, rounds, test = fitted
    assert rounds > 0 and booster.num_features() == WIDTH
    assert booster.num_boosted_rounds() == base.num_boosted_rounds() + rounds
    no_hit = test[test[:, BASE] == 0]
    before, after = _margin(base, no_hit[:, :BASE]), _margin(booster, no_hit)
    shift = after - before
    assert np.ptp(shift) < 1e-5  # one constant for every parcel without a hit
    order = np.argsort(before, kind="stable")
    assert (np.diff(after[order]) >= 0).all()  # the base's order (ties may join, never flip)


def test_a_hit_never_lowers_a_score(
    fitted: tuple[xgboost.Booster, xgboost.Booster, int, np.ndarray],
) -> None:
    _, booster, _, test = fitted
    rng = np.random.default_rng(5)
    hit = test[test[:, BASE] > 0]
    without = hit.copy()
    without[:, BASE:] = 0.0
    assert (_margin(booster, hit) >= _margin(booster, without)).all()
    assert (_margin(booster, hit) > _margin(booster, without)).mean() > 0.5
    # more evidence in any partner column never lowers a score either
    more = hit.copy()
    more[:, BASE:] += rng.uniform(0, 1, (len(hit), len(EXCHANGE_FEATURES))) * [0, 1, 0, 1, 0]
    more[:, BASE + 2] = np.minimum(1.0, hit[:, BASE + 2] + rng.uniform(0, 0.5, len(hit)))
    more[:, BASE + 4] = 1.0
    assert (_margin(booster, more) >= _margin(booster, hit)).all()


def test_the_uplift_reads_only_partner_columns_under_plus_one(
    fitted: tuple[xgboost.Booster, xgboost.Booster, int, np.ndarray],
) -> None:
    base, booster, _, _ = fitted
    params = uplift_params(PARAMS)
    assert params["monotone_constraints"] == "(1,1,1,1,1)"
    dump = booster.trees_to_dataframe()
    added = dump[dump["Tree"] >= base.num_boosted_rounds()]
    used = {f for f in added["Feature"] if f != "Leaf"}
    assert used and used <= {f"f{i}" for i in range(BASE, WIDTH)}


def test_the_one_booster_exports_and_explains(
    fitted: tuple[xgboost.Booster, xgboost.Booster, int, np.ndarray],
) -> None:
    _, booster, _, test = fitted
    _, report = export_onnx(booster, WIDTH, test[:500])
    assert report.max_abs_diff <= report.tolerance
    tables = TreeExplainerTables.from_booster(booster, WIDTH)
    rows = test[:300]
    ours = tables.contributions(rows)
    theirs = booster.predict(xgboost.DMatrix(rows, missing=np.nan), pred_contribs=True)
    np.testing.assert_allclose(ours, theirs, atol=1e-4)
    np.testing.assert_allclose(ours.sum(axis=1), _margin(booster, rows), atol=1e-4)


@pytest.mark.parametrize(
    "hit_rate, seized_hits",
    [
        (0.0, False),  # no hit among the training rows
        (0.06, False),  # hits, but not one of them seized
    ],
)
def test_without_a_seized_hit_no_tree_is_added(hit_rate: float, seized_hits: bool) -> None:
    x, y = _data(2, 6000, hit_rate)
    if not seized_hits:
        y[x[:, BASE] > 0] = 0.0
    base = _base(x[:4000], y[:4000])
    booster, rounds, _ = add_partner_uplift(
        base, PARAMS, _xy(x[:4000], y[:4000]), _xy(x[4000:], y[4000:]), 300, 30
    )
    assert rounds == 0 and booster.num_boosted_rounds() == base.num_boosted_rounds()
    np.testing.assert_array_equal(_margin(booster, x), _margin(base, x[:, :BASE]))


def test_a_base_of_the_wrong_width_is_refused() -> None:
    x, y = _data(3, 2000)
    wide = xgboost.train(PARAMS, xgboost.DMatrix(x, label=y), num_boost_round=5)
    with pytest.raises(ValueError, match="the base reads 11 features, expected 6"):
        add_partner_uplift(wide, PARAMS, _xy(x, y), _xy(x, y), 10, 5)
