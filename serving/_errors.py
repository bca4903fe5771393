"""Errors of the service; all are ScreeningErrors, so one handler answers them all.

    ScreeningError (screening)      base; status_code on the instance
     ├── BundleError, RegistryError (screening)
     ├── StoreUnavailable (screening) 503: a store is busy, full, read-only or corrupt
     └── ServingError               raised by the service
          ├── Unauthenticated       401: no key, unknown or revoked key
          ├── Forbidden             403: the key's role may not do this
          ├── NotFound              404: unknown item, model or route
          ├── ModelRefused          409: a new bundle failed its checks (old model serves on)
          ├── OutcomeConflict       409: an outcome against the item's record (one exists: a
          │    │                         correction must name it; it was corrected meanwhile)
          │    └── OutcomeUnchanged 409: a correction that changes nothing of the current one
          ├── RequestIdReused       409: a request ID sent again with another declaration
          ├── PayloadTooLarge       413: body over max_body_bytes
          ├── UnsupportedEncoding   415: a compressed body (Content-Encoding other than identity)
          ├── InvalidInput          422: malformed JSON or a contract violation (Problems, capped)
          └── ModelUnavailable      503: no model loaded

Every error answer is ``{"error": {...}}``, the pydantic model ``_wire.ErrorAnswer``
(``_wire.OutcomeConflictAnswer`` for an outcome's 409); ``_wire.error_responses`` declares it
in the OpenAPI document for the status codes a route can answer with.
"""

from __future__ import annotations

from typing import Any

from data_contracts import Problem
from screening import ScreeningError
from screening import StoreUnavailable as StoreUnavailable  # raised by the stores, answered here

from ._wire import MAX_PROBLEMS_PER_REQUEST as MAX_PROBLEMS_PER_REQUEST


class ServingError(ScreeningError):
    """Base of the service's own errors."""

    status_code = 500
    code = "internal"

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message, status_code)

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message}


class Unauthenticated(ServingError):
    status_code = 401
    code = "unauthenticated"


class Forbidden(ServingError):
    status_code = 403
    code = "forbidden"


class NotFound(ServingError):
    status_code = 404
    code = "not_found"


class RequestIdReused(ServingError):
    """A request ID sent again with another declaration of an item it decided: a retry must
    repeat its request; an amended declaration needs a new request ID."""

    status_code = 409
    code = "request_id_reused"


class PayloadTooLarge(ServingError):
    status_code = 413
    code = "payload_too_large"


class UnsupportedEncoding(ServingError):
    """A body sent with a Content-Encoding (gzip, br, ...): the service reads bodies as sent
    and never inflates one (a small compressed body can inflate to gigabytes)."""

    status_code = 415
    code = "unsupported_encoding"


class InvalidInput(ServingError):
    """Bad input: each Problem names the record, the field path and the reason (at most
    MAX_PROBLEMS_PER_REQUEST of them; ``omitted`` counts the rest)."""

    status_code = 422
    code = "invalid_input"

    def __init__(
        self, message: str, problems: list[Problem] | None = None, omitted: int = 0
    ) -> None:
        super().__init__(message)
        problems = problems or []
        self.problems = problems[:MAX_PROBLEMS_PER_REQUEST]
        self.omitted = omitted + len(problems) - len(self.problems)

    def body(self) -> dict[str, Any]:
        body = super().body() | {"problems": [p.as_dict() for p in self.problems]}
        return body | ({"problems_omitted": self.omitted} if self.omitted else {})


def cap_problems(results: list[dict[str, Any]], budget: int = MAX_PROBLEMS_PER_REQUEST) -> int:
    """Trim the problems of a batch's error entries, in order, to ``budget`` in all; each
    entry trimmed counts what it lost in ``problems_omitted``. Returns the count omitted."""
    omitted = 0
    for result in results:
        error = result.get("error")
        if not isinstance(error, dict) or not error.get("problems"):
            continue
        problems = error["problems"]
        kept = problems[:budget]
        budget -= len(kept)
        if len(kept) < len(problems):
            error["problems"] = kept
            error["problems_omitted"] = len(problems) - len(kept) + error.get("problems_omitted", 0)
            omitted += len(problems) - len(kept)
    return omitted


class ModelUnavailable(ServingError):
    status_code = 503
    code = "model_unavailable"


def retry_after(exc: ScreeningError) -> str | None:
    """The ``Retry-After`` seconds of an error answer: every 503 (a store or the model is
    unavailable for now) tells the client when to retry; other errors none."""
    if exc.status_code != 503:
        return None
    return str(getattr(exc, "retry_after", 1))


def error_body(exc: ScreeningError) -> dict[str, Any]:
    """The ``{"error": {...}}`` answer of any screening or serving error."""
    if isinstance(exc, ServingError):
        return {"error": exc.body()}
    code = getattr(exc, "code", None) or type(exc).__name__
    return {"error": {"code": code, "message": exc.message}}


class ModelRefused(ServingError):
    """409: the registry's model failed verification or loading; the old model keeps serving."""

    status_code = 409
    code = "model_refused"


class OutcomeConflict(ServingError):
    """409: outcomes are append-only. A second outcome of an item must be a correction naming
    the item's current outcome, and a correction or an approval must still name it; the
    answer carries that outcome's ``outcome_id`` (and ``result``), which is what to send."""

    status_code = 409
    code = "outcome_conflict"

    def __init__(self, message: str, current: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.current = current

    def body(self) -> dict[str, Any]:
        return super().body() | ({"current_outcome": self.current} if self.current else {})


class OutcomeUnchanged(OutcomeConflict):
    """409: a correction that says what the item's current outcome says already (nothing is
    written: a correction must change the result, the substance, the quantity or the
    selection)."""

    code = "outcome_unchanged"
