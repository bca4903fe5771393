"""Session fixtures: one simulated data set and one real model trained on it.

The data set inspects 30% of parcels (30% of that at random) so a small simulation holds
enough seizures to train in seconds; it is the real simulator and the real pipeline.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from training import TrainingRun, run_training
from training.simulation import SimulationConfig, simulate, write_simulation

# Test declarations are dated in the past (the factories' March 2026, the simulator's January
# to May 2026): every service the tests start accepts them, in this process and in the serve
# processes it starts, unless a test sets a posting window of its own.
os.environ.setdefault("PARCELSCREEN_POSTED_DAYS_BACK", "36500")

KEY = "test-pseudonymisation-key-0123456789"
#: A stress prevalence (0.5%, ten times the simulator's realistic default) so that a small
#: data set holds enough seizures to train and test on.
SMALL_DATA = SimulationConfig(
    parcels=60_000, days=120, inspection_rate=0.3, random_share=0.3, seed=3, prevalence=0.005
)


@dataclass(frozen=True)
class Trained:
    data: Path
    registry: Path
    run: TrainingRun
    key: str = KEY

    @property
    def version(self) -> str:
        return self.run.version


@pytest.fixture(scope="session")
def sim_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim")
    write_simulation(simulate(SMALL_DATA), out)
    return out


@pytest.fixture(scope="session")
def trained(sim_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Trained:
    registry = tmp_path_factory.mktemp("registry")
    run = run_training(sim_data, registry, KEY, truth=sim_data / "truth.parquet", validate=False)
    return Trained(sim_data, registry, run)
