"""The parcel page: the explanation, the parcel's history, its outcome trail, case record,
claim and decision log, and where it stands in the worklist it was opened from (``w``: the
worklist's query, so "next" means the next open parcel of that list).

What an officer does on the page is in ``_outcome_routes`` (outcomes, corrections, approvals),
``_claim_routes`` (claim, release, assign) and ``_case_routes`` (case record, attachments).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request, Response

from data_contracts import mail_class
from screening.exchange import FollowUps

from .._audit import DecisionLog, Entry
from .._auth import Role
from .._errors import NotFound
from ._cases import CONCEALMENTS, SUBSTANCES
from ._context import PREFIX, OfficerContext, context
from ._present import chance as chance_text
from ._present import explanation_steps, points
from ._queue_routes import released_of, worklist_filter
from ._svg import waterfall
from ._text import TEXT
from ._users import Session
from ._web import (
    Officer,
    caller_of,
    normal_item_id,
    parcel_url,
    queue_url,
    redirect,
    refuse,
    rid,
    worklist_query,
)

router = APIRouter(prefix=PREFIX, include_in_schema=False)
HISTORY_KINDS = ("sender", "sender_address", "recipient", "recipient_address")
#: What one click records: the outcome form's choice.
QUICK = ("seized", "clean", "released")
#: Decision-log kinds the parcel page lists (views are counted, not listed).
LOG_KINDS = (
    "decision",
    "outcome",
    "outcome_correction",
    "outcome_correction_pending",
    "outcome_correction_approved",
    "officer_feedback",
    "case_record",
    "case_attachment",
    "parcel_claimed",
    "parcel_assigned",
    "parcel_released",
    "exchange_match",
    "exchange_request_prepared",
    "exchange_request_approved",
)
#: Kinds whose "what" column is made from the record's detail (no decision of their own).
EXCHANGE_KINDS = LOG_KINDS[-3:]
#: An officer's views of one parcel within this period are one record of the decision log.
VIEW_PERIOD = timedelta(hours=1)


def _history(
    ctx: OfficerContext, tokens: dict[str, str], features: dict[str, Any]
) -> list[dict[str, Any]]:
    out = []
    for kind in HISTORY_KINDS:
        token = tokens.get(kind, "")
        stats = ctx.service.history_backend.get(kind, token) if token else None
        out.append(
            {
                "kind": kind,
                "token": token,
                "prev_parcels": features.get(f"{kind}_prev_parcels"),
                "prev_seizures": features.get(f"{kind}_prev_seizures"),
                "parcels_now": stats.parcels if stats else 0,
                "seizures_now": stats.seizures if stats else 0,
                "clean_now": stats.clean if stats else 0,
            }
        )
    return out


def note_view(
    audit: DecisionLog,
    caller: str,
    item_id: str,
    model_version: str | None,
    request_id: str,
    now: datetime | None = None,
    kind: str = "explanation_viewed",
    detail: dict[str, Any] | None = None,
) -> bool:
    """Log that ``caller`` viewed the parcel's explanation (or its partner hits: ``kind``),
    once per ``VIEW_PERIOD``: a reload, the page after a save or "save and next" back again
    writes nothing. Whether a record was written."""
    db = audit.db
    now = now or datetime.now(UTC)
    since = (now - VIEW_PERIOD).isoformat()
    with db.transaction():  # two tabs loading at once write one record
        if db.execute(
            "SELECT 1 FROM decision_log WHERE item_id = ? AND kind = ? AND caller = ? "
            "AND time >= ? LIMIT 1",
            (item_id, kind, caller, since),
        ):
            return False
        audit.append(
            Entry(
                kind,
                request_id=request_id,
                caller=caller,
                item_id=item_id,
                model_version=model_version,
                detail=detail or {},
            ),
            now,
        )
    return True


def _log(ctx: OfficerContext, item_id: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The parcel's decisions, outcomes, corrections and notes; and its views, counted."""
    db = ctx.service.audit.db
    marks = ", ".join("?" for _ in LOG_KINDS)
    rows = db.execute(
        f"SELECT seq, time, kind, caller, decision, detail FROM decision_log "
        f"WHERE item_id = ? AND kind IN ({marks}) ORDER BY seq",
        (item_id, *LOG_KINDS),
    )
    names = ("seq", "time", "kind", "caller", "decision")
    entries = []
    for r in rows:
        entry = dict(zip(names, r[:5], strict=True))
        if entry["kind"] in EXCHANGE_KINDS:
            entry["what"] = exchange_said(entry["kind"], r[5])
        entries.append(entry)
    ((views, viewers, last),) = db.execute(
        "SELECT count(*), count(DISTINCT caller), max(time) FROM decision_log "
        "WHERE item_id = ? AND kind = 'explanation_viewed'",
        (item_id,),
    )
    return entries, {"count": int(views), "viewers": int(viewers), "last": last}


def exchange_said(kind: str, detail: str | None) -> str:
    """What an exchange record of the decision log says, in words: the partners and their
    references (never a token: the records hold none)."""
    try:
        d = json.loads(detail or "{}")
    except ValueError:
        d = {}
    if not isinstance(d, dict):
        d = {}
    if kind == "exchange_match":
        return TEXT["log_exchange_match"].format(
            refs=", ".join(map(str, d.get("refs", []))) or "-",
            partners=", ".join(map(str, d.get("partners", []))) or "-",
        )
    return TEXT["log_exchange_request"].format(
        id=d.get("id", "-"), source=d.get("source", "-"), ref=d.get("ref", "-")
    )


def _trail(ctx: OfficerContext, session: Session, item_id: str) -> dict[str, Any]:
    """The parcel's outcome trail, its current outcome (what a new record corrects), and
    which pending corrections this officer asked for (another officer approves them)."""
    outcomes = ctx.parcels.outcomes(item_id)
    me, ref = caller_of(session).key_id, session.user.officer_ref
    for o in outcomes:
        o["mine"] = o["caller"] == me or bool(ref and o.get("officer_ref") == ref)
    current = next((o for o in outcomes if o["standing"] == "current"), None)
    return {"outcomes": outcomes, "current": current, "four_eyes": ctx.service.settings.four_eyes}


def _worklist(ctx: OfficerContext, session: Session, w: str, item_id: str) -> dict[str, Any]:
    """Where the parcel stands in the worklist it was opened from, and the next open one."""
    f = worklist_filter(dict(parse_qsl(w)), ctx.zone, session.user.username)
    after = ctx.parcels.worklists.next_open(f, item_id, session.user.username)
    return {
        "w": w,
        "queue_url": queue_url(w),
        "next_item": after,
        "next_url": parcel_url(after, w) if after else None,
    }


def parcel_page(
    request: Request,
    session: Session,
    item_id: str,
    status: int = 200,
    errors: list[str] | None = None,
    form: dict[str, str] | None = None,
    approval_error: str = "",
    case_errors: list[str] | None = None,
    w: str | None = None,
) -> Response:
    ctx = context(request)
    try:
        explained = ctx.service.explanation(item_id, caller_of(session), rid(request), logged=False)
    except NotFound:
        return refuse(request, session, TEXT["not_found"], 404)
    note_view(
        ctx.service.audit,
        caller_of(session).key_id,
        item_id,
        explained["model_version"],
        rid(request),
    )
    model = ctx.service.holder.model_for(explained["model_version"])
    steps = explanation_steps(explained, model.calibration, model.spec)
    svg = waterfall(
        steps,
        {
            "title": TEXT["waterfall_title"].format(item_id=item_id),
            "base": TEXT["waterfall_base"],
            "final": TEXT["waterfall_final"],
        },
        chance_text,
        points,
    )
    tokens = ctx.service.history_backend.get_item(item_id) or {}
    q = request.query_params
    w = worklist_query(q.get("w", "")) if w is None else w
    case = ctx.cases.latest(item_id)
    log, views = _log(ctx, item_id)
    attachments = ctx.cases.attachments(item_id)
    return ctx.render(
        "parcel.html",
        session,
        status=status,
        item_id=item_id,
        x=explained,
        parcel=ctx.parcels.get(item_id),
        svg=svg,
        steps=steps,
        tokens=tokens,
        reasons=steps["steps"],
        top_reasons=sorted(steps["steps"], key=lambda s: -abs(s["delta"]))[:5],
        history=_history(ctx, tokens, explained["features"]),
        **_trail(ctx, session, item_id),
        feedback=ctx.parcels.feedback(item_id),
        log=log,
        views=views,
        saved=q.get("saved", ""),
        last=_last(q),
        released=released_of(q),
        approved=q.get("approved") == "1",
        approval_error=approval_error,
        errors=errors or [],
        form=form or {},
        case=case or {},
        case_versions=ctx.cases.versions(item_id),
        case_errors=case_errors or [],
        case_saved=q.get("case") == "saved",
        attachments=attachments,
        added=next((a.name for a in attachments if str(a.id) == q.get("added")), None),
        claim=ctx.parcels.worklists.claim_of(item_id),
        officers=officers(ctx, session),
        partner_hits=FollowUps(ctx.service.state_db).hits(item_id),
        substances=SUBSTANCES,
        concealments=CONCEALMENTS,
        quick=QUICK,
        mail_class=mail_class(item_id[:2]).value if item_id[:2].isalpha() else None,
        **_worklist(ctx, session, w, item_id),
    )


def _last(q: Any) -> dict[str, str] | None:
    """The outcome just recorded on the previous parcel ("save and next" says what it did)."""
    item, result = q.get("last", ""), q.get("result", "")
    if item and result in (*QUICK, "other_irregularity"):
        return {"item": normal_item_id(item), "result": result}
    return None


def officers(ctx: OfficerContext, session: Session) -> list[str]:
    """Who an administrator may assign a parcel to (enabled accounts that can sign in)."""
    if not session.user.may(Role.ADMIN):
        return []
    return [
        u["username"] or ""
        for u in ctx.users.list()
        if not u["disabled_at"] and u["role"] in ("officer", "admin")
    ]


@router.get("/parcels/{item_id}")
def parcel(request: Request, session: Officer, item_id: str) -> Response:  # sync: off the loop
    canonical = normal_item_id(item_id)
    if canonical != item_id:  # typed in lower case or with spaces: the parcel's own URL
        query = f"?{request.url.query}" if request.url.query else ""
        return redirect(f"{PREFIX}/parcels/{canonical}{query}")
    return parcel_page(request, session, canonical)
