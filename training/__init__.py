"""Training: data sets, point-in-time features, XGBoost, calibration, metrics, bundles.

Imports ``data_contracts`` and ``screening`` (whose feature code it shares), never
``serving``. The simulator lives in ``training.simulation``.
"""

from ._dataset import Dataset, load_dataset
from ._errors import DataError, QualityGateError, TrainingError
from ._evaluate import evaluate
from ._pipeline import TrainingRun, run_training
from ._split import TimeSplit, time_split
from ._train import TrainConfig, TrainResult, ipw_weights, train_model
from ._uplift import add_partner_uplift

__all__ = [
    "DataError",
    "Dataset",
    "QualityGateError",
    "TimeSplit",
    "TrainConfig",
    "TrainResult",
    "TrainingError",
    "TrainingRun",
    "add_partner_uplift",
    "evaluate",
    "ipw_weights",
    "load_dataset",
    "run_training",
    "time_split",
    "train_model",
]
