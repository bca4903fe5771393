"""What every officer route shares: the session, the caller, redirects, refusals, forms."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Annotated
from urllib.parse import parse_qsl, urlencode

from fastapi import Depends, Request, Response
from fastapi.responses import RedirectResponse

from .._auth import Caller, Role
from ._context import PREFIX, SECURITY_HEADERS, SESSION_COOKIE, context
from ._text import TEXT
from ._users import Session, csrf_ok

#: An item ID as typed or scanned: letters and digits, case, spaces and dashes ignored.
_NOT_ID = re.compile(r"[\s\-_.]+")
WORKLIST_KEYS = (
    "status",
    "date",
    "band",
    "origin",
    "office",
    "manifest",
    "transport",
    "mine",
    "sort",
    "dir",
)


def session_of(request: Request) -> Session | None:
    found = context(request).users.session(request.cookies.get(SESSION_COOKIE))
    return found if found is not None and found.user.may(Role.OFFICER) else None


class SignInNeeded(Exception):
    """A read route asked for without a signed-in officer: the answer is the sign-in page
    (turned into that redirect by the handler :func:`mount_officer` adds)."""

    def __init__(self, response: Response) -> None:
        super().__init__("sign-in needed")
        self.response = response


def signed_in(request: Request) -> Session:
    """The dependency of every officer read route: the signed-in officer's session, or
    (raised) the redirect to the sign-in page that comes back here afterwards."""
    session = session_of(request)
    if session is None:
        raise SignInNeeded(to_login(request))
    return session


async def sign_in_needed(request: Request, exc: Exception) -> Response:
    """The exception handler for :class:`SignInNeeded`."""
    return exc.response if isinstance(exc, SignInNeeded) else to_login(request)


#: A route's parameter ``session: Officer`` is the signed-in officer's session.
Officer = Annotated[Session, Depends(signed_in)]


def posting_session(request: Request, form: dict[str, str]) -> Session | Response:
    """The session of a signed-in officer posting ``form`` with its CSRF token; else the
    answer to give instead (to the sign-in page, or 403)."""
    session = session_of(request)
    if session is None:
        return to_login(request)
    if not csrf_ok(session.csrf, form.get("csrf")):
        return refuse(request, session, TEXT["csrf_failed"], 403)
    return session


def caller_of(session: Session) -> Caller:
    return Caller(f"officer:{session.user.username}", session.user.role)


def rid(request: Request) -> str:
    return str(request.state.request_id)


def to_login(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(
        f"{PREFIX}/login?{urlencode({'next': target})}", 303, headers=SECURITY_HEADERS
    )


def redirect(url: str) -> Response:
    return RedirectResponse(url, 303, headers=SECURITY_HEADERS)


def refuse(request: Request, session: Session | None, message: str, status: int) -> Response:
    return context(request).render("error.html", session, status=status, message=message)


class RepeatedField(Exception):
    """A form sent one field more than once (``outcome=clean&outcome=seized``): which value
    was meant is unknown, so nothing is recorded (answered 400 by :func:`repeated_field`)."""

    def __init__(self, field: str) -> None:
        super().__init__(f"form field {field!r} sent more than once")
        self.field = field


def form_fields(items: Iterable[tuple[str, object]]) -> dict[str, str]:
    """A form's text fields, each sent once; :class:`RepeatedField` for one sent twice
    (files included: an upload field sent twice is as ambiguous)."""
    fields: dict[str, str] = {}
    seen: set[str] = set()
    for key, value in items:
        if key in seen:
            raise RepeatedField(key)
        seen.add(key)
        if isinstance(value, str):
            fields[key] = value
    return fields


async def posted(request: Request) -> dict[str, str]:
    """The form's text fields, read on the event loop (the work with them runs off it);
    :class:`RepeatedField` when one is sent twice."""
    return form_fields((await request.form()).multi_items())


async def repeated_field(request: Request, exc: Exception) -> Response:
    """The exception handler for :class:`RepeatedField`: 400, naming the field."""
    field = exc.field if isinstance(exc, RepeatedField) else "?"
    message = TEXT["form_field_repeated"].format(field=field[:60])
    return refuse(request, session_of(request), message, 400)


def normal_item_id(text: str) -> str:
    """An item ID as stored: upper case, without the spaces and dashes of a typed or
    scanned one (``rr 123 456 785 nl`` is ``RR123456785NL``)."""
    return _NOT_ID.sub("", text).upper()[:40]


def worklist_query(text: str) -> str:
    """Only the worklist's own parameters of a query string (no page), as a query string."""
    pairs = [
        (k, v[:100])
        for k, v in parse_qsl(text[:2000], keep_blank_values=True)
        if k in WORKLIST_KEYS
    ]
    return urlencode(pairs)


def parcel_url(item_id: str, w: str = "", anchor: str = "") -> str:
    query = f"?{urlencode({'w': w})}" if w else ""
    return f"{PREFIX}/parcels/{item_id}{query}{anchor}"


def queue_url(w: str) -> str:
    return f"{PREFIX}/queue" + (f"?{w}" if w else "")
