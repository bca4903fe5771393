"""The trees' leaf bound scaled to the seizure share of the labelled rows (issue 18: at 0.05%
seizures are 0.3 to 0.5% of the labelled parcels, and a bound set for 4 to 8% kept the trees
from splitting off the few seizures there were)."""

from __future__ import annotations

import numpy as np
import pytest

from training._train import FULL_LEAF_RATE, leaf_weight


@pytest.mark.parametrize(
    ("share", "expected"),
    [
        (0.08, 1.0),  # 0.5% prevalence in the loop bench: as configured
        (FULL_LEAF_RATE, 1.0),  # the share from which the setting applies in full
        (0.004, 0.1),  # 0.05%: a tenth, so a leaf needs about as many parcels
        (0.0, 0.0),  # no seizure: nothing to split off, any bound does
    ],
)
def test_the_bound_shrinks_with_the_share_of_seizures(share: float, expected: float) -> None:
    seized = np.zeros(10_000, bool)
    seized[: int(round(share * 10_000))] = True
    assert leaf_weight(1.0, seized, np.ones(10_000)) == pytest.approx(expected)


def test_the_share_is_weighted() -> None:
    # 40 seizures among 1,000 model picks (weight 1) and 100 random-control rows of weight 10
    seized = np.zeros(1100, bool)
    seized[:40] = True
    weights = np.where(np.arange(1100) < 1000, 1.0, 10.0)
    assert leaf_weight(2.0, seized, weights) == pytest.approx(2.0 * (40 / 2000) / FULL_LEAF_RATE)
