"""Errors raised by the screening package.

Every error carries the HTTP status that the service answers with, so one handler can
turn any of them into ``{"error": message}`` (the MLServer pattern)::

    ScreeningError          base class; status_code 500 unless a subclass says otherwise
     ├── BundleError        a model bundle is missing, incomplete, altered or unreadable
     ├── RegistryError      unknown version or alias, duplicate version, bad name
     └── StoreUnavailable   503: a store is busy past its wait, full, read-only or corrupt
"""

from __future__ import annotations

__all__ = ["BundleError", "RegistryError", "ScreeningError", "StoreUnavailable"]


class ScreeningError(Exception):
    """Base of every error the screening package raises on purpose."""

    status_code: int = 500

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code


class BundleError(ScreeningError):
    """A model bundle on disk does not match its manifest or cannot be read."""


class RegistryError(ScreeningError):
    """A registry request names an unknown or invalid version or alias."""


class StoreUnavailable(ScreeningError):
    """503: a store could not be written (its writer lock stayed taken past the wait, or the
    disk is full, read-only or the file corrupt); the transaction was rolled back, nothing of
    the request was recorded, and the client may retry."""

    status_code = 503
    code = "store_unavailable"
    #: Seconds a client should wait before retrying (the answer's ``Retry-After``).
    retry_after = 1
