"""The officer view's reads of the state database: the queue's index holds flagged parcels
only (files from before lose the old full one), and drift reads the table's end."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

from serving import Database
from serving._store import StateStore
from serving.officer._parcels import ParcelStore, QueueFilter
from serving.officer._worklist import FROM, where


def _indexes(path: Path) -> set[str]:
    """The officer_parcel table's declared indexes (not the primary key's own)."""
    with closing(sqlite3.connect(path)) as conn:
        rows = conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND "
            "tbl_name = 'officer_parcel' AND sql IS NOT NULL"
        ).fetchall()
    return {str(name) for (name,) in rows}


def test_the_queue_index_is_partial_and_replaces_the_old_one(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    with closing(sqlite3.connect(path)) as conn:  # a file as the store made it before
        conn.execute(
            "CREATE TABLE officer_parcel (item_id TEXT PRIMARY KEY, scored_day TEXT, "
            "flagged INTEGER, probability REAL, origin_country TEXT)"
        )
        conn.execute(
            "CREATE INDEX officer_parcel_queue "
            "ON officer_parcel (scored_day, flagged, probability DESC)"
        )
    assert _indexes(path) == {"officer_parcel_queue"}
    db = Database(path)
    store = ParcelStore(db)
    assert _indexes(path) == {
        "officer_parcel_flagged",
        "officer_parcel_risk",
        "officer_parcel_posted",
        "officer_parcel_run",
        "officer_parcel_transport",
    }
    for name in ("officer_parcel_flagged", "officer_parcel_risk", "officer_parcel_posted"):
        (sql,) = db.execute("SELECT sql FROM sqlite_master WHERE name = ?", (name,))
        assert "WHERE flagged = 1" in sql[0]
    assert isinstance(store, ParcelStore)
    # a day's worklist reads the day's flagged parcels from the posting-time index; the
    # default one (open, any day, by risk) walks the risk index
    for f, index in (
        (QueueFilter(day="2026-11-29"), "officer_parcel_posted (posted_key>? AND posted_key<?)"),
        (QueueFilter(status="open"), "officer_parcel_risk"),
    ):
        cond, params = where(f)
        plan = db.execute(
            f"EXPLAIN QUERY PLAN SELECT p.item_id {FROM} WHERE {cond} ORDER BY p.probability DESC",
            params,
        )
        assert f"USING INDEX {index}" in " ".join(map(str, plan))


def test_shadow_comparison_reads_inspected_parcels_from_the_outcomes(tmp_path: Path) -> None:
    db = Database(tmp_path / "state.sqlite")
    state, parcels = StateStore(db), ParcelStore(db)
    columns = {
        "scored_day": "2026-11-29",
        "posted_at": "x",
        "origin_country": "CN",
        "origin_post": "CNA",
        "destination_country": "NL",
        "category": "gift",
        "contents": "",
        "band": "low",
        "decision": "pass",
        "flagged": 0,
        "model_version": "v1",
        "declaration": "{}",
    }
    parcels.put(
        [
            columns
            | {
                "item_id": f"i{k}",
                "scored_at": f"t{k}",
                "probability": k / 10,
                "shadow_version": "c0" if k == 6 else "c1" if k != 2 else None,
                "shadow_probability": k / 20 if k != 2 else None,
            }
            for k in range(7)
        ]
    )

    def outcome(item: str, inspected: bool, result: str | None) -> None:
        state.put_outcome(
            item, "t", "t", "r", "k", True, {"inspected": inspected, "result": result}
        )

    outcome("i1", True, "clean")
    outcome("i1", True, "seized")  # two inspections: the latest result counts, once
    outcome("i2", True, "clean")  # no shadow score: left out
    outcome("i3", False, None)  # not inspected: left out
    outcome("i5", True, "clean")
    outcome("i5", False, None)  # inspected, then marked not inspected: left out
    outcome("i4", False, None)
    outcome("i4", True, "clean")  # its latest outcome counts
    outcome("i9", True, "clean")  # no parcel row: left out
    outcome("i6", True, "seized")  # an earlier challenger's shadow score
    outcome("i0", True, "clean")
    assert parcels.recent_shadow() == [
        (0.0, 0.0, "c1", "clean"),
        (0.6, 0.3, "c0", "seized"),
        (0.4, 0.2, "c1", "clean"),
        (0.1, 0.05, "c1", "seized"),
    ]
    assert parcels.recent_shadow("c1") == [
        (0.0, 0.0, "c1", "clean"),
        (0.4, 0.2, "c1", "clean"),
        (0.1, 0.05, "c1", "seized"),
    ]
    assert parcels.recent_shadow(limit=1) == [(0.0, 0.0, "c1", "clean")]
    plan = " ".join(
        map(
            str,
            db.execute(
                "EXPLAIN QUERY PLAN SELECT 1 FROM outcome oc JOIN officer_parcel p "
                "ON p.item_id = oc.item_id ORDER BY oc.id DESC"
            ),
        )
    )
    assert "SCAN p" not in plan and "SCAN officer_parcel" not in plan


def test_export_keeps_the_latest_effective_outcome_not_the_one_recorded_last(
    tmp_path: Path,
) -> None:
    """Outcomes are append-only: a correction names what it corrects, so it wins whatever
    the time it carries, and a correction waiting for approval does not count yet."""
    import pyarrow.parquet as pq

    from data_contracts import InspectionOutcome, ParcelDeclaration
    from screening import Pseudonymiser
    from serving._store import PENDING
    from serving.officer import export_training_data
    from serving.officer._parcels import parcel_row
    from tests.factories import declaration, outcome

    db = Database(tmp_path / "state.sqlite")
    decl = ParcelDeclaration.model_validate(declaration())
    summary = {"probability": 0.5, "band": "high", "decision": "inspect", "model_version": "v1"}
    ParcelStore(db).put(
        [parcel_row(decl, summary, "2026-03-03T10:00:00+00:00", Pseudonymiser("k" * 16))]
    )
    state = StateStore(db)
    clean: dict[str, Any] = {"result": "clean", "substance": None, "quantity_g": None}

    def put(
        recorded: str, state_: str = "effective", corrects: int | None = None, **changes: object
    ) -> int:
        extra: dict[str, Any] = (
            {} if corrects is None else {"corrects": corrects, "correction_reason": "lab"}
        )
        record = InspectionOutcome.model_validate(
            outcome(recorded_at=recorded, **changes, **extra)
        ).model_dump(mode="json")
        return state.put_outcome(
            decl.item_id, recorded, recorded, "r", "k", True, record, corrects, state_
        )

    desk = put("2026-03-20T09:00:00+00:00", **clean)  # the desk's, recorded and received first
    put("2026-03-09T14:00:00+00:00", corrects=desk)  # the lab's correction, dated earlier
    put("2026-03-22T10:00:00+00:00", PENDING, corrects=desk + 1, **clean)  # not approved
    db.close()
    export_training_data(tmp_path / "state.sqlite", tmp_path / "out")
    (row,) = pq.read_table(tmp_path / "out" / "outcomes.parquet").to_pylist()
    assert row["result"] == "seized"
