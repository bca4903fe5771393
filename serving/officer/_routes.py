"""The officer view's sign-in and model pages (the worklists are in ``_queue_routes``, the
parcel page in ``_parcel_routes``).

Plain HTML forms (POST, redirect, GET): every action works without JavaScript. Each form
carries the session's CSRF token, checked here before anything happens; each action goes to
the decision log under the officer's account.
"""

from __future__ import annotations

import math
import secrets

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from .._audit import Entry
from .._auth import Role
from ._context import (
    LOGIN_CSRF_COOKIE,
    PREFIX,
    SESSION_COOKIE,
    OfficerContext,
    context,
)
from ._model_page import model_page_values
from ._text import TEXT
from ._users import Session, csrf_ok
from ._web import Officer, posting_session
from ._web import caller_of as _caller
from ._web import posted as _posted
from ._web import redirect as _redirect
from ._web import refuse as _refuse
from ._web import rid as _rid

router = APIRouter(prefix=PREFIX, include_in_schema=False)


def _set_cookie(response: Response, name: str, value: str, max_age: int, secure: bool) -> None:
    response.set_cookie(
        name, value, max_age=max_age, path=PREFIX, httponly=True, samesite="strict", secure=secure
    )


# -- sign-in -------------------------------------------------------------------------------


@router.get("/login")
async def login_page(request: Request, next: str = "", signed_out: int = 0) -> Response:
    ctx = context(request)
    token = secrets.token_urlsafe(32)
    response = ctx.render(
        "login.html", None, csrf=token, next=next, message=TEXT["signed_out"] if signed_out else ""
    )
    _set_cookie(response, LOGIN_CSRF_COOKIE, token, 3600, ctx.secure_cookie)
    return response


def _login_again(
    ctx: OfficerContext, status: int, target: str, username: str, error: str
) -> Response:
    token = secrets.token_urlsafe(32)
    response = ctx.render(
        "login.html", None, status=status, csrf=token, next=target, username=username, error=error
    )
    _set_cookie(response, LOGIN_CSRF_COOKIE, token, 3600, ctx.secure_cookie)
    return response


@router.post("/login")
async def login(request: Request) -> Response:
    ctx = context(request)
    form = await _posted(request)
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
        ctx.service.audit.append(
            Entry(  # a name that is no account may be a typed password
                "officer_signin_refused",
                request_id=_rid(request),
                caller=f"officer:{username}" if known else "officer:(no such user)",
                detail={"reason": "role" if refused else "credentials"},
            )
        )
        error = TEXT["signin_no_role" if refused else "signin_failed"]
        return _login_again(ctx, 403 if refused else 401, target, username, error)
    cookie, session = ctx.users.open_session(user, ctx.lifetime)
    ctx.service.audit.append(
        Entry(
            "officer_signin",
            request_id=_rid(request),
            caller=_caller(session).key_id,
            detail={"officer_ref": user.officer_ref},
        )
    )
    redirect = _redirect(target)
    _set_cookie(
        redirect, SESSION_COOKIE, cookie, int(ctx.lifetime.total_seconds()), ctx.secure_cookie
    )
    redirect.delete_cookie(LOGIN_CSRF_COOKIE, path=PREFIX)
    return redirect


@router.post("/logout")
async def logout(request: Request, session: Officer) -> Response:
    if not csrf_ok(session.csrf, (await _posted(request)).get("csrf")):
        return _refuse(request, session, TEXT["csrf_failed"], 403)
    context(request).users.close_session(request.cookies.get(SESSION_COOKIE))
    response = _redirect(f"{PREFIX}/login?signed_out=1")
    response.delete_cookie(SESSION_COOKIE, path=PREFIX)
    return response


# -- model ---------------------------------------------------------------------------------


@router.get("/model")
def model(request: Request, session: Officer) -> Response:  # sync: FastAPI runs it off the loop
    ctx = context(request)
    return ctx.render("model.html", session, **model_page_values(ctx))


@router.post("/model/{action}")
async def halt(request: Request, action: str) -> Response:
    return await run_in_threadpool(_halt, request, action, await _posted(request))


def _halt(request: Request, action: str, form: dict[str, str]) -> Response:
    session = posting_session(request, form)
    if not isinstance(session, Session):
        return session  # to the sign-in page, or refused (CSRF)
    if not session.user.may(Role.ADMIN) or action not in ("halt", "resume"):
        return _refuse(request, session, TEXT["halt_admin_only"], 403)
    context(request).service.set_halted(
        action == "halt", _caller(session), _rid(request), form.get("reason", "")[:500]
    )
    return _redirect(f"{PREFIX}/model#halt")
