"""Errors of batch screening.

    BatchError                    base of every error raised by serving.batch (``exit_code``)
    ├── ManifestError             the manifest cannot be read in the form it claims (exit 2)
    ├── ResumeError               the output folder holds another run's state (exit 2)
    ├── HaltedError               model-based selection is halted in the record database (exit 2)
    └── ReconciliationError       rows read != rows scored + rows quarantined (exit 3)

Bad *records* are never errors: they go to the quarantine file and the run goes on.
"""

from __future__ import annotations


class BatchError(Exception):
    """Base class of every error raised by serving.batch."""

    exit_code = 2


class ManifestError(BatchError):
    """A manifest that cannot be read as the form it claims (delimiter, schema, bytes)."""


class ResumeError(BatchError):
    """The output folder holds the state of a different run (other manifest or settings)."""


class HaltedError(BatchError):
    """Model-based selection is halted (human oversight) in the record database the run's
    decisions would go to: a run is refused before it scores, and one halted meanwhile
    records no further decision (those recorded before the halt stay)."""


class ReconciliationError(BatchError):
    """Counts do not add up: some record was neither scored nor quarantined."""

    exit_code = 3
