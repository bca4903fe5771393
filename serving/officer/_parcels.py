"""The officer view's parcel store: what was declared (without personal data) and scored.

Every scored parcel is kept with its non-personal declaration fields, its score, band,
decision and selection reason, and a pseudonymised copy of the declaration for retraining:
each name, address part and contact detail is replaced by a short keyed token of itself
(the same value always gives the same token, an empty value stays empty), so presence flags
and entity links survive while the clear text does not. The clear declaration stays in the
postal operator's own system. Status comes from the service's outcome table (same database),
so outcomes posted to ``POST /v1/outcomes`` show in the queue as well as those from the view:
a parcel's status follows its latest effective outcome (a correction waiting for approval
does not count yet, and is marked).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from data_contracts import ParcelDeclaration
from screening import FX_TO_EUR, Pseudonymiser

from .._sqlite import Database
from .._store import LATEST_EFFECTIVE, PENDING, outcome_table, outcome_trail
from ._worklist import STATUSES, WORKLIST_SCHEMA, QueueFilter, Worklists

log = logging.getLogger("serving.officer")

PERSONAL_FIELDS = (
    "name",
    "street",
    "city",
    "postcode",
    "phone",
    "email",
    "importer_ref",
    "id_number",
)
FIELD_TOKEN_CHARS = 16
FLAGGED = ("inspect", "review")
#: Columns added since the table was first made (a file from before gets them at start).
ADDED_COLUMNS = {
    "posted_key": "TEXT",  # posting time in UTC, 'YYYY-MM-DD HH:MM:SS' (SQLite's datetime())
    "batch_run": "TEXT",  # the batch run (manifest) that decided it; NULL: the HTTP service
    "batch_rank": "INTEGER",  # its rank on that run's inspection list (NULL: not listed)
    "value_eur": "REAL",  # declared value at the reference rate (NULL: no rate for it)
    # an express consignment's master transport document (master air waybill: the flight's
    # consolidation); NULL: a postal item, or none declared
    "transport_document": "TEXT",
}

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS officer_parcel (
        item_id TEXT PRIMARY KEY, scored_at TEXT NOT NULL, scored_day TEXT NOT NULL,
        posted_at TEXT NOT NULL, origin_country TEXT NOT NULL, origin_post TEXT NOT NULL,
        destination_country TEXT NOT NULL, category TEXT NOT NULL, gross_weight_kg REAL,
        declared_value REAL, currency TEXT, contents TEXT NOT NULL, probability REAL NOT NULL,
        band TEXT NOT NULL, decision TEXT NOT NULL, flagged INTEGER NOT NULL,
        selection_reason TEXT, selection_probability REAL, model_version TEXT NOT NULL,
        mode TEXT, declaration TEXT NOT NULL, shadow_version TEXT, shadow_probability REAL)""",
    # The queue lists flagged parcels only, so only they are indexed: the parcels that pass
    # (nearly all) write no index page for it. Files from before drop the full index once.
    # SQLite uses a partial index only where the query says "flagged = 1" literally (as
    # ``_worklist.where`` does): a bound parameter there would scan the table.
    "DROP INDEX IF EXISTS officer_parcel_queue",
    """CREATE INDEX IF NOT EXISTS officer_parcel_flagged
        ON officer_parcel (scored_day, probability DESC) WHERE flagged = 1""",
    """CREATE INDEX IF NOT EXISTS officer_parcel_risk
        ON officer_parcel (probability DESC) WHERE flagged = 1""",
    """CREATE TABLE IF NOT EXISTS officer_feedback (
        id INTEGER PRIMARY KEY, item_id TEXT NOT NULL, time TEXT NOT NULL,
        officer TEXT NOT NULL, disagree INTEGER NOT NULL, reason TEXT NOT NULL,
        notes TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS officer_feedback_item ON officer_feedback (item_id)",
)


def pseudonymise_declaration(
    decl: ParcelDeclaration, pseudonymiser: Pseudonymiser, record: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The declaration as JSON with every personal field replaced by a keyed token of itself.

    ``record`` is ``decl.model_dump(mode="json")`` where the caller has it already (it is
    not changed: the parties are copied before their fields are replaced).
    """
    record = dict(record) if record is not None else decl.model_dump(mode="json")
    for party in ("sender", "recipient"):
        fields = record[party] = dict(record[party])
        for name in PERSONAL_FIELDS:
            value = fields.get(name)
            if value:
                token = pseudonymiser.token(f"field:{party}.{name}", [value])
                fields[name] = token[:FIELD_TOKEN_CHARS] or "-"
    return record


class ParcelStore:
    """Scored parcels and officer feedback in the state database."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.worklists = Worklists(db)
        outcome_table(db)  # the service's; created here too so the join works on its own
        with db.transaction():  # under the writer lock: on a file from before, the queue's
            for statement in SCHEMA:  # new index is built once, and other workers queue
                db.execute(statement)
            have = {row[1] for row in db.execute("PRAGMA table_info(officer_parcel)")}
            for name, kind in ADDED_COLUMNS.items():
                if name not in have:
                    db.execute(f"ALTER TABLE officer_parcel ADD COLUMN {name} {kind}")
                    if name == "posted_key" and "posted_at" in have:  # once, for rows from before
                        db.execute("UPDATE officer_parcel SET posted_key = datetime(posted_at)")
            for statement in WORKLIST_SCHEMA:
                db.execute(statement)

    def put(self, rows: Sequence[dict[str, Any]]) -> None:
        """Insert or replace rows (all with the same columns as the first) in one statement."""
        if not rows:
            return
        names = list(rows[0])
        marks = ", ".join("?" for _ in names)
        self.db.executemany(
            f"INSERT OR REPLACE INTO officer_parcel ({', '.join(names)}) VALUES ({marks})",
            [tuple(row[name] for name in names) for row in rows],
        )

    def queue(self, f: QueueFilter, limit: int, offset: int) -> tuple[int, list[dict[str, Any]]]:
        """Flagged parcels matching ``f``, in its order: (total, one page)."""
        return self.worklists.rows(f, limit, offset)

    def get(self, item_id: str) -> dict[str, Any] | None:
        rows = self.db.execute("SELECT * FROM officer_parcel WHERE item_id = ?", (item_id,))
        if not rows:
            return None
        names = [c[1] for c in self.db.execute("PRAGMA table_info(officer_parcel)")]
        found = dict(zip(names, rows[0], strict=True))
        found["declaration"] = json.loads(found["declaration"])
        return found

    def outcomes(self, item_id: str) -> list[dict[str, Any]]:
        """The item's outcome trail, in order: each outcome and correction with who, when,
        why, and where it stands (``current``, ``corrected`` by a later one, ``pending``
        approval, or ``outdated``: pending on an outcome corrected since)."""
        trail = outcome_trail(self.db, item_id)
        current = max((o.id for o in trail if o.state != PENDING), default=None)
        return [
            o.record
            | {
                "outcome_id": o.id,
                "received_at": o.received_at,
                "caller": o.caller,
                "corrects": o.corrects,
                "approved_by": o.approved_by,
                "approved_at": o.approved_at,
                "standing": (
                    "current"
                    if o.id == current
                    else "corrected"
                    if o.state != PENDING
                    else "pending"
                    if o.corrects == current
                    else "outdated"
                ),
            }
            for o in trail
        ]

    def add_feedback(
        self, item_id: str, officer: str, disagree: bool, reason: str, notes: str
    ) -> None:
        self.db.execute(
            "INSERT INTO officer_feedback (item_id, time, officer, disagree, reason, notes) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (item_id, datetime.now(UTC).isoformat(), officer, int(disagree), reason, notes),
        )

    def feedback(self, item_id: str) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT time, officer, disagree, reason, notes FROM officer_feedback "
            "WHERE item_id = ? ORDER BY id",
            (item_id,),
        )
        names = ("time", "officer", "disagree", "reason", "notes")
        return [dict(zip(names, r, strict=True)) for r in rows]

    def declarations(self) -> list[dict[str, Any]]:
        """Every stored pseudonymised declaration (for the next training data set)."""
        rows = self.db.execute("SELECT declaration FROM officer_parcel ORDER BY posted_at, item_id")
        return [json.loads(r[0]) for r in rows]

    def recent_shadow(
        self, version: str | None = None, limit: int = 5000
    ) -> list[tuple[float, float, str, str]]:
        """(champion p, challenger p, challenger version, result) of the inspected parcels
        with a shadow score (of challenger ``version`` where given), by their latest
        outcome, newest first."""
        rows = self.db.execute(  # from the outcomes, newest first: not a scan of every parcel
            "SELECT p.probability, p.shadow_probability, p.shadow_version, "
            "json_extract(oc.record, '$.result') FROM outcome oc JOIN officer_parcel p "
            f"ON p.item_id = oc.item_id WHERE oc.id = {LATEST_EFFECTIVE.format(item='oc.item_id')} "
            "AND p.shadow_probability IS NOT NULL "
            "AND json_extract(oc.record, '$.inspected') AND coalesce(? = p.shadow_version, 1) "
            "ORDER BY oc.id DESC LIMIT ?",
            (version, limit),
        )
        return [(float(a), float(b), str(v), str(r)) for a, b, v, r in rows]


def _contents(decl: ParcelDeclaration) -> str:
    text = "; ".join(f"{line.quantity} x {line.description}" for line in decl.lines)
    return text if len(text) <= 200 else text[:199] + "…"


def parcel_row(
    decl: ParcelDeclaration,
    summary: dict[str, Any],
    scored_at: str,
    pseudonymiser: Pseudonymiser,
    record: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One officer_parcel row from a validated declaration and its score summary."""
    return declared_row(decl, pseudonymiser, record) | scored_fields(summary, scored_at)


def declared_row(
    decl: ParcelDeclaration, pseudonymiser: Pseudonymiser, record: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The fields of an officer_parcel row that the declaration alone gives (the service
    makes them before its scoring transaction)."""
    return {
        "item_id": decl.item_id,
        "posted_at": decl.posted_at.isoformat(),
        "posted_key": decl.posted_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
        "origin_country": decl.origin_country,
        "origin_post": decl.origin_post,
        "destination_country": decl.destination_country,
        "category": decl.category.value,
        "gross_weight_kg": decl.gross_weight_kg,
        "declared_value": decl.declared_value,
        "currency": decl.currency,
        "value_eur": _eur(decl.declared_value, decl.currency),
        "contents": _contents(decl),
        "declaration": json.dumps(pseudonymise_declaration(decl, pseudonymiser, record)),
        "transport_document": decl.express.transport_document if decl.express else None,
    }


def scored_fields(summary: dict[str, Any], scored_at: str) -> dict[str, Any]:
    """The fields of an officer_parcel row that its score summary gives."""
    return {
        "scored_at": scored_at,
        "scored_day": scored_at[:10],
        "probability": float(summary["probability"]),
        "band": summary["band"],
        "decision": summary["decision"],
        "flagged": int(summary["decision"] in FLAGGED),
        "selection_reason": summary.get("selection_reason"),
        "selection_probability": summary.get("selection_probability"),
        "model_version": summary["model_version"],
        "mode": summary.get("mode"),
    }


def _eur(value: float, currency: str) -> float | None:
    rate = FX_TO_EUR.get(currency)
    return None if rate is None else round(value * rate, 2)


__all__ = [
    "STATUSES",
    "ParcelStore",
    "QueueFilter",
    "declared_row",
    "parcel_row",
    "pseudonymise_declaration",
    "scored_fields",
]
