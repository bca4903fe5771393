"""FastAPI dependencies as ``Annotated`` aliases, so routes read as plain typed signatures."""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, Mapping
from functools import lru_cache
from typing import Annotated

from fastapi import Depends, Request

from ._auth import Caller, Role
from ._errors import Forbidden
from ._service import Service
from ._settings import networks


async def get_service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


async def get_request_id(request: Request) -> str:
    rid: str = request.state.request_id
    return rid


def _key(headers: Mapping[str, str]) -> str | None:
    header = headers.get("authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip()
    return headers.get("x-api-key")


def caller_for(service: Service, headers: Mapping[str, str], role: Role) -> Caller:
    """The caller whose key is in ``headers`` if it may act as ``role`` (else 401 or 403)."""
    caller = service.keys.authenticate(_key(headers))
    if not caller.may(role):
        raise Forbidden(f"role {caller.role.value!r} may not do this; it needs {role.value!r}")
    return caller


def authorize(request: Request, role: Role) -> Caller:
    """The caller of ``request`` if its key may act as ``role`` (else 401 or 403)."""
    return caller_for(request.app.state.service, request.headers, role)


def require(role: Role) -> Callable[[Request], Awaitable[Caller]]:
    async def dependency(request: Request) -> Caller:
        return authorize(request, role)

    return dependency


@lru_cache(maxsize=8)
def _networks(setting: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(networks(setting))


def _in_networks(host: str, setting: str) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(address in network for network in _networks(setting))


async def monitor(request: Request) -> Caller:
    """A caller that may read ``/metrics``: any key (``monitor`` is the least role), or a
    client in the ``metrics_networks`` allow-list (the connection's peer, or the client a
    trusted proxy names: setting ``forwarded_allow_ips``)."""
    service: Service = request.app.state.service
    host = request.client.host if request.client else ""
    if service.settings.metrics_networks and _in_networks(host, service.settings.metrics_networks):
        return Caller(f"network:{host}", Role.MONITOR)
    return authorize(request, Role.MONITOR)


ServiceDep = Annotated[Service, Depends(get_service)]
RequestId = Annotated[str, Depends(get_request_id)]
Monitor = Annotated[Caller, Depends(monitor)]
Sorter = Annotated[Caller, Depends(require(Role.SORTER))]
Officer = Annotated[Caller, Depends(require(Role.OFFICER))]
Admin = Annotated[Caller, Depends(require(Role.ADMIN))]
