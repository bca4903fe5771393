"""The worklists (the queue), the search box, and the queue's model-health banner.

The queue's URL holds the whole view: filters, sort column and direction, page. With no
parameter at all it is the default worklist: open parcels of any day, highest risk first.
A URL with filters says its status itself (empty: any status).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import date
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response

from screening import LABELS, Band, group_of
from screening.exchange import FollowUps

from ._context import PREFIX, OfficerContext, context
from ._text import TEXT
from ._web import (
    Officer,
    normal_item_id,
    parcel_url,
    redirect,
    worklist_query,
)
from ._worklist import DEFAULT_DESC, SORTS, STATUSES, QueueFilter

router = APIRouter(prefix=PREFIX, include_in_schema=False)
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_RUN = re.compile(r"^[0-9a-f]{16}$")
#: A master transport document, as the contract (version 2) allows one.
_DOCUMENT = re.compile(r"^[A-Z0-9][A-Z0-9-]{0,34}$")
_PAGE = re.compile(r"[0-9]{1,9}")
_USERNAME = re.compile(r"[A-Za-z0-9._@-]{1,64}")
#: A master air waybill number: airline prefix (3 digits) and serial (8), as typed.
_AWB_DIGITS = re.compile(r"[0-9]{11}")
_AWB_TYPED = re.compile(r"[0-9]{3}[\s-]*[0-9]{4}\s*[0-9]{4}")


def worklist_filter(q: Mapping[str, str], zone: str, username: str) -> QueueFilter:
    """The worklist a query names; no parameter at all: open parcels of any day, by risk."""
    day = q.get("date", "")
    status = q.get("status", "open" if not q else "")
    sort = q.get("sort", "risk") if q.get("sort") in SORTS else "risk"
    direction = q.get("dir", "")
    return QueueFilter(
        day=day if _DAY.match(day) and _valid_day(day) else None,
        band=q.get("band") if q.get("band") in {b.value for b in Band} else None,
        origin=q.get("origin") if _COUNTRY.match(q.get("origin", "")) else None,
        status=status if status in STATUSES else None,
        office=q.get("office", "").strip()[:300] or None,
        manifest=q.get("manifest") if _RUN.match(q.get("manifest", "")) else None,
        transport=_transport(q.get("transport", "")),
        claimed_by=username if q.get("mine") == "1" else None,
        unclaimed=q.get("mine") == "none",
        partner_hits=q.get("hits") == "1",
        sort=sort,
        desc=DEFAULT_DESC[sort] if direction not in ("asc", "desc") else direction == "desc",
        zone=zone,
    )


def _transport(text: str) -> str | None:
    """A master transport document as typed (case and spaces ignored; a master air waybill
    number's 11 digits with or without the dash: ``176 12345675``, ``17612345675`` are
    ``176-12345675``; a number of other length is none); another document the contract
    allows as it is; None: none asked, or not one (:func:`transport_problem` says so)."""
    document = re.sub(r"\s+", "", text[:100]).upper()
    digits = document.replace("-", "")
    if digits.isdecimal() and digits.isascii():  # a number: an air waybill's, or none
        typed = _AWB_DIGITS.fullmatch(digits) and _AWB_TYPED.fullmatch(text.strip())
        return f"{digits[:3]}-{digits[3:]}" if typed else None
    return document if _DOCUMENT.match(document) else None  # another kind of document


def transport_problem(q: Mapping[str, str]) -> str | None:
    """What is wrong with the flight the query asks for (None: none asked, or a valid one):
    a value the filter cannot read is said, never dropped to show the unfiltered list."""
    typed = q.get("transport", "").strip()
    if not typed or _transport(typed) is not None:
        return None
    return TEXT["transport_unreadable"].format(typed=typed[:60])


def released_of(q: Mapping[str, str]) -> str | None:
    """The officer whose claim the outcome just recorded released (``released`` of the page
    after it), where it reads as a user name."""
    name = q.get("released", "")
    return name if _USERNAME.fullmatch(name) else None


def _valid_day(day: str) -> bool:
    try:
        date.fromisoformat(day)
    except ValueError:
        return False
    return True


def kept_of(f: QueueFilter, mine: str) -> dict[str, str]:
    """The filter as the URL's parameters (status always: the page's own choice)."""
    return {
        "status": f.status or "",
        "date": f.day or "",
        "band": f.band or "",
        "origin": f.origin or "",
        "office": f.office or "",
        "manifest": f.manifest or "",
        "transport": f.transport or "",
        "mine": mine,
        "hits": "1" if f.partner_hits else "",
        "sort": f.sort,
        "dir": "desc" if f.desc else "asc",
    }


def _heading(f: QueueFilter, manifests: list[dict[str, Any]]) -> str:
    parts = [TEXT.get(f"heading_status_{f.status or 'any'}", TEXT["heading_status_any"])]
    if f.manifest:
        name = next((m["manifest"] for m in manifests if m["run_id"] == f.manifest), f.manifest)
        parts.append(TEXT["heading_manifest"].format(manifest=name))
    if f.day:
        parts.append(TEXT["heading_day"].format(day=f.day))
    elif not f.manifest:
        parts.append(TEXT["heading_any_day"])
    if f.office:
        parts.append(TEXT["heading_office"].format(office=f.office))
    if f.transport:
        parts.append(TEXT["heading_transport"].format(document=f.transport))
    if f.claimed_by:
        parts.append(TEXT["heading_mine"])
    if f.partner_hits:
        parts.append(TEXT["heading_partner_hits"])
    return " ".join(parts)


def health_alarms(ctx: OfficerContext) -> list[dict[str, str]]:
    """The model-health alarms the queue's banner shows, each with what to do: none unless
    the drift monitor (``Service.health``: the last day against the same hours of the four
    weeks before, kept a minute) has an alarm firing, or no model is loaded."""
    if ctx.service.holder.loaded is None:
        return [{"what": TEXT["alarm_no_model"], "todo": TEXT["alarm_no_model_todo"]}]
    report = ctx.service.health()
    if report is None or not report.alarms:
        return []
    fields = [a.feature for a in report.alarms if a.feature != "score"]
    parts = list(dict.fromkeys(LABELS[group_of(name)].lower() for name in fields))
    score = next((a for a in report.alarms if a.feature == "score"), None)
    return [
        {
            "what": TEXT["alarm_drift"].format(
                parcels=report.current_rows,
                before=report.reference_rows,
                score=TEXT["alarm_drift_score"].format(psi=f"{score.psi:.2f}")
                if score
                else TEXT["alarm_drift_no_score"],
                features=", ".join(parts[:5]) or TEXT["value_none"],
            ),
            "todo": TEXT["alarm_drift_todo"],
        }
    ]


def partner_hit_items(ctx: OfficerContext, item_ids: list[str]) -> set[str]:
    """Which of the listed parcels have a partner hit (``parcelscreen exchange match``)."""
    if not item_ids:
        return set()
    FollowUps(ctx.service.state_db)  # the exchange's tables, made if no match ran yet
    marks = ", ".join("?" for _ in item_ids)
    rows = ctx.service.state_db.execute(
        f"SELECT DISTINCT item_id FROM exchange_hits WHERE item_id IN ({marks})", item_ids
    )
    return {r[0] for r in rows}


@router.get("")
async def home() -> Response:
    return redirect(f"{PREFIX}/queue")


@router.get("/queue")
def queue(request: Request, session: Officer) -> Response:  # sync: off the event loop
    ctx = context(request)
    q = request.query_params
    params = {
        k: v for k, v in q.items() if k not in ("page", "last", "result", "empty", "released")
    }
    f = worklist_filter(params, ctx.zone, session.user.username)
    asked = q.get("page", "")  # ASCII digits only, and few: "²" or 10**5000 is page 1
    page = int(asked) if _PAGE.fullmatch(asked) and int(asked) > 0 else 1
    size = ctx.page_size
    lists = ctx.parcels.worklists
    problem = transport_problem(params)
    if f.partner_hits:
        FollowUps(ctx.service.state_db)  # the exchange's tables, made if no hit was recorded
    total, rows = lists.rows(f, size, (page - 1) * size) if not problem else (0, [])
    pages = max(1, math.ceil(total / size))
    if page > pages:  # past the end (an old link, a changed filter): the last page
        page = pages
        total, rows = lists.rows(f, size, (page - 1) * size)
    mine = "1" if f.claimed_by else ("none" if f.unclaimed else "")
    kept = kept_of(f, mine)
    default = kept_of(worklist_filter({}, ctx.zone, session.user.username), "")
    w = "" if kept == default else urlencode(kept)  # the default worklist needs no "w"

    def page_url(n: int) -> str:
        return f"{PREFIX}/queue?{urlencode(kept | {'page': n})}"

    def sort_url(column: str) -> str:
        desc = (not f.desc) if f.sort == column else DEFAULT_DESC[column]
        return f"{PREFIX}/queue?" + urlencode(
            kept | {"sort": column, "dir": "desc" if desc else "asc"}
        )

    manifests = lists.manifests()
    last = q.get("last", "")
    return ctx.render(
        "queue.html",
        session,
        rows=rows,
        total=total,
        page=page,
        pages=pages,
        first_rank=(page - 1) * size + 1,
        filter=f,
        kept=kept,
        w=w,
        bands=[b.value for b in Band],
        statuses=STATUSES,
        origins=lists.origins(),
        offices=lists.offices(),
        transports=lists.transports(),
        manifests=manifests,
        sort_url=sort_url,
        parcel_url=parcel_url,
        prev_url=page_url(page - 1) if page > 1 else None,
        next_url=page_url(page + 1) if page < pages else None,
        heading=_heading(f, manifests),
        alarms=health_alarms(ctx),
        partner_hits=partner_hit_items(ctx, [r["item_id"] for r in rows]),
        last={"item": normal_item_id(last), "result": q.get("result", "")} if last else None,
        empty=q.get("empty") == "1",
        problem=problem,
        released=released_of(q),
        typed_transport=params.get("transport", "")[:100] if problem else "",
        export_url=f"{PREFIX}/export/worklist.csv?{urlencode(kept)}",
        halted=ctx.service.refresh_halted(),  # another worker may have halted it
    )


# -- search --------------------------------------------------------------------------------


@router.get("/find")
def find(request: Request, session: Officer) -> Response:  # sync: off the event loop
    """An item ID typed or scanned (case, spaces and dashes ignored): its page; part of
    one: the parcels whose ID holds it."""
    ctx = context(request)
    asked = request.query_params.get("q", "")[:100]
    wanted = normal_item_id(asked)
    w = worklist_query(request.query_params.get("w", ""))
    if wanted and (
        ctx.parcels.get(wanted) is not None or ctx.service.state.get_result(wanted) is not None
    ):
        return redirect(parcel_url(wanted, w))
    found = []
    if len(wanted) >= 4:
        rows = ctx.service.state_db.execute(
            "SELECT item_id, probability, band, decision, posted_at FROM officer_parcel "
            "WHERE instr(item_id, ?) > 0 ORDER BY probability DESC LIMIT 20",
            (wanted,),
        )
        found = [
            dict(zip(("item_id", "probability", "band", "decision", "posted_at"), r, strict=True))
            for r in rows
        ]
    if len(found) == 1:
        return redirect(parcel_url(found[0]["item_id"], w))
    return ctx.render(
        "find.html",
        session,
        status=200 if found else 404,
        asked=asked,
        wanted=wanted,
        found=found,
        w=w,
        parcel_url=parcel_url,
    )
