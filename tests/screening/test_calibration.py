"""Platt scaling at low prevalence (issue 18: the loop bench's calibrations at 0.05% had slopes
of 8 million and -18 thousand, every probability 0 or 1 and the day's ranking lost): it finds
the map where margins are far below zero and rows carry random control's weights, stays finite
when a handful of seizures are separated, and recovers the map when seizures are many."""

from __future__ import annotations

import numpy as np

from screening import fit_platt
from screening._calibration import MIN_SLOPE


def test_a_few_separated_seizures_are_not_called_certain() -> None:
    rng = np.random.default_rng(0)
    margin = rng.normal(-6.0, 1.0, 3000)
    seized = np.zeros(3000, bool)
    top = np.argsort(-margin)[:5]
    seized[top] = True
    margin[top] += 5.0  # five seizures far above every clean parcel: perfectly separated
    weights = np.where(rng.random(3000) < 0.1, 500.0, 1.0)  # random control's full weights
    fitted = fit_platt(margin, seized, weights)
    probability = fitted.probability(margin)
    # five seizures do not make a parcel certain (0/1 targets gave 0.99998 here)
    assert probability.max() < 0.95
    assert 0 < fitted.slope < 3
    assert np.unique(probability).size == np.unique(margin).size  # the ranking survives


def test_margins_far_below_zero_with_heavy_weights_recover_the_map() -> None:
    rng = np.random.default_rng(0)
    margin = rng.normal(-8.0, 1.5, 3000)  # as the loop's trees give at 0.05%
    weights = np.where(rng.random(3000) < 0.3, rng.choice([50.0, 500.0], 3000), 1.0)
    seized = rng.random(3000) < 1 / (1 + np.exp(-(margin + 4.0)))  # truth: slope 1, +4
    fitted = fit_platt(margin, seized, weights)  # plain Newton steps: slope 8 million
    assert 0.7 < fitted.slope < 1.4
    assert 2.0 < fitted.intercept < 6.0


def test_many_seizures_recover_the_calibrated_map() -> None:
    rng = np.random.default_rng(1)
    margin = rng.normal(-4.0, 2.0, 200_000)
    seized = rng.random(margin.size) < 1 / (1 + np.exp(-(0.7 * margin - 0.5)))
    fitted = fit_platt(margin, seized)
    assert abs(fitted.slope - 0.7) < 0.03
    assert abs(fitted.intercept + 0.5) < 0.1


def test_one_heavy_seizure_at_a_low_margin_does_not_reverse_the_ranking() -> None:
    # The loop bench at 0.05%, seed 1: the model's picks hold the seizures near the top, and one
    # random-control seizure (weight 500) at a low margin pulled the fitted slope below zero;
    # every day's "top" was then the parcels the trees held safest (old fit here: slope -3.2).
    rng = np.random.default_rng(3)
    margin = rng.normal(-7.0, 1.0, 4000)
    random = rng.random(4000) < 0.1
    weights = np.where(random, 500.0, 1.0)
    seized = np.zeros(4000, bool)
    picks = np.argsort(-np.where(random, -np.inf, margin))[:400]
    seized[rng.choice(picks, 20, replace=False)] = True
    seized[np.flatnonzero(random & (margin < -8.5))[0]] = True
    fitted = fit_platt(margin, seized, weights)
    assert fitted.slope >= MIN_SLOPE
    probability = fitted.probability(margin)
    assert np.all(np.diff(probability[np.argsort(margin)]) >= 0)  # the ranking is the trees'
    # the intercept, fitted alone, still matches the weighted count of seizures (within 15%)
    assert abs(np.sum(weights * probability) / np.sum(weights[seized]) - 1) < 0.15
