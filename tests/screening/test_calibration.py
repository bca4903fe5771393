"""Platt scaling stays finite when a handful of seizures are separated by the margin (issue 18:
the loop bench's first calibration at 0.05% had a slope of 8 million, every probability 0 or 1
and the day's ranking lost), and still recovers a calibrated map when seizures are many."""

from __future__ import annotations

import numpy as np

from screening import fit_platt


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


def test_many_seizures_recover_the_calibrated_map() -> None:
    rng = np.random.default_rng(1)
    margin = rng.normal(-4.0, 2.0, 200_000)
    seized = rng.random(margin.size) < 1 / (1 + np.exp(-(0.7 * margin - 0.5)))
    fitted = fit_platt(margin, seized)
    assert abs(fitted.slope - 0.7) < 0.03
    assert abs(fitted.intercept + 0.5) < 0.1
