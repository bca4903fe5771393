"""Scored results (for explanations) and inspection outcomes (for retraining), in SQLite.

No names or addresses: a result holds the item ID, the scores, the decision, the grouped
reasons and the numeric feature vector; an outcome holds the outcome contract's fields,
which carry no personal data.

Outcomes are append-only: a row's record is never changed or deleted (but by retention). A
later outcome of an item is a correction that names the row it corrects (``corrects``); a
correction waiting for a second officer's approval is ``pending`` until approved, when its
state (never its record) becomes ``effective``. An item's outcome is its latest effective
row (:data:`LATEST_EFFECTIVE`): what the queue, the export and the history follow.
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
    """CREATE TABLE IF NOT EXISTS service_flag (
        name TEXT PRIMARY KEY, value TEXT NOT NULL)""",
)
EFFECTIVE, PENDING = "effective", "pending"
_OUTCOME_TABLE = """CREATE TABLE IF NOT EXISTS outcome (
    id INTEGER PRIMARY KEY, item_id TEXT NOT NULL, recorded_at TEXT NOT NULL,
    received_at TEXT NOT NULL, request_id TEXT NOT NULL, caller TEXT NOT NULL,
    linked INTEGER NOT NULL, record TEXT NOT NULL)"""
#: Columns of the correction trail, added to a table from before (each row then effective).
_TRAIL_COLUMNS = {
    "corrects": "INTEGER",
    "state": f"TEXT NOT NULL DEFAULT '{EFFECTIVE}'",
    "approved_by": "TEXT",
    "approved_at": "TEXT",
    "approval_request_id": "TEXT",
}
#: The ID of the latest effective outcome of the item named by ``{item}`` (an SQL term).
LATEST_EFFECTIVE = (
    f"(SELECT max(o.id) FROM outcome o WHERE o.item_id = {{item}} AND o.state = '{EFFECTIVE}')"
)
_OUTCOME_COLUMNS = (
    "id, item_id, recorded_at, received_at, request_id, caller, linked, record, "
    "corrects, state, approved_by, approved_at"
)


def outcome_table(db: Database) -> None:
    """Create the outcome table, or give one from before the columns of the trail."""
    db.execute(_OUTCOME_TABLE)
    db.execute("CREATE INDEX IF NOT EXISTS outcome_item ON outcome (item_id)")
    if set(_TRAIL_COLUMNS) <= _columns(db):
        return
    with db.transaction():  # under the writer lock: another worker may add them meanwhile
        for name, kind in _TRAIL_COLUMNS.items():
            if name not in _columns(db):
                db.execute(f"ALTER TABLE outcome ADD COLUMN {name} {kind}")


def outcome_trail(db: Database, item_id: str) -> list[OutcomeRow]:
    """Every outcome of an item, corrections and pending ones included, in order."""
    rows = db.execute(
        f"SELECT {_OUTCOME_COLUMNS} FROM outcome WHERE item_id = ? ORDER BY id", (item_id,)
    )
    return [OutcomeRow.of(r) for r in rows]


def _columns(db: Database) -> set[str]:
    return {row[1] for row in db.execute("PRAGMA table_info(outcome)")}


#: item ID, request ID, scored at, model version, summary, features
ResultRow = tuple[str, str, str, str, dict[str, Any], np.ndarray]


@dataclass(frozen=True)
class OutcomeRow:
    """One stored outcome: the record as received, and where it stands in the item's trail."""

    id: int
    item_id: str
    recorded_at: str
    received_at: str
    request_id: str
    caller: str
    linked: bool
    record: dict[str, Any]
    corrects: int | None
    state: str
    approved_by: str | None
    approved_at: str | None

    @property
    def result(self) -> str:
        """The result, or ``not_inspected``."""
        return str(self.record.get("result") or "not_inspected")

    @property
    def counts(self) -> tuple[bool, bool]:
        """What the outcome counts in the entity history: (seized, clean)."""
        return self.result == "seized", self.result == "clean"

    @classmethod
    def of(cls, row: tuple[Any, ...]) -> OutcomeRow:
        id_, item, recorded, received, rid, caller, linked, record, *rest = row
        return cls(
            int(id_), item, recorded, received, rid, caller, bool(linked), json.loads(record), *rest
        )


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
        outcome_table(db)

    def put_results(self, rows: list[ResultRow]) -> None:
        self.db.executemany(
            "INSERT OR REPLACE INTO scored_result VALUES (?, ?, ?, ?, ?, ?)",
            [
                (
                    item_id,
                    request_id,
                    scored_at,
                    version,
                    json.dumps(summary),
                    np.asarray(features, dtype=np.float32).tobytes(),
                )
                for item_id, request_id, scored_at, version, summary, features in rows
            ],
        )

    def decisions_of(self, item_ids: list[str]) -> dict[str, tuple[str, dict[str, Any]]]:
        """The decision on record (request ID, summary) of each of these items that has one."""
        found: dict[str, tuple[str, dict[str, Any]]] = {}
        unique = list(dict.fromkeys(item_ids))
        for start in range(0, len(unique), 500):
            part = unique[start : start + 500]
            rows = self.db.execute(
                "SELECT item_id, request_id, summary FROM scored_result WHERE item_id IN "
                f"({', '.join('?' * len(part))})",
                part,
            )
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
        return StoredResult(
            item,
            request_id,
            scored_at,
            version,
            json.loads(summary),
            np.frombuffer(blob, dtype=np.float32).copy(),
        )

    def put_outcome(
        self,
        item_id: str,
        recorded_at: str,
        received_at: str,
        request_id: str,
        caller: str,
        linked: bool,
        record: dict[str, Any],
        corrects: int | None = None,
        state: str = EFFECTIVE,
    ) -> int:
        """Append an outcome; its ID."""
        ((outcome_id,),) = self.db.execute(
            "INSERT INTO outcome (item_id, recorded_at, received_at, request_id, caller, linked, "
            "record, corrects, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (
                item_id,
                recorded_at,
                received_at,
                request_id,
                caller,
                int(linked),
                json.dumps(record, sort_keys=True),
                corrects,
                state,
            ),
        )
        return int(outcome_id)

    def outcomes(self) -> list[dict[str, Any]]:
        """Every stored outcome record, corrections and pending ones included, in order."""
        rows = self.db.execute("SELECT record FROM outcome ORDER BY id")
        return [json.loads(r[0]) for r in rows]

    def effective_outcomes(self) -> list[dict[str, Any]]:
        """The record of each item's latest effective outcome, in order."""
        latest = LATEST_EFFECTIVE.format(item="oc.item_id")
        rows = self.db.execute(
            f"SELECT record FROM outcome oc WHERE oc.id = {latest} ORDER BY oc.id"
        )
        return [json.loads(r[0]) for r in rows]

    def outcome(self, outcome_id: int) -> OutcomeRow | None:
        if not 0 < outcome_id < 2**63:  # no such row, and no such SQLite integer
            return None
        rows = self.db.execute(
            f"SELECT {_OUTCOME_COLUMNS} FROM outcome WHERE id = ?", (outcome_id,)
        )
        return OutcomeRow.of(rows[0]) if rows else None

    def current_outcome(self, item_id: str) -> OutcomeRow | None:
        """The item's latest effective outcome: the one that counts (None: no outcome)."""
        rows = self.db.execute(
            f"SELECT {_OUTCOME_COLUMNS} FROM outcome WHERE id = "
            f"{LATEST_EFFECTIVE.format(item='?')}",
            (item_id,),
        )
        return OutcomeRow.of(rows[0]) if rows else None

    def counted_outcome(self, item_id: str) -> OutcomeRow | None:
        """The item's latest effective outcome that was linked to the entity history: what
        the history counts for it."""
        rows = self.db.execute(
            f"SELECT {_OUTCOME_COLUMNS} FROM outcome WHERE item_id = ? AND "
            f"state = '{EFFECTIVE}' AND linked = 1 ORDER BY id DESC LIMIT 1",
            (item_id,),
        )
        return OutcomeRow.of(rows[0]) if rows else None

    def outcome_trail(self, item_id: str) -> list[OutcomeRow]:
        return outcome_trail(self.db, item_id)

    def outcome_of_request(self, item_id: str, request_id: str) -> OutcomeRow | None:
        """The item's outcome stored by this request, if any (a retried request)."""
        rows = self.db.execute(
            f"SELECT {_OUTCOME_COLUMNS} FROM outcome WHERE item_id = ? AND "
            "request_id = ? ORDER BY id DESC LIMIT 1",
            (item_id, request_id),
        )
        return OutcomeRow.of(rows[0]) if rows else None

    def approve_outcome(
        self, outcome_id: int, approved_by: str, approved_at: str, request_id: str, linked: bool
    ) -> bool:
        """Make a pending correction effective (its record is not changed); False if it was
        not pending."""
        rows = self.db.execute(
            f"UPDATE outcome SET state = '{EFFECTIVE}', approved_by = ?, approved_at = ?, "
            f"approval_request_id = ?, linked = ? WHERE id = ? AND state = '{PENDING}' "
            "RETURNING id",
            (approved_by, approved_at, request_id, int(linked), outcome_id),
        )
        return bool(rows)

    def get_flag(self, name: str) -> str | None:
        rows = self.db.execute("SELECT value FROM service_flag WHERE name = ?", (name,))
        return rows[0][0] if rows else None

    def set_flag(self, name: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO service_flag VALUES (?, ?)", (name, value))
