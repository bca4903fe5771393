"""Drift alarms on simulated days (issue 18): none on a normal day, the right one on a shift."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow.compute as pc
import pytest

from screening import (
    Pseudonymiser,
    drift_alarms,
    feature_matrix,
    fit_feature_spec,
    frame_from_table,
    replay,
    same_weekday_reference,
    score_alarm,
)
from screening._monitor import chi2_sf, compare
from training.simulation import SimulationConfig, simulate

DAY = 86_400_000_000
HISTORY_WARM_UP = 60  # days before the simulated history store holds most regular parties


@dataclass
class Days:
    posted: np.ndarray
    matrix: np.ndarray
    names: list[str]
    first_day_us: int

    def day(self, d: int) -> tuple[np.ndarray, np.ndarray]:
        start = self.first_day_us + d * DAY
        current = (self.posted >= start) & (self.posted < start + DAY)
        return same_weekday_reference(self.posted, start), current


@pytest.fixture(scope="module")
def days() -> Days:
    result = simulate(SimulationConfig(parcels=200_000, seed=5))
    table = result.declarations
    table = table.take(pc.sort_indices(table, [("posted_at", "ascending")]))
    frame = frame_from_table(table, Pseudonymiser("monitor-test-key-0123456789abcdef"))
    spec = fit_feature_spec(frame)
    matrix = feature_matrix(frame, replay(frame, []), spec)
    first = (int(frame.posted_us.min()) // DAY + 1) * DAY
    return Days(np.asarray(frame.posted_us), matrix, list(spec.names), first)


def test_chi2_tail_matches_known_values() -> None:
    assert chi2_sf(3.84, 1) == pytest.approx(0.05, abs=0.01)
    assert chi2_sf(23.21, 10) == pytest.approx(0.01, abs=0.003)
    assert chi2_sf(0.0, 3) == 1.0


def test_a_small_sample_does_not_alarm_on_noise() -> None:
    rng = np.random.default_rng(0)
    reference = rng.normal(size=5_000)
    psi, p = compare(reference, rng.normal(size=40))
    assert p > 1e-3  # the same distribution: no significance, whatever PSI says
    shifted_psi, shifted_p = compare(reference, rng.normal(0.8, 1.0, size=2_000))
    assert shifted_p < 1e-6 and shifted_psi > 0.1


@pytest.mark.slow
def test_no_alarm_on_normal_days(days: Days) -> None:
    """PSI against the validation period flagged 9 to 23 features on such days."""
    alarmed = {}
    for d in range(HISTORY_WARM_UP, 118):
        reference, current = days.day(d)
        found = drift_alarms(days.matrix[reference], days.matrix[current], days.names)
        if found:
            alarmed[d] = [a.feature for a in found]
    assert not alarmed


@pytest.mark.slow
@pytest.mark.parametrize(
    ("shift", "expected"),
    [
        ("new_origin", "origin_code"),  # 3% of the day from a country unseen before
        ("new_cover", "text_food"),  # 10% of the day switch to food (tea, sweets) as gifts
        ("missing_addresses", "sender_address_missing"),  # 3%: a sender's feed drops addresses
    ],
)
def test_a_shift_alarms_within_a_day(days: Days, shift: str, expected: str) -> None:
    reference, current = days.day(70)
    matrix = days.matrix[current].copy()
    rng = np.random.default_rng(1)
    moved = rng.random(len(matrix)) < (0.10 if shift == "new_cover" else 0.03)
    column = {name: i for i, name in enumerate(days.names)}
    if shift == "new_origin":
        matrix[moved, column["origin_code"]] = 0.0  # a code the reference never had
    elif shift == "new_cover":
        matrix[moved, column["text_food"]] = 1.0
        matrix[moved, column["category_gift"]] = 1.0
    else:
        matrix[moved, column["sender_address_missing"]] = 3.0
    found = [a.feature for a in drift_alarms(days.matrix[reference], matrix, days.names)]
    assert expected in found


def test_score_alarm_needs_a_material_and_significant_shift() -> None:
    rng = np.random.default_rng(2)
    reference = rng.beta(1, 200, size=8_000)
    assert score_alarm(reference, rng.beta(1, 200, size=2_000)) is None
    alarm = score_alarm(reference, rng.beta(1, 100, size=2_000))
    assert alarm is not None and alarm.feature == "score"
