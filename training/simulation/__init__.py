"""Simulator of international postal flows with darknet drug shipments, and its oracle.

It is the project's training data until a customs partner brings real declarations:
``simulate`` draws declarations (CN23/ITMATT-shaped), inspection outcomes for the items the
day's policy opened (selective labels, with selection probabilities), and a ``truth`` table
with the latent label and the oracle probability. See ``docs/DATA_CARD.md``.
"""

from ._agencies import AgenciesConfig, simulate_agencies
from ._api import simulate, write_simulation
from ._config import SimulationConfig, SimulationResult

__all__ = [
    "AgenciesConfig",
    "SimulationConfig",
    "SimulationResult",
    "simulate",
    "simulate_agencies",
    "write_simulation",
]
