"""The next training data set from what the service stored: pseudonymised declarations and
the recorded outcomes (with selection reasons and probabilities), in the contract's Parquet
form, so that ``parcelscreen train --data DIR`` takes it as it is.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from data_contracts import InspectionOutcome, ParcelDeclaration, write_records

from .._sqlite import Database
from .._store import StateStore
from ._parcels import ParcelStore


def _recorded(record: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(record["recorded_at"])


def export_training_data(state_path: Path, out: Path) -> dict[str, Any]:
    """Write out/declarations.parquet and out/outcomes.parquet; per item, the outcome recorded
    last wins (a lab's correction recorded later but received first is kept)."""
    db = Database(state_path)
    try:
        declarations = [ParcelDeclaration.model_validate(d)
                        for d in ParcelStore(db).declarations()]  # fmt: skip
        known = {d.item_id for d in declarations}
        latest: dict[str, dict[str, Any]] = {}  # the outcome recorded last, as training reads
        for record in StateStore(db).outcomes():  # them (ties: the one received last)
            item = record["item_id"]
            if item in known and (item not in latest or _recorded(record) >= _recorded(
                    latest[item])):  # fmt: skip
                latest[item] = record
        outcomes = [InspectionOutcome.model_validate(r) for r in latest.values()]
    finally:
        db.close()
    out.mkdir(parents=True, exist_ok=True)
    write_records(declarations, out / "declarations.parquet", "declaration")
    write_records(outcomes, out / "outcomes.parquet", "outcome")
    return {"declarations": len(declarations), "outcomes": len(outcomes),
            "seizures": sum(o.result == "seized" for o in outcomes), "out": str(out)}  # fmt: skip
