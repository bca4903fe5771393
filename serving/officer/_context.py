"""What the officer routes share: stores, templates and settings, built once per app."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from screening import Pseudonymiser

from .._service import Service
from ._cases import CaseStore
from ._parcels import ParcelStore
from ._present import chance, grams, kg, money, party, points, size, words
from ._recorder import ParcelRecorder
from ._shadow import ShadowScorer
from ._text import TEXT, label
from ._throttle import SignInThrottle
from ._users import Session, UserStore

HERE = Path(__file__).parent
SESSION_COOKIE = "ps_session"
LOGIN_CSRF_COOKIE = "ps_login_csrf"
PREFIX = "/officer"
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def _number(value: Any, digits: int = 2) -> str:
    if value is None:
        return ""
    try:
        return f"{float(value):,.{digits}f}"
    except (TypeError, ValueError):
        return str(value)


def _when(zone: ZoneInfo) -> Any:
    def when(value: Any) -> str:
        """An ISO time in the officer's zone, to the minute, with the zone named."""
        if not value:
            return ""
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError:
            return str(value)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        local = moment.astimezone(zone)
        return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"

    return when


def _short(token: Any, chars: int = 12) -> str:
    text = str(token or "")
    return text[:chars] + "…" if len(text) > chars else text


@dataclass
class OfficerContext:
    service: Service
    users: UserStore
    parcels: ParcelStore
    recorder: ParcelRecorder
    shadow: ShadowScorer
    env: Environment
    lifetime: timedelta
    secure_cookie: bool
    page_size: int
    throttle: SignInThrottle
    cases: CaseStore
    zone: str

    @classmethod
    def build(cls, service: Service) -> OfficerContext:
        s = service.settings
        parcels = ParcelStore(service.state_db)
        shadow = ShadowScorer(
            s.registry, s.shadow_alias, s.shadow_check_seconds, service.holder.trusted_keys
        )
        recorder = ParcelRecorder(parcels, Pseudonymiser(s.pseudonymisation_key), shadow)
        env = Environment(
            loader=FileSystemLoader(HERE / "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        env.filters["number"] = _number
        env.filters["short"] = _short
        env.filters["percent"] = chance
        env.filters["chance"] = chance
        env.filters["points"] = points
        env.filters["kg"] = kg
        env.filters["grams"] = grams
        env.filters["party"] = party
        env.filters["size"] = size
        env.filters["when"] = _when(ZoneInfo(s.officer_timezone))
        env.globals.update(
            t=TEXT, label=label, words=words, money=money, prefix=PREFIX, zone=s.officer_timezone
        )
        return cls(
            service,
            UserStore(service.state_db),
            parcels,
            recorder,
            shadow,
            env,
            timedelta(minutes=s.officer_session_minutes),
            s.officer_secure_cookie or s.environment != "development",
            s.officer_page_size,
            SignInThrottle(service.state_db, s.secret_key),
            CaseStore(service.state_db),
            s.officer_timezone,
        )

    def render(
        self, name: str, session: Session | None, status: int = 200, **values: Any
    ) -> HTMLResponse:
        html = self.env.get_template(name).render(session=session, **values)
        return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


def context(request: Request) -> OfficerContext:
    ctx: OfficerContext = request.app.state.officer
    return ctx
