"""Partner hits on a parcel (issue 21): ``/officer/parcels/{item}/exchange``.

The page shows each partner seizure the parcel's tokens matched, once per partner reference
with the variants that matched it (``parcelscreen exchange
match`` records them): the partner, the month, the substance category, the quantity band,
Europol's reliability and accuracy codes and the handling code, and the reason in words; no
token and no partner personal data (an indicator holds none). From a hit an officer prepares
a follow-up request (a SIENA-ready message naming the partner's reference); another officer
must approve it before it may be sent, and nothing here sends it. Each preparation and
approval is a record of the decision log, and so is an officer's first view of the page in an
hour (as the explanation's views); the parcel page lists the matches and requests.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from screening import ScreeningError
from screening.exchange import HANDLING_WORDS, FollowUps

from .._audit import Entry
from ._context import PREFIX, context
from ._parcel_routes import note_view
from ._text import TEXT
from ._web import Officer, normal_item_id, posted, posting_session, redirect, refuse

router = APIRouter(prefix=PREFIX, include_in_schema=False)

WORDS = {
    "title": "Partner hits",
    "intro": (
        "Seizures reported by partner agencies that this parcel's sender or recipient "
        "matches (hit / no-hit on exchange tokens; names and addresses never left "
        "either agency). A hit is a reason to look closer, not a finding."
    ),
    "none": "No partner hit on this parcel.",
    "partner": "Partner",
    "month": "Reported",
    "category": "Substance",
    "band": "Quantity",
    "codes": "Reliability / accuracy",
    "handling": "Handling",
    "variants": "Matched on",
    "reason": "Why it matched",
    "prepare": "Prepare a follow-up request",
    "requests": "Follow-up requests",
    "awaiting": (
        "Awaiting approval by another officer; nothing is sent before approval, "
        "and then only through SIENA."
    ),
    "approve": "Approve (four eyes)",
    "yours": "You prepared this request: another officer must approve it.",
    "approved": "Approved by {who}: send it through SIENA.",
    "back": "Back to the parcel",
}


def _page(
    request: Request, session: Officer, item_id: str, status: int = 200, message: str = ""
) -> Response:
    ctx = context(request)
    store = FollowUps(ctx.service.state_db)
    return ctx.render(
        "exchange.html",
        session,
        status=status,
        item_id=item_id,
        hits=store.hits(item_id),
        requests=store.requests(item_id),
        handling_words=HANDLING_WORDS,
        x=WORDS,
        message=message,
    )


@router.get("/parcels/{item_id}/exchange")
def exchange_page(request: Request, session: Officer, item_id: str) -> Response:
    item_id = normal_item_id(item_id)
    ctx = context(request)
    hits = FollowUps(ctx.service.state_db).hits(item_id)
    if not hits and ctx.service.state.get_result(item_id) is None:  # no such parcel here
        return refuse(request, session, TEXT["not_found"], 404)
    note_view(  # once an hour per officer, as the explanation's views
        ctx.service.audit,
        f"officer:{session.user.username}",
        item_id,
        None,
        str(request.state.request_id),
        kind="exchange_hit_viewed",
        detail={"hits": len(hits), "partners": sorted({h["source"] for h in hits})},
    )
    return _page(request, session, item_id)


@router.post("/parcels/{item_id}/exchange/prepare")
async def prepare(request: Request, item_id: str) -> Response:
    form = await posted(request)
    session = posting_session(request, form)
    if isinstance(session, Response):
        return session
    item_id = normal_item_id(item_id)
    ctx = context(request)
    officer = f"officer:{session.user.username}"
    try:
        with ctx.service.state_db.transaction():  # the request and its log record: one commit
            made = FollowUps(ctx.service.state_db).prepare(
                item_id, form.get("source", ""), form.get("ref", ""), officer
            )
            ctx.service.audit.append(
                Entry(
                    "exchange_request_prepared",
                    caller=officer,
                    item_id=item_id,
                    request_id=str(request.state.request_id),
                    detail=made,
                )
            )
    except ScreeningError as exc:
        return refuse(request, session, str(exc), 400)
    return redirect(f"{PREFIX}/parcels/{item_id}/exchange")


@router.post("/exchange/requests/{request_id}/approve")
async def approve(request: Request, request_id: int) -> Response:
    form = await posted(request)
    session = posting_session(request, form)
    if isinstance(session, Response):
        return session
    ctx = context(request)
    officer = f"officer:{session.user.username}"
    try:
        with ctx.service.state_db.transaction():  # the approval and its log record: one commit
            done = FollowUps(ctx.service.state_db).approve(request_id, officer)
            ctx.service.audit.append(
                Entry(
                    "exchange_request_approved",
                    caller=officer,
                    item_id=done["item_id"],
                    detail=done,
                    request_id=str(request.state.request_id),
                )
            )
    except ScreeningError as exc:
        return refuse(request, session, str(exc), 409)
    return redirect(f"{PREFIX}/parcels/{done['item_id']}/exchange")
