"""The scoring engine: declarations in; scores, decisions and reasons out.

The HTTP service, batch screening and the officer view all call :class:`ScoringEngine`, and
training computes its features with the same frame, history and feature functions. Its result
is one columnar :class:`~screening._scored.ScoredBatch` whatever the caller: batch screening
writes it to Arrow, the service answers with its rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pyarrow as pa

from data_contracts import ParcelDeclaration

from ._features import feature_matrix
from ._frame import ParcelFrame, frame_from_declarations, frame_from_table
from ._policy import Decision, DecisionPolicy, decide_many
from ._pseudonymise import Pseudonymiser
from ._rules import rule_score
from ._scored import ScoredBatch
from .bundles import LoadedModel
from .explain import Reason, reasons
from .history import HISTORY_FEATURES, History, entity_tokens

Explain = Literal["none", "flagged", "all"]
#: From this many parcels, snapshot history (record=False) is read column-wise.
_SNAPSHOT_ROWS = 16
#: Reasons given per explained parcel unless a caller asks for another number.
TOP_REASONS = 5


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
    ) -> ScoredBatch:
        """Score every parcel of a validated table in the contract's nested form."""
        return self.score_frame(self.frame(table), explain, record)

    def score_declarations(
        self,
        declarations: Sequence[ParcelDeclaration],
        explain: Explain = "flagged",
        record: bool = True,
    ) -> ScoredBatch:
        """Score validated declarations (the low-latency path of the HTTP service)."""
        frame = frame_from_declarations(declarations, self.pseudonymiser)
        return self.score_frame(frame, explain, record)

    def score_frame(
        self,
        frame: ParcelFrame,
        explain: Explain = "flagged",
        record: bool = True,
        top: int | None = TOP_REASONS,
    ) -> ScoredBatch:
        """Features (history as of each parcel's time), score, decision, reasons (the ``top``
        strongest of each parcel explained; None: all), column-wise for the whole frame."""
        model = self.model
        matrix = self.features(frame, record=record)
        margin, probability = model.probability(matrix)
        points = rule_score(matrix, model.spec, frame.origin)
        decision, band, reason, chosen = decide_many(
            frame.item_id, probability, points, model.thresholds, self.policy, self._decision_key
        )
        if explain == "all":
            wanted = np.arange(len(frame))
        elif explain == "flagged":
            wanted = np.flatnonzero(decision != Decision.PASS.value)
        else:
            wanted = np.arange(0)
        explained: list[list[Reason] | None] = [None] * len(frame)
        contributions = np.empty((0, matrix.shape[1] + 1))
        if len(wanted):
            contributions = model.contributions(matrix[wanted])
            for i, row in zip(wanted, contributions, strict=True):
                explained[i] = reasons(row, matrix[i], model.spec, top)
        return ScoredBatch(
            item_id=frame.item_id,
            probability=probability,
            margin=margin,
            band=band,
            decision=decision,
            selection_reason=reason,
            selection_probability=chosen,
            rule_points=points,
            features=matrix,
            model_version=model.version,
            bundle_hash=model.bundle_hash,
            explained=wanted,
            contributions=contributions,
            reasons=explained,
        )
