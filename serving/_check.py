"""``parcelscreen state check``: cross-check the stores of the record database.

Each acknowledged decision must have its result, its officer copy, its decision-log record and
exactly one entity-history item; each outcome its log record; each correction must name an
earlier outcome of its item, and each approval be another officer's, logged; an item's
entity history must count its current outcome; the decision log's chain must
verify and SQLite's ``PRAGMA integrity_check`` say ok. Rows that a retention command deleted
on purpose are not missing: each check starts after the cutoff of the last prune the decision
log records for its table.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from screening import CLEAN, SEIZED, UNCOUNTED

from ._record import Record
from ._store import LATEST_EFFECTIVE

#: Most rows named per problem (the count is always complete).
_NAMED = 10


@dataclass
class CheckReport:
    ok: bool = True
    counts: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def fail(self, what: str, rows: list[tuple[Any, ...]], total: int) -> None:
        if total:
            self.ok = False
            named = ", ".join(str(r[0]) for r in rows[:_NAMED])
            more = f" and {total - _NAMED} more" if total > _NAMED else ""
            self.problems.append(f"{total} {what}: {named}{more}")

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "counts": self.counts, "problems": self.problems}


def _last_cutoff(record: Record, kind: str, key: str) -> str:
    """The cutoff of the newest prune of ``kind`` in the decision log ("" if none)."""
    rows = record.db.execute(
        "SELECT detail FROM decision_log WHERE kind = ? ORDER BY seq DESC LIMIT 1", (kind,)
    )
    return str(json.loads(rows[0][0]).get(key, "")) if rows else ""


def _missing(
    record: Record, report: CheckReport, what: str, sql: str, params: tuple[Any, ...] = ()
) -> None:
    rows = record.db.execute(f"SELECT * FROM ({sql}) AS found LIMIT {_NAMED + 1}", params)
    if rows:
        ((total,),) = record.db.execute(f"SELECT count(*) FROM ({sql})", params)
        report.fail(what, rows, int(total))


def check_record(record: Record) -> CheckReport:
    """Every cross-store invariant of the record database; problems name the rows."""
    report = CheckReport()
    db = record.db
    integrity = [r[0] for r in db.execute("PRAGMA integrity_check")]
    if integrity != ["ok"]:
        report.ok = False
        report.problems.append("PRAGMA integrity_check: " + "; ".join(integrity[:_NAMED]))
        return report  # the rest would read a damaged file
    chain = record.audit.verify()
    if not chain.ok:
        report.ok = False
        report.problems.extend(f"decision log: {p}" for p in chain.problems)
    for table in ("scored_result", "officer_parcel", "outcome", "decision_log"):
        report.counts[table] = int(db.execute(f"SELECT count(*) FROM {table}")[0][0])
    # the log keeps records from its last prune's cutoff on; the state from its own
    log_from = _last_cutoff(record, "checkpoint", "cutoff")
    state_from = _last_cutoff(record, "retention", "parcel_cutoff")
    _missing(
        record,
        report,
        "results with no decision-log record (item IDs)",
        "SELECT r.item_id FROM scored_result r WHERE r.scored_at >= ? AND NOT EXISTS "
        "(SELECT 1 FROM decision_log d WHERE d.kind = 'decision' AND d.item_id = r.item_id "
        "AND d.request_id = r.request_id)",
        (log_from,),
    )
    _missing(
        record,
        report,
        "decision-log decisions with no result (item IDs)",
        "SELECT d.item_id FROM decision_log d WHERE d.kind = 'decision' AND d.time >= ? "
        "AND NOT EXISTS (SELECT 1 FROM scored_result r WHERE r.item_id = d.item_id)",
        (state_from,),
    )
    _missing(
        record,
        report,
        "results with no officer copy (item IDs)",
        "SELECT r.item_id FROM scored_result r WHERE NOT EXISTS "
        "(SELECT 1 FROM officer_parcel p WHERE p.item_id = r.item_id)",
    )
    _missing(
        record,
        report,
        "officer copies with no result (item IDs)",
        "SELECT p.item_id FROM officer_parcel p WHERE NOT EXISTS "
        "(SELECT 1 FROM scored_result r WHERE r.item_id = p.item_id)",
    )
    _missing(
        record,
        report,
        "outcomes with no decision-log record (item IDs)",
        "SELECT o.item_id FROM outcome o WHERE o.received_at >= ? AND NOT EXISTS "
        "(SELECT 1 FROM decision_log d WHERE d.kind IN ('outcome', 'outcome_correction', "
        "'outcome_correction_pending') AND d.item_id = o.item_id "
        "AND d.request_id = o.request_id)",
        (log_from,),
    )
    _check_corrections(record, report, log_from)
    if record.history_in_record:
        _check_history(record, report)
    return report


def _check_corrections(record: Record, report: CheckReport, log_from: str) -> None:
    """Outcomes are append-only: each correction names an earlier outcome of its own item
    (one that retention removed is not missing), and each approval is another officer's,
    with its decision-log record."""
    pruned = bool(_last_cutoff(record, "retention", "labelled_cutoff"))
    _missing(
        record,
        report,
        "corrections that name no earlier outcome of their item (outcome IDs)",
        "SELECT c.id FROM outcome c LEFT JOIN outcome o ON o.id = c.corrects "
        "WHERE c.corrects IS NOT NULL AND (c.corrects >= c.id OR o.item_id != c.item_id "
        "OR (o.id IS NULL AND NOT ?))",
        (pruned,),
    )
    _missing(
        record,
        report,
        "corrections approved by the officer who asked (outcome IDs)",
        "SELECT id FROM outcome WHERE approved_by = caller",
    )
    _missing(
        record,
        report,
        "approvals with no decision-log record (outcome IDs)",
        "SELECT o.id FROM outcome o WHERE o.approved_at >= ? AND NOT EXISTS (SELECT 1 "
        "FROM decision_log d WHERE d.kind = 'outcome_correction_approved' AND "
        "d.item_id = o.item_id AND d.request_id = o.approval_request_id)",
        (log_from,),
    )


def _check_history(record: Record, report: CheckReport) -> None:
    """Each decided item is one history item; and, unless the history was pruned, every
    office's parcel count equals its items (a count above them is an increment twice)."""
    db = record.db
    report.counts["history_item"] = int(db.execute("SELECT count(*) FROM history_item")[0][0])
    history_from = _last_cutoff(record, "history_retention", "cutoff")
    _missing(
        record,
        report,
        "results with no entity-history item (item IDs)",
        "SELECT r.item_id FROM scored_result r WHERE r.scored_at >= ? AND NOT EXISTS "
        "(SELECT 1 FROM history_item h WHERE h.item_id = r.item_id)",
        (history_from,),
    )
    latest = LATEST_EFFECTIVE.format(item="o.item_id")
    _missing(
        record,
        report,
        "items whose entity history counts another result than their current outcome (item IDs)",
        f"SELECT o.item_id FROM outcome o JOIN history_item h ON h.item_id = o.item_id "
        f"WHERE o.id = {latest} AND o.linked = 1 AND h.outcome >= {SEIZED} AND h.outcome != "
        f"CASE json_extract(o.record, '$.result') WHEN 'seized' THEN {SEIZED} "
        f"WHEN 'clean' THEN {CLEAN} ELSE {UNCOUNTED} END",
    )
    if history_from:
        return  # pruned items leave their entities' counts above the items that remain
    _missing(
        record,
        report,
        "offices whose parcel count differs from their items "
        "(counted twice or lost; office tokens)",
        "SELECT e.token FROM history_entity e LEFT JOIN (SELECT json_extract(tokens, "
        "'$.office') AS office, count(*) AS n FROM history_item GROUP BY office) i "
        "ON i.office = e.token WHERE e.kind = 'office' AND e.parcels != coalesce(i.n, 0)",
    )
