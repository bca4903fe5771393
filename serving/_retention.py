"""Retention of the state database: scored parcels and outcomes past their period are deleted.

Two periods, because the two kinds of record serve different ends:

- **Parcels never inspected** (nearly all of them): the scored result with its explanation,
  the officer view's pseudonymised copy and what officers added to it (feedback, claim, case
  record versions, photos and scans) go ``parcel_days`` after they were scored.
- **Inspected parcels** (with an outcome: the next training labels) go with their outcomes
  ``labelled_days`` after they were scored. Outcomes of items this service never scored (or
  whose parcel is gone) go ``labelled_days`` after they were received.

Whether a parcel is inspected is read when its row is deleted, so an outcome that arrives
during a prune still keeps its parcel. The service writes to the same file while a prune
runs: each deletion is one short transaction of at most ``CHUNK`` rows under the writer
lock, and the rows are found by reading the tables in row-ID order outside it. Deleted
pages are reused by later rows; the file does not shrink (``VACUUM`` does that, offline).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ._sqlite import Database
from ._store import StateStore
from .officer._cases import CaseStore
from .officer._parcels import ParcelStore

CHUNK = 2_000

_INSPECTED = "EXISTS (SELECT 1 FROM outcome o WHERE o.item_id = {t}.item_id)"
_EXPIRED = (
    f"(({{t}}.scored_at < :parcel AND NOT {_INSPECTED}) "
    f"OR ({{t}}.scored_at < :labelled AND {_INSPECTED}))"
)
_KEPT = "EXISTS (SELECT 1 FROM {t} WHERE {t}.item_id = outcome.item_id AND NOT {expired})"
#: No officer copy of the item stays (it goes in this prune, or went in an earlier one).
_NO_PARCEL = (
    "NOT EXISTS (SELECT 1 FROM officer_parcel WHERE officer_parcel.{key} = {t}.{ref} "
    "AND NOT " + _EXPIRED.format(t="officer_parcel") + ")"
)
_TABLES = {  # table: the condition under which a row has outlived its period
    "scored_result": _EXPIRED.format(t="scored_result"),
    "officer_parcel": _EXPIRED.format(t="officer_parcel"),
    # an outcome goes when it is old and no parcel row of its item stays (a dry run, which
    # deletes no parcel, counts the outcomes that a real run would leave without one)
    "outcome": "outcome.received_at < :labelled AND "
    + " AND ".join(
        "NOT " + _KEPT.format(t=t, expired=_EXPIRED.format(t=t))
        for t in ("scored_result", "officer_parcel")
    ),
    # what officers added to a parcel goes with its officer copy: its claim, its case
    # record's versions and its photos and scans (a dry run counts them the same way)
    **{
        t: _NO_PARCEL.format(key="item_id", t=t, ref="item_id")
        for t in ("officer_claim", "officer_case", "officer_attachment")
    },
    # a batch run's record goes once none of its parcels stays
    "officer_batch_run": "officer_batch_run.recorded_at < :parcel AND "
    + _NO_PARCEL.format(key="batch_run", t="officer_batch_run", ref="run_id"),
}


@dataclass(frozen=True)
class Cutoffs:
    parcel: str
    labelled: str

    @classmethod
    def of(cls, parcel_days: float, labelled_days: float, now: datetime | None = None) -> Cutoffs:
        now = now or datetime.now(UTC)
        return cls(
            (now - timedelta(days=parcel_days)).isoformat(),
            (now - timedelta(days=labelled_days)).isoformat(),
        )

    def params(self, **more: Any) -> dict[str, Any]:
        return {"parcel": self.parcel, "labelled": self.labelled, **more}


def _expired(db: Database, table: str, cutoffs: Cutoffs, after: int) -> list[int]:
    """Row IDs after ``after`` (at most ``CHUNK``) whose rows have outlived their period."""
    rows = db.execute(
        f"SELECT rowid FROM {table} WHERE rowid > :after AND {_TABLES[table]} "
        f"ORDER BY rowid LIMIT {CHUNK}",
        cutoffs.params(after=after),
    )
    return [rowid for (rowid,) in rows]


def _delete(db: Database, table: str, cutoffs: Cutoffs, rowids: list[int]) -> int:
    """Delete those of the rows that are still expired; a parcel's feedback goes with it."""
    params = cutoffs.params(rowids=json.dumps(rowids))
    with db.transaction():
        key = "rowid" if table == "officer_batch_run" else "item_id"
        items = [
            item
            for (item,) in db.execute(
                f"DELETE FROM {table} WHERE rowid IN (SELECT value FROM json_each(:rowids)) "
                f"AND {_TABLES[table]} RETURNING {key}",
                params,
            )
        ]
        if table == "officer_parcel" and items:
            db.execute(
                "DELETE FROM officer_feedback WHERE item_id IN (SELECT value FROM json_each(?))",
                (json.dumps(items),),
            )
    return len(items)


def prune_state(
    db: Database,
    parcel_days: float,
    labelled_days: float,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
) -> dict[str, Any]:
    """Delete what has outlived its period; the counts per table (or, dry, what would go)."""
    cutoffs = Cutoffs.of(parcel_days, labelled_days, now)
    StateStore(db), ParcelStore(db), CaseStore(db)  # the tables, on a file that lacks them
    counts: dict[str, int] = {}
    for table in _TABLES:  # parcels first, so that their outcomes are orphans by the end
        after, total = 0, 0
        while rowids := _expired(db, table, cutoffs, after):
            after = rowids[-1]
            total += len(rowids) if dry_run else _delete(db, table, cutoffs, rowids)
        counts[table] = total
    return {
        "dry_run": dry_run,
        "parcel_cutoff": cutoffs.parcel,
        "labelled_cutoff": cutoffs.labelled,
        "deleted": counts,
    }
