"""The loop bench's exploration below the model's cut: a fixed number drawn from the band, each
parcel with the same probability (the weight the retraining gives it is its inverse)."""

import numpy as np

from bench.loop._ours import _draw_band

KEY = b"band-test-key"


def test_draws_the_budget_from_the_band_the_same_way_each_time() -> None:
    ids = np.array([f"ID{i}" for i in range(500)], dtype=object)
    band = np.arange(100, 186)
    drawn = _draw_band(band, 2, ids, KEY)
    assert drawn.size == 2 and np.isin(drawn, band).all()
    assert (drawn == _draw_band(band, 2, ids, KEY)).all()
    assert _draw_band(band, 0, ids, KEY).size == 0
    assert _draw_band(band[:0], 2, ids, KEY).size == 0


def test_each_place_in_the_band_is_drawn_with_probability_budget_over_size() -> None:
    # 2,000 days of a band of 20 ranked places, 4 drawn a day: each place 1 in 5
    places = np.zeros(20)
    for day in range(2_000):
        ids = np.array([f"D{day}-{i}" for i in range(20)], dtype=object)
        places[_draw_band(np.arange(20), 4, ids, KEY)] += 1
    share = places / 2_000
    assert np.abs(share - 0.2).max() < 0.04  # binomial sd 0.009
