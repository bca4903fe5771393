"""The error answer on the wire, as pydantic models: what every 4xx and 5xx answer is.

Every error the service answers with (``_errors.error_body``, the hot path's refusals, a
batch's error entries) is ``{"error": {"code", "message", "problems"?, ...}}``;
:func:`error_responses` declares these models as the routes' error responses, so the OpenAPI
document's error schemas are generated from them, not written by hand. A 409 on an outcome
also names the item's current outcome (:class:`OutcomeConflictAnswer`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

#: Most problems one answer lists (over all its records; each record lists at most
#: data_contracts.MAX_PROBLEMS_PER_RECORD); the rest are counted in ``problems_omitted``.
MAX_PROBLEMS_PER_REQUEST = 100


def none(value: Any) -> bool:
    """``exclude_if`` of the optional fields left out of an answer where they are None."""
    return value is None


class Wire(BaseModel):
    """A wire model: no field the model does not name, in or out."""

    model_config = ConfigDict(extra="forbid")


class ProblemOut(Wire):
    """One problem of a refused declaration: which record and field, what is wrong."""

    record: str
    field: str
    problem: str
    expected: str | None = None
    got: str | None = None
    severity: Literal["error", "warning"] = "error"


class ErrorDetail(Wire):
    """What went wrong: a stable code, a message in words, the problems of bad input."""

    code: str
    message: str
    problems: list[ProblemOut] = Field(default_factory=list)
    problems_omitted: int | None = Field(
        default=None, ge=1, exclude_if=none, description="problems left out of this entry"
    )


class ErrorAnswer(Wire):
    """An error answer (4xx, 5xx); a 503 comes with ``Retry-After``."""

    error: ErrorDetail


class OutcomeConflictDetail(ErrorDetail):
    current_outcome: dict[str, Any] | None = Field(
        default=None,
        exclude_if=none,
        description="the item's current outcome: the one a correction or approval must name "
        "(its outcome_id)",
    )


class OutcomeConflictAnswer(Wire):
    """409 on an outcome: outcomes are append-only; ``current_outcome`` is what to name."""

    error: OutcomeConflictDetail


_MEANING = {
    401: "No API key, or an unknown or revoked one",
    403: "The key's role may not do this",
    404: "Unknown item or model",
    409: "The registry's model failed its checks; the old model serves on",
    413: "Request body over the size limit",
    422: (
        "Malformed JSON or a contract violation; problems name record, field and reason "
        f"(at most {MAX_PROBLEMS_PER_REQUEST}; problems_omitted counts the rest)"
    ),
    503: "No model loaded, or a store cannot be written (nothing was acknowledged)",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries of the error answers ``codes`` (413 and 422 always)."""
    return {
        code: {"description": _MEANING[code], "model": ErrorAnswer}
        for code in sorted({*codes, 413, 422})
    }


def conflict_response(meaning: str) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses`` entry of an outcome route's 409."""
    return {409: {"description": meaning, "model": OutcomeConflictAnswer}}


#: The OpenAPI ``responses`` entry of a scoring route's 409 (``_errors.RequestIdReused``).
REQUEST_ID_REUSED: dict[int | str, dict[str, Any]] = {
    409: {
        "model": ErrorAnswer,
        "description": (
            "The X-Request-ID decided another declaration of this "
            "item (a retry repeats its request; "
            "an amended declaration needs a new request ID); nothing was recorded. In a batch, the "
            "record's error entry (code request_id_reused)"
        ),
    }
}
