"""The customs officer view at ``/officer``: queue, parcel explanation, outcomes, model page.

Server-rendered HTML (Jinja2) over the same :class:`serving.Service` as the API: outcomes
take the path of ``POST /v1/outcomes``, explanations that of the explanation route, the halt
switch that of the admin route. Every user-facing string is in :mod:`serving.officer._text`.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from .._service import Service
from ._context import HERE, PREFIX, OfficerContext
from ._export import export_training_data
from ._parcels import ParcelStore, pseudonymise_declaration
from ._recorder import ParcelRecorder
from ._routes import router
from ._shadow import ShadowScorer
from ._svg import waterfall
from ._text import TEXT
from ._throttle import SignInThrottle
from ._users import User, UserError, UserStore


def mount_officer(app: FastAPI, service: Service) -> OfficerContext:
    """Add the officer view to ``app`` and start recording what the service scores."""
    ctx = OfficerContext.build(service)
    app.state.officer = ctx
    service.on_scored = ctx.recorder.scored
    app.include_router(router)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=HERE / "static"), name="officer-static")
    return ctx


__all__ = [
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
