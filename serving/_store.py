"""Scored results (for explanations) and inspection outcomes (for retraining), in SQLite.

No names or addresses: a result holds the item ID, the scores, the decision, the grouped
reasons and the numeric feature vector; an outcome holds the outcome contract's fields,
which carry no personal data.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._sqlite import Database

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS scored_result (
        item_id TEXT PRIMARY KEY, request_id TEXT NOT NULL, scored_at TEXT NOT NULL,
        model_version TEXT NOT NULL, summary TEXT NOT NULL, features BLOB NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS outcome (
        id INTEGER PRIMARY KEY, item_id TEXT NOT NULL, recorded_at TEXT NOT NULL,
        received_at TEXT NOT NULL, request_id TEXT NOT NULL, caller TEXT NOT NULL,
        linked INTEGER NOT NULL, record TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS outcome_item ON outcome (item_id)",
    """CREATE TABLE IF NOT EXISTS service_flag (
        name TEXT PRIMARY KEY, value TEXT NOT NULL)""",
)


#: item ID, request ID, scored at, model version, summary, features
ResultRow = tuple[str, str, str, str, dict[str, Any], np.ndarray]


@dataclass
class StoredResult:
    item_id: str
    request_id: str
    scored_at: str
    model_version: str
    summary: dict[str, Any]
    features: np.ndarray


class StateStore:
    """Results, outcomes and service flags (the halt switch) in the state database."""

    def __init__(self, db: Database) -> None:
        self.db = db
        for statement in SCHEMA:
            db.execute(statement)

    def put_results(self, rows: list[ResultRow]) -> None:
        self.db.executemany(
            "INSERT OR REPLACE INTO scored_result VALUES (?, ?, ?, ?, ?, ?)",
            [(item_id, request_id, scored_at, version, json.dumps(summary),
              np.asarray(features, dtype=np.float32).tobytes())
             for item_id, request_id, scored_at, version, summary, features in rows],
        )  # fmt: skip

    def decisions_of(self, item_ids: list[str]) -> dict[str, tuple[str, dict[str, Any]]]:
        """The decision on record (request ID, summary) of each of these items that has one."""
        found: dict[str, tuple[str, dict[str, Any]]] = {}
        unique = list(dict.fromkeys(item_ids))
        for start in range(0, len(unique), 500):
            part = unique[start : start + 500]
            rows = self.db.execute(
                "SELECT item_id, request_id, summary FROM scored_result WHERE item_id IN "
                f"({', '.join('?' * len(part))})", part)  # fmt: skip
            found.update((item, (rid, json.loads(summary))) for item, rid, summary in rows)
        return found

    def get_result(self, item_id: str) -> StoredResult | None:
        rows = self.db.execute(
            "SELECT item_id, request_id, scored_at, model_version, summary, features "
            "FROM scored_result WHERE item_id = ?",
            (item_id,),
        )
        if not rows:
            return None
        item, request_id, scored_at, version, summary, blob = rows[0]
        return StoredResult(item, request_id, scored_at, version, json.loads(summary),
                            np.frombuffer(blob, dtype=np.float32).copy())  # fmt: skip

    def put_outcome(self, item_id: str, recorded_at: str, received_at: str, request_id: str,
                    caller: str, linked: bool, record: dict[str, Any]) -> None:  # fmt: skip
        self.db.execute(
            "INSERT INTO outcome (item_id, recorded_at, received_at, request_id, caller, linked, "
            "record) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (item_id, recorded_at, received_at, request_id, caller, int(linked),
             json.dumps(record, sort_keys=True)),
        )  # fmt: skip

    def outcomes(self) -> list[dict[str, Any]]:
        rows = self.db.execute("SELECT record FROM outcome ORDER BY id")
        return [json.loads(r[0]) for r in rows]

    def get_flag(self, name: str) -> str | None:
        rows = self.db.execute("SELECT value FROM service_flag WHERE name = ?", (name,))
        return rows[0][0] if rows else None

    def set_flag(self, name: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO service_flag VALUES (?, ?)", (name, value))
