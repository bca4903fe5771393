"""One listening socket per worker process, spread by the kernel (``SO_REUSEPORT``, Linux).

uvicorn's worker processes share one listening socket, and whichever is quicker accepts: a
burst of new connections (sorting lines reconnecting after a restart, a load test starting)
often lands 13 to 18 of 20 on one worker, whose callers then wait about twice as long while
the other worker idles. With ``SO_REUSEPORT`` every worker listens on a socket of its own on
the same port, and Linux hands each new connection to one of them by a hash of its
addresses: 20 connections split 10/10, 12/8, 13/7 rather than 18/2.

:class:`ReusePortSocket` is the supervisor's socket. It is bound (it holds the port and names
it) but never listens, so it takes no connection itself. uvicorn's supervisor passes it to
each worker it starts or restarts by pickling it, and this class pickles as "bind another
socket like me": each worker unpickles a socket of its own, which uvicorn then listens on.
A worker that dies loses the connections waiting in its own queue (the kernel resets them);
the others are not touched.
"""

from __future__ import annotations

import socket
import sys
from typing import Any

#: Where ``SO_REUSEPORT`` spreads connections across listeners (elsewhere, BSD and macOS,
#: it does not balance, so the shared socket stays).
AVAILABLE = sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def _bound(family: int, address: Any, cls: type[socket.socket] = socket.socket) -> socket.socket:
    sock = cls(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock


class ReusePortSocket(socket.socket):
    """A bound, never-listening socket that pickles as a new socket bound to its address."""

    def __reduce__(self) -> tuple[Any, ...]:
        return _bound, (self.family, self.getsockname())


def _free(family: int, host: str, port: int) -> int:
    """The port, once a plain socket could bind it: ``SO_REUSEPORT`` would silently share a
    port that another service (or an earlier start of this one) listens on, and split the
    connections between them. Port 0 becomes the free port the kernel picked."""
    probe = socket.socket(family, socket.SOCK_STREAM)
    try:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
        return int(probe.getsockname()[1])
    except OSError as exc:
        raise OSError(
            exc.errno,
            f"{host}:{port} is in use by another process ({exc.strerror}); "
            "stop it or choose another PARCELSCREEN_PORT",
        ) from None
    finally:
        probe.close()


def supervisor_socket(host: str, port: int) -> socket.socket:
    """The socket for uvicorn's ``Multiprocess``: each worker gets one of its own."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return _bound(family, (host, _free(family, host, port)), ReusePortSocket)
