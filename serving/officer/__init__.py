"""The customs officer view at ``/officer``: worklists, search, parcel page (explanation,
outcome in one click or on the full form, case record), exports, shift report, model page.

Server-rendered HTML (Jinja2) over the same :class:`serving.Service` as the API: outcomes
take the path of ``POST /v1/outcomes``, explanations that of the explanation route, the halt
switch that of the admin route. Every user-facing string is in :mod:`serving.officer._text`.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from .._service import Service
from ._case_routes import router as case_router
from ._cases import CaseStore
from ._claim_routes import router as claim_router
from ._context import HERE, PREFIX, OfficerContext
from ._exchange_routes import router as exchange_router
from ._export import export_training_data
from ._outcome_routes import router as outcome_router
from ._parcel_routes import router as parcel_router
from ._parcels import ParcelStore, pseudonymise_declaration
from ._queue_routes import router as queue_router
from ._recorder import ParcelRecorder
from ._reports import router as reports_router
from ._routes import router
from ._shadow import ShadowScorer
from ._svg import waterfall
from ._text import TEXT
from ._throttle import SignInThrottle
from ._users import User, UserError, UserStore
from ._web import RepeatedField, SignInNeeded, repeated_field, sign_in_needed


def mount_officer(app: FastAPI, service: Service) -> OfficerContext:
    """Add the officer view to ``app`` and start recording what the service scores."""
    ctx = OfficerContext.build(service)
    app.state.officer = ctx
    service.on_scored = ctx.recorder.scored
    service.officer_declared = ctx.recorder.declared_rows
    for routes in (
        router,
        queue_router,
        parcel_router,
        outcome_router,
        claim_router,
        case_router,
        reports_router,
        exchange_router,
    ):
        app.include_router(routes)
    app.add_exception_handler(SignInNeeded, sign_in_needed)  # a read route's sign-in page
    app.add_exception_handler(RepeatedField, repeated_field)  # a form field sent twice: 400
    app.mount(f"{PREFIX}/static", StaticFiles(directory=HERE / "static"), name="officer-static")
    return ctx


__all__ = [
    "CaseStore",
    "OfficerContext",
    "ParcelRecorder",
    "ParcelStore",
    "ShadowScorer",
    "SignInThrottle",
    "TEXT",
    "User",
    "UserError",
    "UserStore",
    "export_training_data",
    "mount_officer",
    "pseudonymise_declaration",
    "waterfall",
]
