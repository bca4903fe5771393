"""The officer view's pages: sign-in, queue, parcel (explanation, history, outcome), model.

Plain HTML forms (POST, redirect, GET): every action works without JavaScript. Each form
carries the session's CSRF token, checked here before anything happens; each action goes to
the decision log under the officer's account.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import re
import secrets
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from screening import Band

from .._audit import Entry
from .._auth import Caller, Role
from .._errors import Forbidden, InvalidInput, NotFound, OutcomeConflict
from .._store import PENDING
from ._context import (
    LOGIN_CSRF_COOKIE,
    PREFIX,
    SECURITY_HEADERS,
    SESSION_COOKIE,
    OfficerContext,
    context,
)
from ._model_page import model_page_values
from ._parcels import STATUSES, QueueFilter, today
from ._svg import waterfall
from ._text import TEXT
from ._users import Session, csrf_ok

router = APIRouter(prefix=PREFIX, include_in_schema=False)
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_PAGE = re.compile(r"[0-9]{1,9}")
HISTORY_KINDS = ("sender", "sender_address", "recipient", "recipient_address")


def _session(request: Request) -> Session | None:
    found = context(request).users.session(request.cookies.get(SESSION_COOKIE))
    return found if found is not None and found.user.may(Role.OFFICER) else None


def _caller(session: Session) -> Caller:
    return Caller(f"officer:{session.user.username}", session.user.role)


def _rid(request: Request) -> str:
    return str(request.state.request_id)


def _to_login(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"{PREFIX}/login?{urlencode({'next': target})}", 303,
                            headers=SECURITY_HEADERS)  # fmt: skip


def _redirect(url: str) -> Response:
    return RedirectResponse(url, 303, headers=SECURITY_HEADERS)


def _refuse(request: Request, session: Session | None, message: str, status: int) -> Response:
    return context(request).render("error.html", session, status=status, message=message)


async def _posted(request: Request) -> dict[str, str]:
    """The form's text fields, read on the event loop (the work with them runs off it)."""
    return {k: v for k, v in (await request.form()).items() if isinstance(v, str)}


def _set_cookie(response: Response, name: str, value: str, max_age: int, secure: bool) -> None:
    response.set_cookie(name, value, max_age=max_age, path=PREFIX, httponly=True,
                        samesite="strict", secure=secure)  # fmt: skip


# -- sign-in -------------------------------------------------------------------------------


@router.get("")
async def home() -> Response:
    return _redirect(f"{PREFIX}/queue")


@router.get("/login")
async def login_page(request: Request, next: str = "", signed_out: int = 0) -> Response:
    ctx = context(request)
    token = secrets.token_urlsafe(32)
    response = ctx.render("login.html", None, csrf=token, next=next,
                          message=TEXT["signed_out"] if signed_out else "")  # fmt: skip
    _set_cookie(response, LOGIN_CSRF_COOKIE, token, 3600, ctx.secure_cookie)
    return response


def _login_again(ctx: OfficerContext, status: int, target: str, username: str,
                 error: str) -> Response:  # fmt: skip
    token = secrets.token_urlsafe(32)
    response = ctx.render("login.html", None, status=status, csrf=token, next=target,
                          username=username, error=error)  # fmt: skip
    _set_cookie(response, LOGIN_CSRF_COOKIE, token, 3600, ctx.secure_cookie)
    return response


@router.post("/login")
async def login(request: Request) -> Response:
    ctx = context(request)
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    if not csrf_ok(request.cookies.get(LOGIN_CSRF_COOKIE), form.get("csrf")):
        return _refuse(request, None, TEXT["csrf_failed"], 403)
    username = form.get("username", "").strip()[:60]
    target = form.get("next", "")
    if not target.startswith(f"{PREFIX}/") or target.startswith(f"{PREFIX}/login"):
        target = f"{PREFIX}/queue"
    client = request.client.host if request.client else "-"
    # counted before the password check, in the state database that every worker shares
    wait, ticket = await run_in_threadpool(ctx.throttle.attempt, username, client)
    if wait > 0:  # refused before any password work, and not audited one by one
        error = TEXT["signin_throttled"].format(minutes=math.ceil(wait / 60))
        response = _login_again(ctx, 429, target, username, error)
        response.headers["Retry-After"] = str(math.ceil(wait))
        return response
    # scrypt takes tens of milliseconds: off the event loop, so scoring does not wait for it
    user = await run_in_threadpool(ctx.users.check, username, form.get("password", ""))
    if user is not None:  # the right password (with or without the role) is no guess
        await run_in_threadpool(ctx.throttle.succeeded, username, client, ticket)
    if user is None or not user.may(Role.OFFICER):
        refused = user is not None
        known = refused or await run_in_threadpool(ctx.users.exists, username)
        ctx.service.audit.append(Entry(  # a name that is no account may be a typed password
            "officer_signin_refused", request_id=_rid(request),
            caller=f"officer:{username}" if known else "officer:(no such user)",
            detail={"reason": "role" if refused else "credentials"}))  # fmt: skip
        error = TEXT["signin_no_role" if refused else "signin_failed"]
        return _login_again(ctx, 403 if refused else 401, target, username, error)
    cookie, session = ctx.users.open_session(user, ctx.lifetime)
    ctx.service.audit.append(Entry("officer_signin", request_id=_rid(request),
                                   caller=_caller(session).key_id,
                                   detail={"officer_ref": user.officer_ref}))  # fmt: skip
    redirect = _redirect(target)
    _set_cookie(redirect, SESSION_COOKIE, cookie, int(ctx.lifetime.total_seconds()),
                ctx.secure_cookie)  # fmt: skip
    redirect.delete_cookie(LOGIN_CSRF_COOKIE, path=PREFIX)
    return redirect


@router.post("/logout")
async def logout(request: Request) -> Response:
    session = _session(request)
    if session is None:
        return _to_login(request)
    if not csrf_ok(session.csrf, (await _posted(request)).get("csrf")):
        return _refuse(request, session, TEXT["csrf_failed"], 403)
    context(request).users.close_session(request.cookies.get(SESSION_COOKIE))
    response = _redirect(f"{PREFIX}/login?signed_out=1")
    response.delete_cookie(SESSION_COOKIE, path=PREFIX)
    return response


# -- queue ---------------------------------------------------------------------------------


@router.get("/queue")
def queue(request: Request) -> Response:  # sync: FastAPI runs it off the event loop
    session = _session(request)
    if session is None:
        return _to_login(request)
    ctx = context(request)
    q = request.query_params
    day = q.get("date", today())
    f = QueueFilter(
        day=day if _DAY.match(day) else None,
        band=q.get("band") if q.get("band") in {b.value for b in Band} else None,
        origin=q.get("origin") if _COUNTRY.match(q.get("origin", "")) else None,
        status=q.get("status") if q.get("status") in STATUSES else None,
    )
    asked = q.get("page", "")  # ASCII digits only, and few: "²" or 10**5000 is page 1
    page = int(asked) if _PAGE.fullmatch(asked) and int(asked) > 0 else 1
    size = ctx.page_size
    total, rows = ctx.parcels.queue(f, size, (page - 1) * size)
    pages = max(1, math.ceil(total / size))
    if page > pages:  # past the end (an old link, a changed filter): the last page
        page = pages
        total, rows = ctx.parcels.queue(f, size, (page - 1) * size)
    kept = {"date": f.day or "", "band": f.band or "", "origin": f.origin or "",
            "status": f.status or ""}  # fmt: skip

    def page_url(n: int) -> str:
        return f"{PREFIX}/queue?{urlencode(kept | {'page': n})}"

    return ctx.render(
        "queue.html", session, rows=rows, total=total, page=page, pages=pages,
        first_rank=(page - 1) * size + 1, filter=f, kept=kept, bands=[b.value for b in Band],
        statuses=STATUSES, origins=ctx.parcels.origins(f.day),
        prev_url=page_url(page - 1) if page > 1 else None,
        next_url=page_url(page + 1) if page < pages else None,
        heading=TEXT["queue_title"] if f.day == today() else (
            TEXT["queue_title_day"].format(day=f.day) if f.day else TEXT["queue_title_all"]),
        halted=ctx.service.refresh_halted(),  # another worker may have halted it
    )  # fmt: skip


# -- parcel --------------------------------------------------------------------------------


def _history(ctx: Any, item_id: str, features: dict[str, Any]) -> list[dict[str, Any]]:
    tokens = ctx.service.history_backend.get_item(item_id) or {}
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


def _log(ctx: Any, item_id: str) -> list[dict[str, Any]]:
    db = ctx.service.audit.db
    db.execute("CREATE INDEX IF NOT EXISTS decision_log_item ON decision_log (item_id)")
    rows = db.execute("SELECT seq, time, kind, caller, decision FROM decision_log "
                      "WHERE item_id = ? ORDER BY seq", (item_id,))  # fmt: skip
    names = ("seq", "time", "kind", "caller", "decision")
    return [dict(zip(names, r, strict=True)) for r in rows]


def _parcel_page(request: Request, session: Session, item_id: str, status: int = 200,
                 errors: list[str] | None = None, form: dict[str, str] | None = None,
                 approval_error: str = "") -> Response:  # fmt: skip
    ctx = context(request)
    try:
        explained = ctx.service.explanation(item_id, _caller(session), _rid(request))
    except NotFound:
        return _refuse(request, session, TEXT["not_found"], 404)
    reasons = explained["reasons"]
    svg = waterfall(
        explained["base_value"], [(r["label"], r["contribution"]) for r in reasons],
        explained["margin"],
        {"title": TEXT["waterfall_title"].format(item_id=item_id),
         "base": TEXT["waterfall_base"], "final": TEXT["waterfall_final"],
         "other": TEXT["waterfall_other"], "up": TEXT["reason_up"],
         "down": TEXT["reason_down"]},
    )  # fmt: skip
    return ctx.render(
        "parcel.html", session, status=status, item_id=item_id, x=explained,
        parcel=ctx.parcels.get(item_id), svg=svg,
        reasons=[r for r in reasons if abs(r["contribution"]) >= 0.01][:8],
        history=_history(ctx, item_id, explained["features"]),
        **_trail(ctx, session, item_id), feedback=ctx.parcels.feedback(item_id),
        log=_log(ctx, item_id), saved=request.query_params.get("saved", ""),
        approved=request.query_params.get("approved") == "1", approval_error=approval_error,
        errors=errors or [], form=form or {},
    )  # fmt: skip


def _trail(ctx: OfficerContext, session: Session, item_id: str) -> dict[str, Any]:
    """The parcel's outcome trail, its current outcome (what a new record corrects), and
    which pending corrections this officer asked for (another officer approves them)."""
    outcomes = ctx.parcels.outcomes(item_id)
    me, ref = _caller(session).key_id, session.user.officer_ref
    for o in outcomes:
        o["mine"] = o["caller"] == me or bool(ref and o.get("officer_ref") == ref)
    current = next((o for o in outcomes if o["standing"] == "current"), None)
    return {"outcomes": outcomes, "current": current,
            "four_eyes": ctx.service.settings.four_eyes}  # fmt: skip


@router.get("/parcels/{item_id}")
def parcel(request: Request, item_id: str) -> Response:  # sync: FastAPI runs it off the event loop
    session = _session(request)
    if session is None:
        return _to_login(request)
    return _parcel_page(request, session, item_id[:40])


def _officer_problems(exc: InvalidInput) -> list[str]:
    """The contract's problems with an outcome in an officer's words (field by field)."""
    out = []
    for p in exc.problems:
        if "only recorded for seized" in p.problem:
            out.append(TEXT["outcome_problem_seized_only"])
        else:
            out.append(TEXT.get(f"outcome_problem_{p.field}", f"{p.field}: {p.problem}"))
    return list(dict.fromkeys(out)) or [exc.message]


def _outcome_record(form: dict[str, str], parcel: dict[str, Any] | None,
                    item_id: str, officer_ref: str) -> dict[str, Any]:  # fmt: skip
    inspected = form.get("inspected") == "yes"
    reason = parcel.get("selection_reason") if parcel else None
    quantity = form.get("quantity_g", "").strip()
    if quantity.count(",") == 1 and "." not in quantity and len(quantity.split(",")[1]) != 3:
        quantity = quantity.replace(",", ".")  # a decimal comma, as most of Europe writes it
    # ("1,500" stays as typed and is refused: a thousands separator or a decimal comma?)
    record: dict[str, Any] = {
        "contract_version": "1", "item_id": item_id,
        "recorded_at": datetime.now(UTC).isoformat(), "inspected": inspected,
        "selection_reason": reason or ("other" if inspected else None),
        "selection_probability": parcel.get("selection_probability") if reason and parcel
        else None,
        "result": (form.get("result") or None) if inspected else None,
        "substance": form.get("substance", "").strip() or None,
        "quantity_g": quantity or None, "officer_ref": officer_ref,
    }  # fmt: skip
    if record["quantity_g"] is not None:
        with contextlib.suppress(ValueError):  # else the contract check names the field
            record["quantity_g"] = float(quantity)
    corrects = form.get("corrects", "").strip()
    if corrects:  # the form of a parcel with an outcome: the new record corrects it
        record["corrects"] = int(corrects) if _PAGE.fullmatch(corrects) else corrects
        record["correction_reason"] = form.get("correction_reason", "").strip()[:500] or None
    return record


@router.post("/parcels/{item_id}/outcome")
async def record_outcome(request: Request, item_id: str) -> Response:
    return await run_in_threadpool(_record_outcome, request, item_id, await _posted(request))


def _record_outcome(request: Request, item_id: str, form: dict[str, str]) -> Response:
    session = _session(request)
    if session is None:
        return _to_login(request)
    if not csrf_ok(session.csrf, form.get("csrf")):
        return _refuse(request, session, TEXT["csrf_failed"], 403)
    ctx = context(request)
    item_id = item_id[:40]
    parcel = ctx.parcels.get(item_id)
    if parcel is None and ctx.service.state.get_result(item_id) is None:
        return _refuse(request, session, TEXT["not_found"], 404)
    caller, rid = _caller(session), _rid(request)
    record = _outcome_record(form, parcel, item_id, session.user.officer_ref)
    missing = [k for k, ok in (("inspected", form.get("inspected") in ("yes", "no")),
                               ("result", record["result"] or not record["inspected"]),
                               ("correction_reason", record.get("correction_reason")
                                or "corrects" not in record))
               if not ok]  # nothing is pre-selected: an officer says both  # fmt: skip
    if missing:
        errors = [TEXT[f"outcome_problem_{k}"] for k in missing]
        return _parcel_page(request, session, item_id, 422, errors, form)
    try:
        stored = ctx.service.outcome(record, caller, rid)
    except InvalidInput as exc:
        return _parcel_page(request, session, item_id, 422, _officer_problems(exc), form)
    except OutcomeConflict:  # recorded or corrected meanwhile: the page shows what is there
        return _parcel_page(request, session, item_id, 409, [TEXT["outcome_conflict"]], form)
    notes = form.get("notes", "").strip()[:2000]
    reason = form.get("disagree_reason", "").strip()[:500]
    disagree = form.get("disagree") == "yes" or bool(reason)  # a reason given is a disagreement
    if notes or disagree:
        ctx.parcels.add_feedback(item_id, session.user.officer_ref, disagree, reason, notes)
        ctx.service.audit.append(Entry(
            "officer_feedback", request_id=rid, caller=caller.key_id, item_id=item_id,
            decision="disagree" if disagree else "note",
            detail={"officer_ref": session.user.officer_ref, "disagree": disagree,
                    "reason": reason, "notes_sha256": hashlib.sha256(notes.encode()).hexdigest(),
                    "notes_chars": len(notes)},
        ))  # fmt: skip
    saved = "1" if stored["effective"] else "pending"
    return _redirect(f"{PREFIX}/parcels/{item_id}?saved={saved}#outcome")


@router.post("/parcels/{item_id}/outcomes/{outcome_id}/approve")
async def approve_outcome(request: Request, item_id: str, outcome_id: str) -> Response:
    return await run_in_threadpool(_approve_outcome, request, item_id, outcome_id,
                                   await _posted(request))  # fmt: skip


def _approve_outcome(request: Request, item_id: str, outcome_id: str,
                     form: dict[str, str]) -> Response:  # fmt: skip
    """Four eyes: another officer approves a pending correction (logged under their name)."""
    session = _session(request)
    if session is None:
        return _to_login(request)
    if not csrf_ok(session.csrf, form.get("csrf")):
        return _refuse(request, session, TEXT["csrf_failed"], 403)
    ctx = context(request)
    item_id = item_id[:40]
    found = ctx.service.state.outcome(int(outcome_id)) if _PAGE.fullmatch(outcome_id) else None
    if found is None or found.item_id != item_id:
        return _refuse(request, session, TEXT["not_found"], 404)
    try:
        ctx.service.record.approve_outcome(found.id, _caller(session).key_id, _rid(request),
                                           session.user.officer_ref or None)  # fmt: skip
    except Forbidden:
        return _parcel_page(request, session, item_id, 403,
                            approval_error=TEXT["approve_own"])  # fmt: skip
    except OutcomeConflict:  # approved already, or what it corrects was corrected since
        now = ctx.service.state.outcome(found.id)
        why = "approve_outdated" if now is not None and now.state == PENDING else "approve_done"
        return _parcel_page(request, session, item_id, 409, approval_error=TEXT[why])
    return _redirect(f"{PREFIX}/parcels/{item_id}?approved=1#outcome")


# -- model ---------------------------------------------------------------------------------


@router.get("/model")
def model(request: Request) -> Response:  # sync: FastAPI runs it off the event loop
    session = _session(request)
    if session is None:
        return _to_login(request)
    ctx = context(request)
    return ctx.render("model.html", session, **model_page_values(ctx))


@router.post("/model/{action}")
async def halt(request: Request, action: str) -> Response:
    return await run_in_threadpool(_halt, request, action, await _posted(request))


def _halt(request: Request, action: str, form: dict[str, str]) -> Response:
    session = _session(request)
    if session is None:
        return _to_login(request)
    if not csrf_ok(session.csrf, form.get("csrf")):
        return _refuse(request, session, TEXT["csrf_failed"], 403)
    if not session.user.may(Role.ADMIN) or action not in ("halt", "resume"):
        return _refuse(request, session, TEXT["halt_admin_only"], 403)
    context(request).service.set_halted(action == "halt", _caller(session), _rid(request),
                                        form.get("reason", "")[:500])  # fmt: skip
    return _redirect(f"{PREFIX}/model#halt")
