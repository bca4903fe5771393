"""The scoring answers on the wire, as pydantic models: what the engine's results become.

The score, score-batch and explanation routes answer with these models, and the OpenAPI
document's response schemas are generated from them (``response_model``). The service builds
each answer as a plain dict (the hot path, ``_fast``, writes that dict straight to JSON
without validating it); a test holds the hot path's JSON equal to the model's on real answers,
so the two cannot drift apart. ``selection_reason`` is the contract's
:class:`~data_contracts.SelectionReason`, ``band`` and ``decision`` the engine's enums.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from data_contracts import SelectionReason
from screening import Band, Decision

from ._json import dump_json
from ._wire import MAX_PROBLEMS_PER_REQUEST, ErrorAnswer, Wire, none


class ReasonOut(Wire):
    """One grouped reason: the officer group, its heading, its contribution (log-odds) and
    the sentence that states the parcel's facts and the model's direction."""

    group: str
    label: str
    contribution: float
    sentence: str


class WarningOut(Wire):
    """A contract warning on an accepted declaration (the record was scored)."""

    field: str
    problem: str


class ErrorEntry(ErrorAnswer):
    """A declaration of a batch that was not scored, in its place among the results."""


class Scored(Wire):
    """What is decided about one parcel (stored with its score and answered again on a
    retried request)."""

    item_id: str
    probability: float
    band: Band
    decision: Decision
    selection_reason: SelectionReason | None
    selection_probability: float | None = None
    model_version: str
    bundle_hash: str | None = None
    reasons: list[ReasonOut]
    mode: Literal["model", "halted-fallback"] = Field(
        description="halted-fallback: model-based selection is halted, rules select"
    )


class ScoreResult(Scored):
    """The answer to one scored declaration."""

    request_id: str
    warnings: list[WarningOut]


class ScoreBatchResponse(Wire):
    """One result or one error entry per declaration, in order."""

    request_id: str
    results: list[ScoreResult | ErrorEntry]
    scored: int
    errors: int
    problems_omitted: int | None = Field(
        default=None,
        ge=1,
        exclude_if=none,
        description="problems left out of the error entries: they list "
        f"{MAX_PROBLEMS_PER_REQUEST} in all",
    )


class Explanation(Scored):
    """Every grouped reason and per-feature contribution of an item's last score."""

    request_id: str
    scored_request_id: str
    scored_at: str
    base_value: float
    margin: float
    contributions: dict[str, float]
    features: dict[str, float | None]


def wire_json(model: BaseModel) -> bytes:
    """The model's JSON as the service sends it: strict JSON (NaN refused), the same bytes
    :func:`~serving._json.dump_json` writes for the dict the model was made from."""
    return dump_json(model.model_dump(mode="json"))
