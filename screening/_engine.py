"""The scoring engine: declarations in; scores, decisions and reasons out.

The HTTP service, batch screening and the officer view all call :class:`ScoringEngine`, and
training computes its features with the same frame, history and feature functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pyarrow as pa

from data_contracts import ParcelDeclaration

from ._features import feature_matrix
from ._frame import ParcelFrame, frame_from_declarations, frame_from_table
from ._policy import Decision, DecisionPolicy, Verdict, verdicts
from ._pseudonymise import Pseudonymiser
from ._rules import rule_score
from .bundles import LoadedModel
from .explain import Reason, reasons
from .history import HISTORY_FEATURES, History, entity_tokens

Explain = Literal["none", "flagged", "all"]
#: From this many parcels, snapshot history (record=False) is read column-wise.
_SNAPSHOT_ROWS = 16


@dataclass
class ScoredParcel:
    """The result for one parcel."""

    item_id: str
    probability: float
    margin: float
    verdict: Verdict
    rule_points: float
    model_version: str
    bundle_hash: str
    features: np.ndarray = field(repr=False)
    base_value: float | None = None
    contributions: np.ndarray | None = field(default=None, repr=False)
    reasons: list[Reason] | None = None

    def as_dict(self) -> dict[str, Any]:
        v = self.verdict
        return {
            "item_id": self.item_id,
            "probability": self.probability,
            "band": v.band.value,
            "decision": v.decision.value,
            "selection_reason": None if v.selection_reason is None else v.selection_reason.value,
            "selection_probability": v.selection_probability,
            "model_version": self.model_version,
            "bundle_hash": self.bundle_hash,
            "reasons": None if self.reasons is None else [r.as_dict() for r in self.reasons],
        }


class ScoringEngine:
    """Scores parcels with one loaded model, one history store and one decision policy."""

    def __init__(
        self,
        model: LoadedModel,
        history: History,
        pseudonymiser: Pseudonymiser,
        policy: DecisionPolicy,
        decision_key: bytes,
    ) -> None:
        self.model = model
        self.history = history
        self.pseudonymiser = pseudonymiser
        self.policy = policy
        self._decision_key = decision_key

    @property
    def decision_key(self) -> bytes:
        """The key of this engine's random-control draws (``screening.decision_key`` of the
        server secret): what a caller ranking the engine's results draws with."""
        return self._decision_key

    def frame(self, table: pa.Table) -> ParcelFrame:
        return frame_from_table(table, self.pseudonymiser)

    def features(self, frame: ParcelFrame, record: bool = True) -> np.ndarray:
        """Feature matrix of a frame, history as of each parcel's time (recorded if asked)."""
        if not record and len(frame) >= _SNAPSHOT_ROWS:
            return feature_matrix(frame, self.history.snapshot_features(frame), self.model.spec)
        history = np.empty((len(frame), len(HISTORY_FEATURES)), dtype=np.float64)
        if record:  # one transaction for the whole frame, each parcel as of its turn in it
            return feature_matrix(frame, self.history.observe_frame(frame), self.model.spec)
        for row in range(len(frame)):
            tokens = entity_tokens(frame, row)
            history[row] = self.history.features(tokens, int(frame.posted_us[row]))
        return feature_matrix(frame, history, self.model.spec)

    def score_table(
        self, table: pa.Table, explain: Explain = "flagged", record: bool = True
    ) -> list[ScoredParcel]:
        """Score every parcel of a validated table in the contract's nested form."""
        return self.score_frame(self.frame(table), explain, record)

    def score_declarations(
        self,
        declarations: Sequence[ParcelDeclaration],
        explain: Explain = "flagged",
        record: bool = True,
    ) -> list[ScoredParcel]:
        """Score validated declarations (the low-latency path of the HTTP service)."""
        return self.score_frame(frame_from_declarations(declarations, self.pseudonymiser),
                                explain, record)  # fmt: skip

    def score_frame(
        self, frame: ParcelFrame, explain: Explain = "flagged", record: bool = True
    ) -> list[ScoredParcel]:
        """Features (history as of each parcel's time), score, decision, reasons."""
        matrix = self.features(frame, record=record)
        margin, probability = self.model.probability(matrix)
        points = rule_score(matrix, self.model.spec, frame.origin)
        model = self.model
        ids = frame.item_id
        decided = verdicts(ids, probability, points, model.thresholds, self.policy,
                           self._decision_key)  # fmt: skip
        results = [
            ScoredParcel(str(ids[i]), float(probability[i]), float(margin[i]), decided[i],
                         float(points[i]), model.version, model.bundle_hash, matrix[i])  # fmt: skip
            for i in range(len(frame))
        ]
        wanted = [r for r in results if explain == "all" or (
            explain == "flagged" and r.verdict.decision is not Decision.PASS)]  # fmt: skip
        if wanted:
            self.explain(wanted)
        return results

    def explain(self, parcels: Sequence[ScoredParcel], top: int | None = 5) -> None:
        """Attach exact contributions and plain-language reasons to scored parcels."""
        contribs = self.model.contributions(np.vstack([p.features for p in parcels]))
        for parcel, row in zip(parcels, contribs, strict=True):
            parcel.contributions = row
            parcel.base_value = float(row[-1])
            parcel.reasons = reasons(row, parcel.features, self.model.spec, top)
