"""Claims: an officer claims a parcel (others see who works on it) or gives it up; an
administrator assigns one to an officer or releases anyone's claim. Each change of who
holds a parcel is a record of the decision log (``CLAIM_KINDS``), in the transaction that
makes it; an outcome recorded releases the claim, logged the same way."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from .._audit import Entry
from .._auth import Role
from ._context import PREFIX, OfficerContext, context
from ._parcel_routes import officers
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
    worklist_query,
)

router = APIRouter(prefix=PREFIX, include_in_schema=False)
CLAIM_KINDS = ("parcel_claimed", "parcel_assigned", "parcel_released")


@router.post("/parcels/{item_id}/claim")
async def claim(request: Request, item_id: str) -> Response:
    return await run_in_threadpool(_claim, request, item_id, await posted(request))


def claim_entry(
    kind: str,
    session: Session,
    request_id: str,
    item_id: str,
    officer: str,
    previous: str | None,
    why: str = "",
) -> Entry:
    """The decision-log record of a change of who works on a parcel: ``kind`` one of
    ``CLAIM_KINDS``, ``officer`` who holds it now (or held it, released), ``previous`` who
    held it before."""
    detail = {"officer": officer, "previous": previous, "officer_ref": session.user.officer_ref} | (
        {"why": why} if why else {}
    )
    return Entry(
        kind,
        request_id=request_id,
        caller=caller_of(session).key_id,
        item_id=item_id,
        decision=officer,
        detail=detail,
    )


def _change(
    ctx: OfficerContext, session: Session, request_id: str, item_id: str, action: str, officer: str
) -> str | None:
    """Claim, release or assign, and log the change in the same transaction (nothing is
    logged where nothing changed); who holds the parcel where a claim was refused."""
    me, lists = session.user.username, ctx.parcels.worklists
    with ctx.service.state_db.transaction():
        before = lists.claim_of(item_id)
        held = before["officer"] if before else None
        kind = None
        if action == "assign":
            lists.claim([item_id], officer, me, take_over=True)
            kind = "parcel_assigned" if held != officer else None
        elif action == "release":
            if lists.release(item_id, None if session.user.may(Role.ADMIN) else me):
                kind, officer = "parcel_released", held or me
        elif lists.claim([item_id], me, me):
            kind, officer = ("parcel_claimed" if held != me else None), me
        else:
            return held or "?"
        if kind is not None:
            ctx.service.audit.append(claim_entry(kind, session, request_id, item_id, officer, held))
    return None


def _claim(request: Request, item_id: str, form: dict[str, str]) -> Response:
    """Claim a parcel (others see who works on it), give it up, or (an administrator)
    assign it to an officer; each change goes to the decision log."""
    session = posting_session(request, form)
    if not isinstance(session, Session):
        return session  # to the sign-in page, or refused (CSRF)
    ctx = context(request)
    item_id = normal_item_id(item_id)
    if ctx.parcels.get(item_id) is None:
        return refuse(request, session, TEXT["not_found"], 404)
    action = form.get("action", "claim")
    officer = form.get("officer", "").strip()
    if action == "assign":
        if not session.user.may(Role.ADMIN):
            return refuse(request, session, TEXT["assign_admin_only"], 403)
        if officer not in officers(ctx, session):
            return refuse(request, session, TEXT["assign_unknown"], 422)
    holder = _change(ctx, session, rid(request), item_id, action, officer)
    if holder is not None:
        return refuse(request, session, TEXT["claimed_by_other"].format(who=holder), 409)
    w = worklist_query(form.get("w", ""))
    if form.get("then") == "queue":
        return redirect(queue_url(w))
    return redirect(parcel_url(item_id, w))
