"""The next training data set from what the service stored: pseudonymised declarations and
the recorded outcomes (with selection reasons and probabilities), in the contract's Parquet
form, so that ``parcelscreen train --data DIR`` takes it as it is.

Each item's outcome is its latest effective one (as the queue and the entity history count
it): a correction replaces what it corrects, a correction waiting for approval does not yet.
It is written as a plain outcome: what it corrected and why stay in the record database.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from data_contracts import (
    JSON_ONLY_OUTCOME_FIELDS,
    InspectionOutcome,
    ParcelDeclaration,
    write_records,
)

from .._sqlite import Database
from .._store import StateStore
from ._parcels import ParcelStore


def export_training_data(state: Path | Database, out: Path) -> dict[str, Any]:
    """Write out/declarations.parquet and out/outcomes.parquet: per item, its latest effective
    outcome (a correction named what it corrects, so it wins whatever its recorded time).
    ``state``: the record database's file, or the record database (left open)."""
    db = state if isinstance(state, Database) else Database(state)
    try:
        declarations = [ParcelDeclaration.model_validate(d) for d in ParcelStore(db).declarations()]
        known = {d.item_id for d in declarations}
        outcomes = [
            InspectionOutcome.model_validate(
                {k: v for k, v in record.items() if k not in JSON_ONLY_OUTCOME_FIELDS}
            )
            for record in StateStore(db).effective_outcomes()
            if record["item_id"] in known
        ]
    finally:
        if db is not state:
            db.close()
    out.mkdir(parents=True, exist_ok=True)
    write_records(declarations, out / "declarations.parquet", "declaration")
    write_records(outcomes, out / "outcomes.parquet", "outcome")
    return {
        "declarations": len(declarations),
        "outcomes": len(outcomes),
        "seizures": sum(o.result == "seized" for o in outcomes),
        "out": str(out),
    }
