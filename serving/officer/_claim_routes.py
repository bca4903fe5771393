"""Claims: an officer claims a parcel (others see who works on it) or gives it up; an
administrator assigns one to an officer or releases anyone's claim."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from .._auth import Role
from ._context import PREFIX, context
from ._parcel_routes import officers
from ._text import TEXT
from ._users import Session
from ._web import (
    normal_item_id,
    parcel_url,
    posted,
    posting_session,
    queue_url,
    redirect,
    refuse,
    worklist_query,
)

router = APIRouter(prefix=PREFIX, include_in_schema=False)


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
        if officer not in officers(ctx, session):
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
