"""What an officer records on a parcel page: an outcome (one click for the common cases, the
full form for the rest), then "save and next" through the worklist; a note or disagreement
with the model; the approval of another officer's correction (four eyes).

Plain HTML forms (POST, redirect, GET): every action works without JavaScript. Each form
carries the session's CSRF token, checked before anything happens; each action goes to the
decision log under the officer's account.
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

from .._audit import Entry
from .._errors import Forbidden, InvalidInput, OutcomeConflict, OutcomeUnchanged
from .._store import PENDING
from ._cases import SUBSTANCES, substance_text
from ._claim_routes import claim_entry
from ._context import PREFIX, OfficerContext, context
from ._parcel_routes import QUICK, parcel_page
from ._present import words
from ._queue_routes import worklist_filter
from ._text import TEXT
from ._users import Session
from ._web import (
    caller_of,
    normal_item_id,
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


def _outcome_record(
    form: dict[str, str], parcel: dict[str, Any] | None, item_id: str, officer_ref: str
) -> dict[str, Any]:
    inspected, result = _choice(form)
    reason = parcel.get("selection_reason") if parcel else None
    substance = form.get("substance", "").strip()
    if substance in SUBSTANCES:  # the pick-list's code, or "other" with its own words
        substance = (
            substance_text(
                {"substance": substance, "substance_other": form.get("substance_other", "")},
                {s: TEXT[f"substance_{s}"] for s in SUBSTANCES},
            )
            or ""
        )
    record: dict[str, Any] = {
        "contract_version": "1",
        "item_id": item_id,
        "recorded_at": datetime.now(UTC).isoformat(),
        "inspected": bool(inspected),
        "selection_reason": reason or ("other" if inspected else None),
        "selection_probability": parcel.get("selection_probability") if reason and parcel else None,
        "result": result,
        "substance": substance or None,
        "quantity_g": _quantity(form.get("quantity_g", "")),
        "officer_ref": officer_ref,
    }
    corrects = form.get("corrects", "").strip()
    if corrects:  # the form of a parcel with an outcome: the new record corrects it
        record["corrects"] = int(corrects) if _NUMBER.fullmatch(corrects) else corrects
        record["correction_reason"] = form.get("correction_reason", "").strip()[:500] or None
    return record


@router.post("/parcels/{item_id}/outcome")
async def record_outcome(request: Request, item_id: str) -> Response:
    return await run_in_threadpool(_record_outcome, request, item_id, await posted(request))


def _after(
    ctx: OfficerContext,
    session: Session,
    item_id: str,
    form: dict[str, str],
    result: str,
    effective: bool,
    released: str | None = None,
) -> Response:
    """Where a recorded outcome leads: the next open parcel of the worklist ("save and
    next"), back to the worklist (a row's button), or the parcel's own page; ``released``:
    the officer whose claim the outcome released (the page after says so)."""
    w = worklist_query(form.get("w", ""))
    note = {"released": released} if released else {}
    if form.get("then") == "queue":
        return redirect(
            queue_url(w)
            + ("&" if w else "?")
            + urlencode({"last": item_id, "result": result} | note)
        )
    if form.get("then") == "next" and effective:
        f = worklist_filter(dict(parse_qsl(w)), ctx.zone, session.user.username)
        after = ctx.parcels.worklists.next_open(f, item_id, session.user.username)
        if after is None:
            return redirect(
                queue_url(w)
                + ("&" if w else "?")
                + urlencode({"last": item_id, "result": result, "empty": 1} | note)
            )
        return redirect(
            f"{PREFIX}/parcels/{after}?"
            + urlencode({"w": w, "last": item_id, "result": result} | note)
        )
    saved = "1" if effective else "pending"
    return redirect(
        f"{PREFIX}/parcels/{item_id}?" + urlencode({"saved": saved, "w": w} | note) + "#outcome"
    )


#: The outcome form's free-text fields, their label (TEXT key) and limit: refused, not cut.
_FREE_TEXT = {"notes": ("outcome_notes", 2000), "disagree_reason": ("outcome_disagree_reason", 500)}


def _too_long(form: dict[str, str]) -> list[str]:
    """The refusals of the free-text fields longer than their limit (nothing is recorded)."""
    out = []
    for name, (label, limit) in _FREE_TEXT.items():
        length = len(form.get(name, "").strip())
        if length > limit:
            out.append(
                TEXT["case_problem_too_long"].format(
                    field=TEXT[label], limit=f"{limit:,}", length=f"{length:,}"
                )
            )
    return out


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
    missing = [
        k
        for k, ok in (
            ("outcome", inspected is not None),
            ("result", record["result"] or not record["inspected"]),
            ("correction_reason", record.get("correction_reason") or "corrects" not in record),
        )
        if not ok
    ]  # nothing is pre-selected: an officer says which
    errors = [TEXT[f"outcome_problem_{k}"] for k in missing] + _too_long(form)
    if errors:
        return parcel_page(request, session, item_id, 422, errors, form, w=w)
    try:
        stored = ctx.service.outcome(record, caller, request_id)
    except InvalidInput as exc:
        return parcel_page(request, session, item_id, 422, _officer_problems(exc), form, w=w)
    except OutcomeUnchanged as exc:  # the correction says what the record says: nothing done
        said = str((exc.current or {}).get("result", "")).replace("not_inspected", "released")
        unchanged = TEXT["outcome_unchanged"].format(result=words("status", said))
        return parcel_page(request, session, item_id, 409, [unchanged], form, w=w)
    except OutcomeConflict:  # recorded or corrected meanwhile: the page shows what is there
        return parcel_page(request, session, item_id, 409, [TEXT["outcome_conflict"]], form, w=w)
    _feedback(ctx, session, item_id, form, request_id)
    released = _release(ctx, session, item_id, request_id)
    result = record["result"] or "released"
    return _after(ctx, session, item_id, form, result, bool(stored["effective"]), released)


def _release(ctx: OfficerContext, session: Session, item_id: str, request_id: str) -> str | None:
    """Done: no longer anyone's to work on (the claim's end logged beside the outcome).
    Whose claim it released, where another officer's (the page after says so)."""
    lists = ctx.parcels.worklists
    with ctx.service.state_db.transaction():
        before = lists.claim_of(item_id)
        if before is not None and lists.release(item_id):
            ctx.service.audit.append(
                claim_entry(
                    "parcel_released",
                    session,
                    request_id,
                    item_id,
                    before["officer"],
                    before["officer"],
                    why="outcome",
                )
            )
            if before["officer"] != session.user.username:
                return str(before["officer"])
    return None


def _feedback(
    ctx: OfficerContext, session: Session, item_id: str, form: dict[str, str], request_id: str
) -> None:
    notes = form.get("notes", "").strip()[:2000]
    reason = form.get("disagree_reason", "").strip()[:500]
    disagree = form.get("disagree") == "yes" or bool(reason)  # a reason given is a disagreement
    if not (notes or disagree):
        return
    ctx.parcels.add_feedback(item_id, session.user.officer_ref, disagree, reason, notes)
    ctx.service.audit.append(
        Entry(
            "officer_feedback",
            request_id=request_id,
            caller=caller_of(session).key_id,
            item_id=item_id,
            decision="disagree" if disagree else "note",
            detail={
                "officer_ref": session.user.officer_ref,
                "disagree": disagree,
                "reason": reason,
                "notes_sha256": hashlib.sha256(notes.encode()).hexdigest(),
                "notes_chars": len(notes),
            },
        )
    )


@router.post("/parcels/{item_id}/quick")
async def quick_outcome(request: Request, item_id: str) -> Response:
    return await run_in_threadpool(_quick, request, item_id, await posted(request))


def _quick(request: Request, item_id: str, form: dict[str, str]) -> Response:
    """One click: Seized, Clean or Released without inspection, as the first outcome of a
    parcel (a parcel with an outcome is corrected on its form, with a reason)."""
    action = form.get("outcome", "")
    if action not in QUICK:
        session = session_of(request)
        return (
            refuse(request, session, TEXT["quick_unknown"], 422) if session else to_login(request)
        )
    return _record_outcome(
        request,
        item_id,
        {
            "csrf": form.get("csrf", ""),
            "outcome": action,
            "w": form.get("w", ""),
            "then": form.get("then", "next"),
        },
    )


@router.post("/parcels/{item_id}/outcomes/{outcome_id}/approve")
async def approve_outcome(request: Request, item_id: str, outcome_id: str) -> Response:
    return await run_in_threadpool(
        _approve_outcome, request, item_id, outcome_id, await posted(request)
    )


def _approve_outcome(
    request: Request, item_id: str, outcome_id: str, form: dict[str, str]
) -> Response:
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
        ctx.service.record.approve_outcome(
            found.id, caller_of(session).key_id, rid(request), session.user.officer_ref or None
        )
    except Forbidden:
        return parcel_page(request, session, item_id, 403, approval_error=TEXT["approve_own"])
    except OutcomeConflict:  # approved already, or what it corrects was corrected since
        now = ctx.service.state.outcome(found.id)
        why = "approve_outdated" if now is not None and now.state == PENDING else "approve_done"
        return parcel_page(request, session, item_id, 409, approval_error=TEXT[why])
    return redirect(f"{PREFIX}/parcels/{item_id}?approved=1#outcome")
