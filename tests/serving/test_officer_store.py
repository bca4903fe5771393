"""The officer view's parcel store: the queue's index holds flagged parcels only, and files
from before this index lose the old full one."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from serving import Database
from serving.officer._parcels import _LATEST, ParcelStore, QueueFilter


def _indexes(path: Path) -> set[str]:
    """The officer_parcel table's declared indexes (not the primary key's own)."""
    with closing(sqlite3.connect(path)) as conn:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND "
                            "tbl_name = 'officer_parcel' AND sql IS NOT NULL").fetchall()
    return {str(name) for (name,) in rows}


def test_the_queue_index_is_partial_and_replaces_the_old_one(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    with closing(sqlite3.connect(path)) as conn:  # a file as the store made it before
        conn.execute("CREATE TABLE officer_parcel (item_id TEXT PRIMARY KEY, scored_day TEXT, "
                     "flagged INTEGER, probability REAL, origin_country TEXT)")  # fmt: skip
        conn.execute("CREATE INDEX officer_parcel_queue "
                     "ON officer_parcel (scored_day, flagged, probability DESC)")  # fmt: skip
    assert _indexes(path) == {"officer_parcel_queue"}
    db = Database(path)
    store = ParcelStore(db)
    assert _indexes(path) == {"officer_parcel_flagged"}
    (sql,) = db.execute("SELECT sql FROM sqlite_master WHERE name = 'officer_parcel_flagged'")
    assert "WHERE flagged = 1" in sql[0]
    where, params = store._where(QueueFilter(day="2026-11-29"))
    plan = db.execute("EXPLAIN QUERY PLAN SELECT p.item_id FROM officer_parcel p LEFT JOIN "
                      f"outcome oc ON oc.id = {_LATEST} WHERE {where} "
                      "ORDER BY p.probability DESC", params)  # fmt: skip
    assert "USING INDEX officer_parcel_flagged (scored_day=?)" in " ".join(map(str, plan))
