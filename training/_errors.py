"""Errors of the training pipeline.

TrainingError          base of every error training raises on purpose
├── DataError          input files that do not fit the contract or cannot be used
└── QualityGateError   a model that fails a gate (too few positives, parity...)
"""

from __future__ import annotations


class TrainingError(Exception):
    """Base of every error the training package raises on purpose."""


class DataError(TrainingError):
    """Training data that does not fit the contract, named by file, record and field."""


class QualityGateError(TrainingError):
    """A model or data set that fails a gate and must not be published."""
