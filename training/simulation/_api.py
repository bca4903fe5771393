"""The two entry points: run a simulation, write its tables."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from ._config import SimulationConfig, SimulationResult
from ._flows import run_days
from ._tables import build_tables, write_tables


def simulate(
    config: SimulationConfig, progress: Callable[[str], None] | None = None
) -> SimulationResult:
    """Run the simulation; the same config (seed included) always gives the same tables.

    ``progress`` receives short status lines (every tenth day, then table building).
    """
    rng = np.random.default_rng(config.seed)
    world, batch, found = run_days(config, rng, progress)
    if progress is not None:
        progress("building tables")
    return build_tables(world, batch, found, rng)


def write_simulation(result: SimulationResult, out_dir: Path, csv: bool = False) -> dict[str, Path]:
    """Write ``declarations``, ``outcomes`` and ``truth`` as Parquet (plus, if ``csv``, the
    first two in the contract's CSV form, which ``validate`` and ``screen`` read); returns
    name -> path."""
    return write_tables(result, Path(out_dir), csv)
