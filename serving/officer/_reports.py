"""Exports and the shift report: a worklist and the outcomes as CSV, and what a shift did.

CSV files are written for a spreadsheet (UTF-8 with a byte-order mark, times in the
officer's zone, plain words for enumerations); a cell that starts with = + - @ is prefixed
with an apostrophe, so no spreadsheet runs it as a formula. The shift report counts the
parcels opened in a period, what was found, and the hit rate of the model's selection
beside that of random control (the unbiased base rate) and beside the inspection capacity.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request, Response

from data_contracts import spreadsheet_cell

from .._store import LATEST_EFFECTIVE
from ._context import PREFIX, SECURITY_HEADERS, OfficerContext, context
from ._present import chance, money, words
from ._queue_routes import transport_problem, worklist_filter
from ._text import TEXT
from ._web import Officer, refuse
from ._worklist import day_bounds

router = APIRouter(prefix=PREFIX, include_in_schema=False)
EXPORT_ROWS = 100_000


_cell = spreadsheet_cell  # a cell that starts like a formula gets an apostrophe


def _csv(name: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Response:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([_cell(v) for v in row] for row in rows)
    headers = SECURITY_HEADERS | {"Content-Disposition": f'attachment; filename="{name}"'}
    return Response(
        "\ufeff" + buffer.getvalue(), media_type="text/csv; charset=utf-8", headers=headers
    )


def _local(ctx: OfficerContext) -> Any:
    zone = ZoneInfo(ctx.zone)

    def when(value: Any) -> str:
        if not value:
            return ""
        moment = datetime.fromisoformat(str(value))
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        local = moment.astimezone(zone)
        return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"

    return when


@router.get("/export/worklist.csv")
def worklist_csv(request: Request, session: Officer) -> Response:
    ctx = context(request)
    f = worklist_filter(dict(request.query_params), ctx.zone, session.user.username)
    problem = transport_problem(dict(request.query_params))
    if problem:  # not a sheet of every parcel for an unread flight
        return refuse(request, session, problem, 400)
    _, rows = ctx.parcels.worklists.rows(f, EXPORT_ROWS, 0)
    when = _local(ctx)
    header = [
        TEXT[k]
        for k in (
            "col_rank",
            "col_item",
            "col_posted",
            "col_origin",
            "col_office",
            "col_category",
            "col_contents",
            "csv_weight_kg",
            "csv_value",
            "csv_currency",
            "csv_value_eur",
            "col_score",
            "col_band",
            "col_decision",
            "col_selection",
            "col_status",
            "col_claimed",
            "csv_manifest_rank",
        )
    ]
    body = [
        (
            i + 1,
            r["item_id"],
            when(r["posted_at"]),
            r["origin_country"],
            r["origin_post"],
            words("category", r["category"]),
            r["contents"],
            r["gross_weight_kg"],
            r["declared_value"],
            r["currency"],
            r["value_eur"],
            chance(r["probability"]),
            words("band", r["band"]),
            words("decision", r["decision"]),
            words("selection", r["selection_reason"] or "none"),
            words("status", r["status"]),
            r["claimed_by"],
            r["batch_rank"],
        )
        for i, r in enumerate(rows)
    ]
    return _csv("worklist.csv", header, body)


def _period(ctx: OfficerContext, q: Any) -> tuple[str, str, str, str]:
    """(first day, last day, UTC start, UTC end) of the period asked (default: today, in the
    officer's zone)."""
    today = datetime.now(ZoneInfo(ctx.zone)).date()
    days = []
    for key in ("from", "to"):
        try:
            days.append(date.fromisoformat(q.get(key, "")))
        except ValueError:
            days.append(today)
    first, last = min(days), max(days)
    last = min(last, first + timedelta(days=366))
    start = day_bounds(first.isoformat(), ctx.zone)[0]
    end = day_bounds(last.isoformat(), ctx.zone)[1]
    iso = "%Y-%m-%d %H:%M:%S"
    start_iso = datetime.strptime(start, iso).replace(tzinfo=UTC).isoformat()
    end_iso = datetime.strptime(end, iso).replace(tzinfo=UTC).isoformat()
    return first.isoformat(), last.isoformat(), start_iso, end_iso


def _outcomes(ctx: OfficerContext, start: str, end: str) -> list[dict[str, Any]]:
    """Outcomes received in [start, end), each with where it stands and its parcel's facts."""
    latest = LATEST_EFFECTIVE.format(item="x.item_id")  # (its own alias is o)
    rows = ctx.service.state_db.execute(
        "SELECT x.id, x.item_id, x.recorded_at, x.received_at, x.caller, x.record, x.corrects, "
        f"x.state, x.id = {latest}, p.probability, p.selection_reason, p.decision "
        "FROM outcome x LEFT JOIN officer_parcel p ON p.item_id = x.item_id "
        "WHERE x.received_at >= ? AND x.received_at < ? ORDER BY x.id",
        (start, end),
    )
    names = (
        "id",
        "item_id",
        "recorded_at",
        "received_at",
        "caller",
        "record",
        "corrects",
        "state",
        "current",
        "probability",
        "parcel_selection",
        "decision",
    )
    out = []
    for r in rows:
        row = dict(zip(names, r, strict=True))
        row["record"] = json.loads(row["record"])
        out.append(row)
    return out


@router.get("/export/outcomes.csv")
def outcomes_csv(request: Request, session: Officer) -> Response:
    ctx = context(request)
    first, last, start, end = _period(ctx, request.query_params)
    when = _local(ctx)
    header = [
        TEXT[k]
        for k in (
            "csv_outcome_id",
            "col_item",
            "outcome_time",
            "csv_received",
            "outcome_officer",
            "csv_by",
            "csv_outcome",
            "csv_substance",
            "csv_quantity_g",
            "csv_corrects",
            "csv_correction_reason",
            "csv_standing",
            "col_selection",
            "col_score",
        )
    ]
    body = []
    for o in _outcomes(ctx, start, end):
        rec = o["record"]
        outcome = rec.get("result") if rec.get("inspected") else "released"
        standing = (
            "current" if o["current"] else ("pending" if o["state"] == "pending" else "corrected")
        )
        body.append(
            (
                o["id"],
                o["item_id"],
                when(rec.get("recorded_at")),
                when(o["received_at"]),
                rec.get("officer_ref"),
                o["caller"],
                words("status", outcome),
                rec.get("substance"),
                rec.get("quantity_g"),
                o["corrects"],
                rec.get("correction_reason"),
                words("standing", standing),
                words("selection", rec.get("selection_reason") or "none"),
                chance(o["probability"]) if o["probability"] is not None else "",
            )
        )
    return _csv(f"outcomes-{first}-{last}.csv", header, body)


def shift_figures(ctx: OfficerContext, start: str, end: str) -> dict[str, Any]:
    """What was opened and found in [start, end): overall, by selection, by officer, against
    the capacity of the parcels scored (by the service or a batch run) in the period."""
    counted = [o for o in _outcomes(ctx, start, end) if o["current"]]
    ((scored, flagged),) = ctx.service.state_db.execute(
        "SELECT count(*), coalesce(sum(flagged), 0) FROM officer_parcel "
        "WHERE scored_at >= ? AND scored_at < ?",
        (start, end),
    )
    capacity = ctx.service.settings.capacity
    groups: dict[str, dict[str, int]] = {}
    officers: dict[str, dict[str, int]] = {}
    released = 0
    for o in counted:
        rec = o["record"]
        if not rec.get("inspected"):
            released += 1
            continue
        by = rec.get("selection_reason") or "other"
        for table, key in ((groups, by), (officers, rec.get("officer_ref") or o["caller"])):
            row = table.setdefault(key, {"opened": 0, "found": 0, "clean": 0})
            row["opened"] += 1
            row["found"] += rec.get("result") == "seized"
            row["clean"] += rec.get("result") == "clean"
    opened = sum(g["opened"] for g in groups.values())
    found = sum(g["found"] for g in groups.values())

    def rate(row: dict[str, int] | None) -> float | None:
        return row["found"] / row["opened"] if row and row["opened"] else None

    model, random = groups.get("model"), groups.get("random_control")
    lift = (rate(model) or 0) / rate(random) if rate(random) else None  # type: ignore[operator]
    slots = round(capacity * scored)
    return {
        "scored": int(scored),
        "flagged": int(flagged),
        "capacity": capacity,
        "slots": slots,
        "opened": opened,
        "found": found,
        "released": released,
        "hit_rate": found / opened if opened else None,
        "capacity_used": opened / slots if slots else None,
        "groups": [{"selection": k, **v, "rate": rate(v)} for k, v in sorted(groups.items())],
        "officers": [{"officer": k, **v, "rate": rate(v)} for k, v in sorted(officers.items())],
        "model_rate": rate(model),
        "random_rate": rate(random),
        "lift": lift,
        "random_opened": random["opened"] if random else 0,
    }


@router.get("/report")
def shift_report(request: Request, session: Officer) -> Response:
    ctx = context(request)
    first, last, start, end = _period(ctx, request.query_params)
    figures = shift_figures(ctx, start, end)
    period = {"from": first, "to": last}
    return ctx.render(
        "report.html",
        session,
        figures=figures,
        period=period,
        outcomes_url=f"{PREFIX}/export/outcomes.csv?{urlencode(period)}",
        money=money,
    )
