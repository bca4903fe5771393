"""The officer's worklists: flagged parcels, filtered and sorted as the page's URL says.

A worklist is the flagged parcels (decided ``inspect`` or ``review``, by the service or by a
batch run) that match a :class:`QueueFilter`: status (by default the open ones, of any day),
posting day in the officer's time zone, band, origin country, posting office, manifest (the
batch run that decided them), master transport document (an express flight's consolidation),
and who claimed them. Sorted by risk unless asked otherwise.
The claim of a parcel (an officer working on it, or one an administrator assigned) lives here
too, since every worklist shows it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from .._sqlite import Database
from .._store import LATEST_EFFECTIVE, PENDING

#: Status filter values: no outcome yet, each result, released without inspection, any outcome.
STATUSES = ("open", "seized", "clean", "other_irregularity", "released", "done")
#: Sortable columns and the SQL term each sorts by (NULLs last either way).
SORTS: dict[str, str] = {
    "risk": "p.probability",
    "posted": "p.posted_key",
    "weight": "p.gross_weight_kg",
    "value": "p.value_eur",
    "origin": "p.origin_country",
    "office": "p.origin_post",
    "item": "p.item_id",
    "rank": "p.batch_rank",
}
#: Each column's natural first direction (highest risk first, oldest posting first...).
DEFAULT_DESC = {
    "risk": True,
    "posted": False,
    "weight": True,
    "value": True,
    "origin": False,
    "office": False,
    "item": False,
    "rank": False,
}

WORKLIST_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS officer_batch_run (
        run_id TEXT PRIMARY KEY, manifest TEXT NOT NULL, model_version TEXT NOT NULL,
        recorded_at TEXT NOT NULL, rows INTEGER NOT NULL, listed INTEGER NOT NULL,
        capacity TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS officer_claim (
        item_id TEXT PRIMARY KEY, officer TEXT NOT NULL, since TEXT NOT NULL,
        assigned_by TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS officer_claim_officer ON officer_claim (officer)",
    "CREATE INDEX IF NOT EXISTS officer_parcel_run ON officer_parcel (batch_run) "
    "WHERE batch_run IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS officer_parcel_posted ON officer_parcel (posted_key) "
    "WHERE flagged = 1",
    "CREATE INDEX IF NOT EXISTS officer_parcel_transport ON officer_parcel "
    "(transport_document) WHERE transport_document IS NOT NULL",
)

_LATEST = LATEST_EFFECTIVE.format(item="p.item_id")
_PENDING = f"EXISTS (SELECT 1 FROM outcome o WHERE o.item_id = p.item_id AND o.state = '{PENDING}')"
STATUS_SQL = (
    "CASE WHEN oc.id IS NULL THEN 'open' "
    "WHEN json_extract(oc.record, '$.inspected') "
    "THEN coalesce(json_extract(oc.record, '$.result'), 'inspected') ELSE 'released' END"
)
ROW_COLUMNS = (
    "item_id",
    "scored_at",
    "posted_at",
    "origin_country",
    "origin_post",
    "category",
    "contents",
    "gross_weight_kg",
    "declared_value",
    "currency",
    "value_eur",
    "probability",
    "band",
    "decision",
    "selection_reason",
    "batch_run",
    "batch_rank",
    "transport_document",
    "status",
    "result",
    "pending",
    "claimed_by",
    "claimed_since",
)
_SELECT = (
    "SELECT p.item_id, p.scored_at, p.posted_at, p.origin_country, p.origin_post, p.category, "
    "p.contents, p.gross_weight_kg, p.declared_value, p.currency, p.value_eur, p.probability, "
    "p.band, p.decision, p.selection_reason, p.batch_run, p.batch_rank, p.transport_document, "
    f"{STATUS_SQL}, json_extract(oc.record, '$.result'), {_PENDING}, c.officer, c.since "
)
FROM = (
    "FROM officer_parcel p LEFT JOIN outcome oc ON oc.id = "
    + _LATEST
    + " LEFT JOIN officer_claim c ON c.item_id = p.item_id"
)


@dataclass(frozen=True)
class QueueFilter:
    """Which flagged parcels (or parcels with a partner hit) a worklist holds, and in what
    order. ``None``: any."""

    day: str | None = None  # posting day, YYYY-MM-DD in ``zone``
    band: str | None = None
    origin: str | None = None  # origin country
    status: str | None = None  # one of STATUSES
    office: str | None = None  # posting office (origin_post)
    manifest: str | None = None  # batch run ID
    transport: str | None = None  # master transport document (an express flight's)
    claimed_by: str | None = None  # an officer's user name ("mine")
    unclaimed: bool = False
    #: parcels with a partner's seizure hit, whatever the model decided (a hit on a parcel
    #: the model lets pass is for the officer to judge, and is listed nowhere else)
    partner_hits: bool = False
    sort: str = "risk"
    desc: bool = True
    zone: str = "UTC"


def day_bounds(day: str, zone: str) -> tuple[str, str]:
    """A local day's start and end as UTC ``posted_key`` values (half-open)."""
    start = datetime.combine(date.fromisoformat(day), time(), ZoneInfo(zone))
    end = datetime.combine(date.fromisoformat(day) + timedelta(days=1), time(), ZoneInfo(zone))
    fmt = "%Y-%m-%d %H:%M:%S"
    return start.astimezone(UTC).strftime(fmt), end.astimezone(UTC).strftime(fmt)


def where(f: QueueFilter) -> tuple[str, list[Any]]:
    """The filter as an SQL condition over ``p`` (parcel), ``oc`` (outcome), ``c`` (claim)."""
    clauses: list[str] = (
        ["p.item_id IN (SELECT item_id FROM exchange_hits)"]
        if f.partner_hits
        else ["p.flagged = 1"]  # literal 1: the partial indexes apply
    )
    params: list[Any] = []
    if f.day:
        clauses.append("p.posted_key >= ? AND p.posted_key < ?")
        params.extend(day_bounds(f.day, f.zone))
    if f.office:  # as typed: a posting office's name in any case
        clauses.append("upper(p.origin_post) = upper(?)")
        params.append(f.office)
    for column, value in (
        ("p.band", f.band),
        ("p.origin_country", f.origin),
        ("p.batch_run", f.manifest),
        ("p.transport_document", f.transport),
        ("c.officer", f.claimed_by),
    ):
        if value:
            clauses.append(f"{column} = ?")
            params.append(value)
    if f.unclaimed:
        clauses.append("c.item_id IS NULL")
    if f.status == "done":
        clauses.append("oc.id IS NOT NULL")
    elif f.status in STATUSES:
        clauses.append(f"({STATUS_SQL}) = ?")
        params.append(f.status)
    return " AND ".join(clauses), params


def _order(f: QueueFilter) -> str:
    term = SORTS.get(f.sort, SORTS["risk"])
    direction = "DESC" if f.desc else "ASC"
    return f"({term} IS NULL), {term} {direction}, p.probability DESC, p.item_id"


class Worklists:
    """Worklist queries and claims over the record database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def rows(self, f: QueueFilter, limit: int, offset: int) -> tuple[int, list[dict[str, Any]]]:
        """(how many parcels match, one page of them in order)."""
        cond, params = where(f)
        ((total,),) = self.db.execute(f"SELECT count(*) {FROM} WHERE {cond}", params)
        found = self.db.execute(
            f"{_SELECT} {FROM} WHERE {cond} ORDER BY {_order(f)} LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
        return int(total), [dict(zip(ROW_COLUMNS, r, strict=True)) for r in found]

    def item_ids(self, f: QueueFilter, limit: int = 100_000) -> list[str]:
        cond, params = where(f)
        found = self.db.execute(
            f"SELECT p.item_id {FROM} WHERE {cond} ORDER BY {_order(f)} LIMIT ?", [*params, limit]
        )
        return [str(r[0]) for r in found]

    def next_open(self, f: QueueFilter, after: str, officer: str) -> str | None:
        """The next open parcel of the worklist after item ``after`` (in its order), skipping
        parcels another officer claimed; the first such parcel if none follows."""
        todo = replace(f, status="open", claimed_by=None, unclaimed=False)
        cond, params = where(todo)
        cond += " AND (c.officer IS NULL OR c.officer = ?) AND p.item_id != ?"
        params += [officer, after]
        term = SORTS.get(f.sort, SORTS["risk"])
        here = self.db.execute(
            f"SELECT {term}, p.probability FROM officer_parcel p WHERE p.item_id = ?", (after,)
        )
        order = _order(todo)
        if here:
            key, risk = here[0]
            later = ">" if not f.desc else "<"
            if key is None:  # NULLs sort last: only NULLs follow, by risk then item
                follows = (
                    f"({term} IS NULL AND (p.probability < ? OR (p.probability = ? "
                    "AND p.item_id > ?)))"
                )
                extra: list[Any] = [risk, risk, after]
            else:
                follows = (
                    f"({term} IS NULL OR {term} {later} ? OR ({term} = ? AND "
                    "(p.probability < ? OR (p.probability = ? AND p.item_id > ?))))"
                )
                extra = [key, key, risk, risk, after]
            found = self.db.execute(
                f"SELECT p.item_id {FROM} WHERE {cond} AND {follows} ORDER BY {order} LIMIT 1",
                [*params, *extra],
            )
            if found:
                return str(found[0][0])
        found = self.db.execute(
            f"SELECT p.item_id {FROM} WHERE {cond} ORDER BY {order} LIMIT 1", params
        )
        return str(found[0][0]) if found else None

    def position(self, f: QueueFilter, item_id: str) -> tuple[int, int] | None:
        """(1-based place of the item in the worklist, its length), or None if not in it."""
        ids = self.item_ids(f)
        return (ids.index(item_id) + 1, len(ids)) if item_id in ids else None

    # -- choices for the filters ----------------------------------------------------------

    def origins(self) -> list[str]:
        rows = self.db.execute(
            "SELECT DISTINCT origin_country FROM officer_parcel WHERE flagged = 1 ORDER BY 1"
        )
        return [r[0] for r in rows]

    def offices(self, limit: int = 500) -> list[str]:
        rows = self.db.execute(
            "SELECT DISTINCT origin_post FROM officer_parcel WHERE flagged = 1 ORDER BY 1 LIMIT ?",
            (limit,),
        )
        return [r[0] for r in rows]

    def transports(self, limit: int = 500) -> list[str]:
        """The master transport documents of flagged parcels, latest first."""
        rows = self.db.execute(
            "SELECT transport_document FROM officer_parcel WHERE flagged = 1 "
            "AND transport_document IS NOT NULL GROUP BY 1 "
            "ORDER BY max(posted_key) DESC LIMIT ?",
            (limit,),
        )
        return [r[0] for r in rows]

    def manifests(self, limit: int = 50) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT run_id, manifest, model_version, recorded_at, rows, "
            "listed, capacity FROM officer_batch_run "
            "ORDER BY recorded_at DESC LIMIT ?",
            (limit,),
        )
        names = ("run_id", "manifest", "model_version", "recorded_at", "rows", "listed", "capacity")
        return [dict(zip(names, r, strict=True)) for r in rows]

    def put_run(self, run: dict[str, Any]) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO officer_batch_run (run_id, manifest, model_version, "
            "recorded_at, rows, listed, capacity) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                run["run_id"],
                run["manifest"],
                run["model_version"],
                run["recorded_at"],
                run["rows"],
                run["listed"],
                run["capacity"],
            ),
        )

    # -- claims ---------------------------------------------------------------------------

    def claim(
        self, item_ids: Sequence[str], officer: str, assigned_by: str, take_over: bool = False
    ) -> list[str]:
        """Claim parcels for ``officer`` (or assign them, ``assigned_by`` another user); a
        parcel another officer holds is kept by them unless ``take_over``. The claimed IDs."""
        now = datetime.now(UTC).isoformat()
        done = []
        with self.db.transaction():
            for item in item_ids:
                held = self.db.execute(
                    "SELECT officer FROM officer_claim WHERE item_id = ?", (item,)
                )
                if held and held[0][0] != officer and not take_over:
                    continue
                self.db.execute(
                    "INSERT OR REPLACE INTO officer_claim VALUES (?, ?, ?, ?)",
                    (item, officer, now, assigned_by),
                )
                done.append(item)
        return done

    def release(self, item_id: str, officer: str | None = None) -> bool:
        """Drop a claim (only ``officer``'s, where given); whether one was dropped."""
        sql = "DELETE FROM officer_claim WHERE item_id = ?"
        params: list[Any] = [item_id]
        if officer is not None:
            sql += " AND officer = ?"
            params.append(officer)
        return bool(self.db.execute(sql + " RETURNING item_id", params))

    def claim_of(self, item_id: str) -> dict[str, str] | None:
        rows = self.db.execute(
            "SELECT officer, since, assigned_by FROM officer_claim WHERE item_id = ?", (item_id,)
        )
        if not rows:
            return None
        officer, since, by = rows[0]
        return {"officer": officer, "since": since, "assigned_by": by}
