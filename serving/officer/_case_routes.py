"""The case record of a parcel: save a version, attach photos, print it on one page."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from .._audit import Entry
from ._cases import MAX_ATTACHMENT, CaseError, CaseTooLong, case_from_form
from ._context import PREFIX, SECURITY_HEADERS, context
from ._parcel_routes import parcel_page
from ._text import TEXT
from ._users import Session
from ._web import (
    Officer,
    caller_of,
    form_fields,
    normal_item_id,
    parcel_url,
    posted,
    posting_session,
    redirect,
    refuse,
    rid,
    worklist_query,
)

router = APIRouter(prefix=PREFIX, include_in_schema=False)
#: The form's label of each case field (the TEXT key), as a refusal names the field.
CASE_LABELS = {
    "seal": "case_seal",
    "concealment": "case_concealment",
    "concealment_other": "case_concealment_other",
    "substance": "case_substance",
    "substance_other": "outcome_substance_other",
    "gross_g": "case_gross",
    "net_g": "case_net",
    "lab_ref": "case_lab",
    "notes": "case_notes",
}


@router.post("/parcels/{item_id}/case")
async def save_case(request: Request, item_id: str) -> Response:
    return await run_in_threadpool(_save_case, request, item_id, await posted(request))


def _save_case(request: Request, item_id: str, form: dict[str, str]) -> Response:
    session = posting_session(request, form)
    if not isinstance(session, Session):
        return session  # to the sign-in page, or refused (CSRF)
    ctx = context(request)
    item_id = normal_item_id(item_id)
    if ctx.parcels.get(item_id) is None:
        return refuse(request, session, TEXT["not_found"], 404)
    w = worklist_query(form.get("w", ""))
    try:
        record = case_from_form(form)
    except CaseTooLong as exc:
        message = TEXT["case_problem_too_long"].format(
            field=TEXT[CASE_LABELS[exc.field]], limit=f"{exc.limit:,}", length=f"{exc.length:,}"
        )
        return parcel_page(request, session, item_id, 422, case_errors=[message], form=form, w=w)
    except CaseError as exc:
        return parcel_page(
            request,
            session,
            item_id,
            422,
            case_errors=[TEXT[f"case_problem_{exc}"]],
            form=form,
            w=w,
        )
    with ctx.service.state_db.transaction():  # the version and its log record: one commit
        case_id = ctx.cases.save(item_id, session.user.officer_ref, record)
        ctx.service.audit.append(
            Entry(
                "case_record",
                request_id=rid(request),
                caller=caller_of(session).key_id,
                item_id=item_id,
                decision=record.get("substance") or None,
                detail={
                    "case_id": case_id,
                    "officer_ref": session.user.officer_ref,
                    "sha256": hashlib.sha256(
                        json.dumps(record, sort_keys=True).encode()
                    ).hexdigest(),
                },
            )
        )
    return redirect(parcel_url(item_id, w) + ("&" if w else "?") + "case=saved#case")


@router.post("/parcels/{item_id}/attachments")
async def attach(request: Request, item_id: str) -> Response:
    async with request.form(max_files=1, max_fields=10) as form:  # closes the spooled file
        upload = form.get("file")
        data = b""
        name = ""
        if isinstance(upload, UploadFile):
            data = await upload.read(MAX_ATTACHMENT + 1)
            name = upload.filename or ""
        fields = form_fields(form.multi_items())  # RepeatedField for a field sent twice
    return await run_in_threadpool(_attach, request, item_id, fields, name, data)


def _attach(
    request: Request, item_id: str, form: dict[str, str], name: str, data: bytes
) -> Response:
    session = posting_session(request, form)
    if not isinstance(session, Session):
        return session  # to the sign-in page, or refused (CSRF)
    ctx = context(request)
    item_id = normal_item_id(item_id)
    if ctx.parcels.get(item_id) is None:
        return refuse(request, session, TEXT["not_found"], 404)
    w = worklist_query(form.get("w", ""))
    limit = min(MAX_ATTACHMENT, ctx.service.settings.max_body_bytes - 65_536)
    try:
        with ctx.service.state_db.transaction():
            kept = ctx.cases.attach(item_id, session.user.officer_ref, name, data, limit)
            ctx.service.audit.append(
                Entry(
                    "case_attachment",
                    request_id=rid(request),
                    caller=caller_of(session).key_id,
                    item_id=item_id,
                    detail={
                        "attachment_id": kept.id,
                        "media_type": kept.media_type,
                        "size": kept.size,
                        "sha256": kept.sha256,
                    },
                )
            )
    except CaseError as exc:
        message = TEXT[f"case_problem_{exc}"].format(limit=f"{limit / 1_000_000:.1f} MB")
        return parcel_page(request, session, item_id, 422, case_errors=[message], w=w)
    return redirect(parcel_url(item_id, w) + ("&" if w else "?") + f"added={kept.id}#case")


@router.get("/parcels/{item_id}/attachments/{att_id}")
def attachment(request: Request, session: Officer, item_id: str, att_id: int) -> Response:
    found = context(request).cases.attachment(normal_item_id(item_id), att_id)
    if found is None:
        return refuse(request, session, TEXT["not_found_attachment"], 404)
    meta, data = found
    inline = meta.media_type.startswith("image/")
    disposition = "inline" if inline else f'attachment; filename="{meta.name}"'
    return Response(
        data,
        media_type=meta.media_type,
        headers=SECURITY_HEADERS
        | {"Content-Disposition": disposition, "Cache-Control": "private, max-age=300"},
    )


@router.get("/parcels/{item_id}/case-record")
def case_record(request: Request, session: Officer, item_id: str) -> Response:
    """The case record on one printable page (the browser's Print or Save as PDF)."""
    ctx = context(request)
    item_id = normal_item_id(item_id)
    parcel = ctx.parcels.get(item_id)
    if parcel is None:
        return refuse(request, session, TEXT["not_found"], 404)
    outcomes = ctx.parcels.outcomes(item_id)
    current = next((o for o in outcomes if o["standing"] == "current"), None)
    tokens = ctx.service.history_backend.get_item(item_id) or {}
    return ctx.render(
        "case_record.html",
        session,
        item_id=item_id,
        parcel=parcel,
        case=ctx.cases.latest(item_id) or {},
        current=current,
        outcomes=outcomes,
        tokens=tokens,
        attachments=ctx.cases.attachments(item_id),
        now_iso=datetime.now(UTC).isoformat(),
    )
