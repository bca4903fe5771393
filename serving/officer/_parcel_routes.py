"""The parcel page and what an officer does on it: record an outcome (one click for the common
cases, the full form for the rest), save and go to the next parcel of the worklist, claim,
approve a correction.

Plain HTML forms (POST, redirect, GET): every action works without JavaScript. Each form
carries the session's CSRF token, checked here before anything happens; each action goes to
the decision log under the officer's account. A parcel page remembers the worklist it was
opened from (``w``: the worklist's query), so "next" means the next open parcel of that list.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from data_contracts import mail_class

from .._audit import Entry
from .._auth import Role
from .._errors import Forbidden, InvalidInput, NotFound, OutcomeConflict
from .._store import PENDING
from ._cases import CONCEALMENTS, SUBSTANCES, substance_text
from ._context import PREFIX, OfficerContext, context
from ._present import chance as chance_text
from ._present import explanation_steps, points
from ._queue_routes import worklist_filter
from ._svg import waterfall
from ._text import TEXT
from ._users import Session
from ._web import (
    caller_of,
    normal_item_id,
    parcel_url,
    posted,
    posting_session,
    queue_url,
    redirect,
    refuse,
    rid,
    session_of,
    to_login,
    worklist_query,
)

router = APIRouter(prefix=PREFIX, include_in_schema=False)
_NUMBER = re.compile(r"[0-9]{1,9}")
HISTORY_KINDS = ("sender", "sender_address", "recipient", "recipient_address")
#: What one click records: the outcome form's choice.
QUICK = ("seized", "clean", "released")
#: Decision-log kinds the parcel page lists (views are counted, not listed).
LOG_KINDS = ("decision", "outcome", "outcome_correction", "outcome_correction_pending",
             "outcome_correction_approved", "officer_feedback", "case_record",
             "case_attachment")  # fmt: skip


def _history(ctx: OfficerContext, tokens: dict[str, str],
             features: dict[str, Any]) -> list[dict[str, Any]]:  # fmt: skip
    out = []
    for kind in HISTORY_KINDS:
        token = tokens.get(kind, "")
        stats = ctx.service.history_backend.get(kind, token) if token else None
        out.append({
            "kind": kind, "token": token,
            "prev_parcels": features.get(f"{kind}_prev_parcels"),
            "prev_seizures": features.get(f"{kind}_prev_seizures"),
            "parcels_now": stats.parcels if stats else 0,
            "seizures_now": stats.seizures if stats else 0,
            "clean_now": stats.clean if stats else 0,
        })  # fmt: skip
    return out


def _log(ctx: OfficerContext, item_id: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The parcel's decisions, outcomes, corrections and notes; and its views, counted."""
    db = ctx.service.audit.db
    db.execute("CREATE INDEX IF NOT EXISTS decision_log_item ON decision_log (item_id)")
    marks = ", ".join("?" for _ in LOG_KINDS)
    rows = db.execute(f"SELECT seq, time, kind, caller, decision FROM decision_log "
                      f"WHERE item_id = ? AND kind IN ({marks}) ORDER BY seq",
                      (item_id, *LOG_KINDS))  # fmt: skip
    names = ("seq", "time", "kind", "caller", "decision")
    ((views, viewers, last),) = db.execute(
        "SELECT count(*), count(DISTINCT caller), max(time) FROM decision_log "
        "WHERE item_id = ? AND kind = 'explanation_viewed'", (item_id,))  # fmt: skip
    return ([dict(zip(names, r, strict=True)) for r in rows],
            {"count": int(views), "viewers": int(viewers), "last": last})  # fmt: skip


def _trail(ctx: OfficerContext, session: Session, item_id: str) -> dict[str, Any]:
    """The parcel's outcome trail, its current outcome (what a new record corrects), and
    which pending corrections this officer asked for (another officer approves them)."""
    outcomes = ctx.parcels.outcomes(item_id)
    me, ref = caller_of(session).key_id, session.user.officer_ref
    for o in outcomes:
        o["mine"] = o["caller"] == me or bool(ref and o.get("officer_ref") == ref)
    current = next((o for o in outcomes if o["standing"] == "current"), None)
    return {"outcomes": outcomes, "current": current,
            "four_eyes": ctx.service.settings.four_eyes}  # fmt: skip


def _worklist(ctx: OfficerContext, session: Session, w: str, item_id: str) -> dict[str, Any]:
    """Where the parcel stands in the worklist it was opened from, and the next open one."""
    f = worklist_filter(dict(parse_qsl(w)), ctx.zone, session.user.username)
    after = ctx.parcels.worklists.next_open(f, item_id, session.user.username)
    return {"w": w, "queue_url": queue_url(w), "next_item": after,
            "next_url": parcel_url(after, w) if after else None}  # fmt: skip


def _parcel_page(request: Request, session: Session, item_id: str, status: int = 200,
                 errors: list[str] | None = None, form: dict[str, str] | None = None,
                 approval_error: str = "", case_errors: list[str] | None = None,
                 w: str | None = None) -> Response:  # fmt: skip
    ctx = context(request)
    try:
        explained = ctx.service.explanation(item_id, caller_of(session), rid(request))
    except NotFound:
        return refuse(request, session, TEXT["not_found"], 404)
    model = ctx.service.holder.model_for(explained["model_version"])
    steps = explanation_steps(explained, model.calibration, model.spec)
    svg = waterfall(steps, {"title": TEXT["waterfall_title"].format(item_id=item_id),
                            "base": TEXT["waterfall_base"], "final": TEXT["waterfall_final"]},
                    chance_text, points)  # fmt: skip
    tokens = ctx.service.history_backend.get_item(item_id) or {}
    q = request.query_params
    w = worklist_query(q.get("w", "")) if w is None else w
    case = ctx.cases.latest(item_id)
    log, views = _log(ctx, item_id)
    return ctx.render(
        "parcel.html", session, status=status, item_id=item_id, x=explained,
        parcel=ctx.parcels.get(item_id), svg=svg, steps=steps, tokens=tokens,
        reasons=steps["steps"],
        top_reasons=sorted(steps["steps"], key=lambda s: -abs(s["delta"]))[:5],
        history=_history(ctx, tokens, explained["features"]),
        **_trail(ctx, session, item_id), feedback=ctx.parcels.feedback(item_id),
        log=log, views=views, saved=q.get("saved", ""), last=_last(q),
        approved=q.get("approved") == "1", approval_error=approval_error,
        errors=errors or [], form=form or {}, case=case or {},
        case_versions=ctx.cases.versions(item_id), case_errors=case_errors or [],
        case_saved=q.get("case") == "saved", attachments=ctx.cases.attachments(item_id),
        claim=ctx.parcels.worklists.claim_of(item_id), officers=_officers(ctx, session),
        substances=SUBSTANCES, concealments=CONCEALMENTS, quick=QUICK,
        mail_class=mail_class(item_id[:2]).value if item_id[:2].isalpha() else None,
        **_worklist(ctx, session, w, item_id),
    )  # fmt: skip


def _last(q: Any) -> dict[str, str] | None:
    """The outcome just recorded on the previous parcel ("save and next" says what it did)."""
    item, result = q.get("last", ""), q.get("result", "")
    if item and result in (*QUICK, "other_irregularity"):
        return {"item": normal_item_id(item), "result": result}
    return None


def _officers(ctx: OfficerContext, session: Session) -> list[str]:
    """Who an administrator may assign a parcel to (enabled accounts that can sign in)."""
    if not session.user.may(Role.ADMIN):
        return []
    return [u["username"] or "" for u in ctx.users.list()
            if not u["disabled_at"] and u["role"] in ("officer", "admin")]  # fmt: skip


@router.get("/parcels/{item_id}")
def parcel(request: Request, item_id: str) -> Response:  # sync: FastAPI runs it off the loop
    session = session_of(request)
    if session is None:
        return to_login(request)
    canonical = normal_item_id(item_id)
    if canonical != item_id:  # typed in lower case or with spaces: the parcel's own URL
        query = f"?{request.url.query}" if request.url.query else ""
        return redirect(f"{PREFIX}/parcels/{canonical}{query}")
    return _parcel_page(request, session, canonical)


# -- outcomes ------------------------------------------------------------------------------


def _officer_problems(exc: InvalidInput) -> list[str]:
    """The contract's problems with an outcome in an officer's words (field by field)."""
    out = []
    for p in exc.problems:
        if "only recorded for seized" in p.problem:
            out.append(TEXT["outcome_problem_seized_only"])
        else:
            out.append(TEXT.get(f"outcome_problem_{p.field}", f"{p.field}: {p.problem}"))
    return list(dict.fromkeys(out)) or [exc.message]


def _choice(form: dict[str, str]) -> tuple[bool | None, str | None]:
    """(inspected, result) the form chose: the one outcome choice (seized, clean, other
    irregularity, released without inspection), or the older pair of fields."""
    choice = form.get("outcome", "")
    if choice in ("seized", "clean", "other_irregularity"):
        return True, choice
    if choice == "released":
        return False, None
    if form.get("inspected") in ("yes", "no"):
        inspected = form["inspected"] == "yes"
        return inspected, (form.get("result") or None) if inspected else None
    return None, None


def _quantity(text: str) -> Any:
    quantity = text.strip()
    if quantity.count(",") == 1 and "." not in quantity and len(quantity.split(",")[1]) != 3:
        quantity = quantity.replace(",", ".")  # a decimal comma, as most of Europe writes it
    # ("1,500" stays as typed and is refused: a thousands separator or a decimal comma?)
    if not quantity:
        return None
    with contextlib.suppress(ValueError):  # else the contract check names the field
        return float(quantity)
    return quantity


def _outcome_record(form: dict[str, str], parcel: dict[str, Any] | None,
                    item_id: str, officer_ref: str) -> dict[str, Any]:  # fmt: skip
    inspected, result = _choice(form)
    reason = parcel.get("selection_reason") if parcel else None
    substance = form.get("substance", "").strip()
    if substance in SUBSTANCES:  # the pick-list's code, or "other" with its own words
        substance = substance_text({"substance": substance,
                                    "substance_other": form.get("substance_other", "")},
                                   {s: TEXT[f"substance_{s}"] for s in SUBSTANCES}) or ""
    record: dict[str, Any] = {
        "contract_version": "1", "item_id": item_id,
        "recorded_at": datetime.now(UTC).isoformat(), "inspected": bool(inspected),
        "selection_reason": reason or ("other" if inspected else None),
        "selection_probability": parcel.get("selection_probability") if reason and parcel
        else None,
        "result": result, "substance": substance or None,
        "quantity_g": _quantity(form.get("quantity_g", "")), "officer_ref": officer_ref,
    }  # fmt: skip
    corrects = form.get("corrects", "").strip()
    if corrects:  # the form of a parcel with an outcome: the new record corrects it
        record["corrects"] = int(corrects) if _NUMBER.fullmatch(corrects) else corrects
        record["correction_reason"] = form.get("correction_reason", "").strip()[:500] or None
    return record


@router.post("/parcels/{item_id}/outcome")
async def record_outcome(request: Request, item_id: str) -> Response:
    return await run_in_threadpool(_record_outcome, request, item_id, await posted(request))


def _after(ctx: OfficerContext, session: Session, item_id: str, form: dict[str, str],
           result: str, effective: bool) -> Response:  # fmt: skip
    """Where a recorded outcome leads: the next open parcel of the worklist ("save and
    next"), back to the worklist (a row's button), or the parcel's own page."""
    w = worklist_query(form.get("w", ""))
    if form.get("then") == "queue":
        return redirect(queue_url(w) + ("&" if w else "?") +
                        urlencode({"last": item_id, "result": result}))  # fmt: skip
    if form.get("then") == "next" and effective:
        f = worklist_filter(dict(parse_qsl(w)), ctx.zone, session.user.username)
        after = ctx.parcels.worklists.next_open(f, item_id, session.user.username)
        if after is None:
            return redirect(queue_url(w) + ("&" if w else "?") +
                            urlencode({"last": item_id, "result": result, "empty": 1}))
        return redirect(f"{PREFIX}/parcels/{after}?" +
                        urlencode({"w": w, "last": item_id, "result": result}))  # fmt: skip
    saved = "1" if effective else "pending"
    return redirect(f"{PREFIX}/parcels/{item_id}?" + urlencode({"saved": saved, "w": w}) +
                    "#outcome")  # fmt: skip


def _record_outcome(request: Request, item_id: str, form: dict[str, str]) -> Response:
    session = posting_session(request, form)
    if not isinstance(session, Session):
        return session  # to the sign-in page, or refused (CSRF)
    ctx = context(request)
    item_id = normal_item_id(item_id)
    parcel = ctx.parcels.get(item_id)
    if parcel is None and ctx.service.state.get_result(item_id) is None:
        return refuse(request, session, TEXT["not_found"], 404)
    caller, request_id = caller_of(session), rid(request)
    record = _outcome_record(form, parcel, item_id, session.user.officer_ref)
    inspected, _ = _choice(form)
    w = worklist_query(form.get("w", ""))
    missing = [k for k, ok in (("outcome", inspected is not None),
                               ("result", record["result"] or not record["inspected"]),
                               ("correction_reason", record.get("correction_reason")
                                or "corrects" not in record))
               if not ok]  # nothing is pre-selected: an officer says which  # fmt: skip
    if missing:
        errors = [TEXT[f"outcome_problem_{k}"] for k in missing]
        return _parcel_page(request, session, item_id, 422, errors, form, w=w)
    try:
        stored = ctx.service.outcome(record, caller, request_id)
    except InvalidInput as exc:
        return _parcel_page(request, session, item_id, 422, _officer_problems(exc), form, w=w)
    except OutcomeConflict:  # recorded or corrected meanwhile: the page shows what is there
        return _parcel_page(request, session, item_id, 409, [TEXT["outcome_conflict"]], form,
                            w=w)  # fmt: skip
    _feedback(ctx, session, item_id, form, request_id)
    ctx.parcels.worklists.release(item_id)  # done: no longer anyone's to work on
    result = record["result"] or "released"
    return _after(ctx, session, item_id, form, result, bool(stored["effective"]))


def _feedback(ctx: OfficerContext, session: Session, item_id: str, form: dict[str, str],
              request_id: str) -> None:  # fmt: skip
    notes = form.get("notes", "").strip()[:2000]
    reason = form.get("disagree_reason", "").strip()[:500]
    disagree = form.get("disagree") == "yes" or bool(reason)  # a reason given is a disagreement
    if not (notes or disagree):
        return
    ctx.parcels.add_feedback(item_id, session.user.officer_ref, disagree, reason, notes)
    ctx.service.audit.append(Entry(
        "officer_feedback", request_id=request_id, caller=caller_of(session).key_id,
        item_id=item_id, decision="disagree" if disagree else "note",
        detail={"officer_ref": session.user.officer_ref, "disagree": disagree,
                "reason": reason, "notes_sha256": hashlib.sha256(notes.encode()).hexdigest(),
                "notes_chars": len(notes)},
    ))  # fmt: skip


@router.post("/parcels/{item_id}/quick")
async def quick_outcome(request: Request, item_id: str) -> Response:
    return await run_in_threadpool(_quick, request, item_id, await posted(request))


def _quick(request: Request, item_id: str, form: dict[str, str]) -> Response:
    """One click: Seized, Clean or Released without inspection, as the first outcome of a
    parcel (a parcel with an outcome is corrected on its form, with a reason)."""
    action = form.get("outcome", "")
    if action not in QUICK:
        session = session_of(request)
        return refuse(request, session, TEXT["quick_unknown"], 422) if session else \
            to_login(request)  # fmt: skip
    return _record_outcome(request, item_id, {
        "csrf": form.get("csrf", ""), "outcome": action, "w": form.get("w", ""),
        "then": form.get("then", "next")})  # fmt: skip


@router.post("/parcels/{item_id}/outcomes/{outcome_id}/approve")
async def approve_outcome(request: Request, item_id: str, outcome_id: str) -> Response:
    return await run_in_threadpool(_approve_outcome, request, item_id, outcome_id,
                                   await posted(request))  # fmt: skip


def _approve_outcome(request: Request, item_id: str, outcome_id: str,
                     form: dict[str, str]) -> Response:  # fmt: skip
    """Four eyes: another officer approves a pending correction (logged under their name)."""
    session = posting_session(request, form)
    if not isinstance(session, Session):
        return session  # to the sign-in page, or refused (CSRF)
    ctx = context(request)
    item_id = normal_item_id(item_id)
    found = ctx.service.state.outcome(int(outcome_id)) if _NUMBER.fullmatch(outcome_id) else None
    if found is None or found.item_id != item_id:
        return refuse(request, session, TEXT["not_found"], 404)
    try:
        ctx.service.record.approve_outcome(found.id, caller_of(session).key_id, rid(request),
                                           session.user.officer_ref or None)  # fmt: skip
    except Forbidden:
        return _parcel_page(request, session, item_id, 403,
                            approval_error=TEXT["approve_own"])  # fmt: skip
    except OutcomeConflict:  # approved already, or what it corrects was corrected since
        now = ctx.service.state.outcome(found.id)
        why = "approve_outdated" if now is not None and now.state == PENDING else "approve_done"
        return _parcel_page(request, session, item_id, 409, approval_error=TEXT[why])
    return redirect(f"{PREFIX}/parcels/{item_id}?approved=1#outcome")


# -- claims --------------------------------------------------------------------------------


@router.post("/parcels/{item_id}/claim")
async def claim(request: Request, item_id: str) -> Response:
    return await run_in_threadpool(_claim, request, item_id, await posted(request))


def _claim(request: Request, item_id: str, form: dict[str, str]) -> Response:
    """Claim a parcel (others see who works on it), give it up, or (an administrator)
    assign it to an officer."""
    session = posting_session(request, form)
    if not isinstance(session, Session):
        return session  # to the sign-in page, or refused (CSRF)
    ctx = context(request)
    item_id = normal_item_id(item_id)
    if ctx.parcels.get(item_id) is None:
        return refuse(request, session, TEXT["not_found"], 404)
    me = session.user.username
    action = form.get("action", "claim")
    lists = ctx.parcels.worklists
    if action == "assign":
        officer = form.get("officer", "").strip()
        if not session.user.may(Role.ADMIN):
            return refuse(request, session, TEXT["assign_admin_only"], 403)
        if officer not in _officers(ctx, session):
            return refuse(request, session, TEXT["assign_unknown"], 422)
        lists.claim([item_id], officer, me, take_over=True)
    elif action == "release":
        lists.release(item_id, None if session.user.may(Role.ADMIN) else me)
    elif not lists.claim([item_id], me, me):
        holder = lists.claim_of(item_id)
        return refuse(request, session, TEXT["claimed_by_other"].format(
            who=holder["officer"] if holder else "?"), 409)  # fmt: skip
    w = worklist_query(form.get("w", ""))
    if form.get("then") == "queue":
        return redirect(queue_url(w))
    return redirect(parcel_url(item_id, w))
