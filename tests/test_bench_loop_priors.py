"""The loop bench's empirical-Bayes category priors: shrunk towards the overall rate, and a
training row's own label never in its own prior (out of fold)."""

import numpy as np

from bench.loop._priors import Priors


def _priors(codes: list[int], strength: float = 10.0, folds: int = 5) -> Priors:
    return Priors(np.array(codes, dtype=np.int64).reshape(-1, 1), strength, folds, seed=3)


def test_rates_are_shrunk_towards_the_overall_rate() -> None:
    # category 0: 2 seized of 100; category 1: none of 100; category 2 never labelled
    priors = _priors([0] * 100 + [1] * 100 + [2] * 5, strength=10.0)
    rows = np.arange(200)
    y = np.zeros(200, bool)
    y[:2] = True
    priors.fit(rows, y, np.ones(200))
    value = priors.values(np.array([0, 150, 202]))[:, 0]
    m = 2 / 200
    assert value[0] == np.log((2 + 10 * m) / (100 + 10) / m)  # above the overall rate
    assert value[1] == np.log((0 + 10 * m) / (100 + 10) / m)  # below it
    assert value[2] == 0.0  # never labelled: the overall rate itself


def test_a_training_rows_own_label_does_not_enter_its_own_prior() -> None:
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 4, 400).tolist()
    rows = np.arange(400)
    y = rng.random(400) < 0.05
    before = _priors(codes).fit(rows, y, np.ones(400))
    flipped = y.copy()
    flipped[7] = not flipped[7]
    after = _priors(codes).fit(rows, flipped, np.ones(400))
    assert after[7, 0] == before[7, 0]
    assert not np.array_equal(after, before)  # the label moves the other folds' priors


def test_before_any_fit_every_prior_is_zero() -> None:
    assert not _priors([0, 1, 1]).values(slice(0, 3)).any()
