"""The scoring engine: declarations in; scores, decisions and reasons out.

The HTTP service, batch screening and the officer view all call :class:`ScoringEngine`, and
training computes its features with the same frame, history and feature functions. Its result
is one columnar :class:`~screening._scored.ScoredBatch` whatever the caller: batch screening
writes it to Arrow, the service answers with its rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pyarrow as pa

from data_contracts import ParcelDeclaration

from ._features import feature_matrix
from ._frame import ParcelFrame, frame_from_declarations, frame_from_table
from ._partner import EXCHANGE_FEATURES
from ._policy import Decision, DecisionPolicy, decide_many
from ._pseudonymise import Pseudonymiser
from ._rules import rule_score
from ._scored import ScoredBatch
from .bundles import LoadedModel
from .explain import Reason, reasons
from .history import HISTORY_FEATURES, History, entity_tokens

if TYPE_CHECKING:
    from .exchange import ExchangeInputs, ExchangeSource

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
        exchange: ExchangeSource | None = None,
    ) -> None:
        self.model = model
        self.history = history
        self.pseudonymiser = pseudonymiser
        self.policy = policy
        self._decision_key = decision_key
        #: Partner-seizure features for a model that reads them (None: none configured here;
        #: such a model then scores every parcel without a partner's hit, and says so).
        self.exchange = exchange
        self._reads_exchange = model.spec.reads_exchange

    @property
    def decision_key(self) -> bytes:
        """The key of this engine's random-control draws (``screening.decision_key`` of the
        server secret): what a caller ranking the engine's results draws with."""
        return self._decision_key

    def frame(self, table: pa.Table) -> ParcelFrame:
        return frame_from_table(table, self.pseudonymiser)

    def frame_of(self, declarations: Sequence[ParcelDeclaration]) -> ParcelFrame:
        """The frame of validated declarations: pseudonymised, no history read."""
        return frame_from_declarations(declarations, self.pseudonymiser)

    def exchange_inputs(
        self, parties: Sequence[dict[str, Any]] | pa.Table, frame: ParcelFrame
    ) -> ExchangeInputs | None:
        """The partner-seizure features of a frame's parcels (their clear ``parties``: a
        table in the contract's form, or one mapping with ``sender`` and ``recipient`` per
        parcel) for a model that reads them; None for one that does not (nothing is asked)."""
        if not self._reads_exchange:
            return None
        if isinstance(parties, pa.Table):
            parties = parties.select(["sender", "recipient"]).to_pylist()
        if self.exchange is None:
            return _unchecked(len(frame), "no exchange is configured for this scorer")
        return self.exchange.inputs(parties, np.asarray(frame.posted_us, dtype=np.int64))

    def features(
        self, frame: ParcelFrame, record: bool = True, exchange: ExchangeInputs | None = None
    ) -> np.ndarray:
        """Feature matrix of a frame, history as of each parcel's time (recorded if asked),
        and the partner-seizure features for a model that reads them."""
        spec, ex = self.model.spec, None if exchange is None else exchange.matrix
        if spec.reads_exchange and ex is None:
            ex = _unchecked(len(frame), "").matrix
        if not record and len(frame) >= _SNAPSHOT_ROWS:
            return feature_matrix(frame, self.history.snapshot_features(frame), spec, ex)
        history = np.empty((len(frame), len(HISTORY_FEATURES)), dtype=np.float64)
        if record:  # one transaction for the whole frame, each parcel as of its turn in it
            return feature_matrix(frame, self.history.observe_frame(frame), spec, ex)
        for row in range(len(frame)):
            tokens = entity_tokens(frame, row)
            history[row] = self.history.features(tokens, int(frame.posted_us[row]))
        return feature_matrix(frame, history, spec, ex)

    def score_table(
        self, table: pa.Table, explain: Explain = "flagged", record: bool = True
    ) -> ScoredBatch:
        """Score every parcel of a validated table in the contract's nested form."""
        frame = self.frame(table)
        return self.score_frame(frame, explain, record, exchange=self.exchange_inputs(table, frame))

    def score_declarations(
        self,
        declarations: Sequence[ParcelDeclaration],
        explain: Explain = "flagged",
        record: bool = True,
        frame: ParcelFrame | None = None,
    ) -> ScoredBatch:
        """Score validated declarations (the low-latency path of the HTTP service);
        ``frame``: theirs from :meth:`frame_of`, where the caller made it already (the
        service does, before its transaction, since a frame reads no history)."""
        if frame is None:
            frame = self.frame_of(declarations)
        if not self._reads_exchange:  # the service's hot path: nothing more
            return self.score_frame(frame, explain, record)
        exchange = self.exchange_inputs(_parties(declarations), frame)
        return self.score_frame(frame, explain, record, exchange=exchange)

    def prefetch_exchange(self, declarations: Sequence[ParcelDeclaration]) -> None:
        """For a model that reads the partner-seizure features, ask now for the parties'
        tokens the source's cache lacks (the service calls this before its scoring
        transaction); nothing for any other model."""
        if self._reads_exchange and self.exchange is not None:
            self.exchange.prefetch(_parties(declarations))

    def score_frame(
        self,
        frame: ParcelFrame,
        explain: Explain = "flagged",
        record: bool = True,
        top: int | None = TOP_REASONS,
        exchange: ExchangeInputs | None = None,
    ) -> ScoredBatch:
        """Features (history as of each parcel's time), score, decision, reasons (the ``top``
        strongest of each parcel explained; None: all), column-wise for the whole frame.
        ``exchange``: the frame's partner-seizure features (:meth:`exchange_inputs`), for a
        model that reads them; without them such a model scores the frame without hits, and
        its reasons say that partners were not checked."""
        model = self.model
        if model.spec.reads_exchange and exchange is None:
            exchange = _unchecked(len(frame), "the parties were not given to the scorer")
        matrix = self.features(frame, record=record, exchange=exchange)
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
                facts = None if exchange is None else exchange.facts(int(i))
                explained[i] = reasons(row, matrix[i], model.spec, top, facts)
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
            partner_hits=None if exchange is None else exchange.hits,
        )


def _parties(declarations: Sequence[ParcelDeclaration]) -> list[dict[str, Any]]:
    """Each declaration's parties, clear, for its exchange tokens (never stored)."""
    return [
        {"sender": d.sender.model_dump(), "recipient": d.recipient.model_dump()}
        for d in declarations
    ]


def _unchecked(n: int, why: str) -> ExchangeInputs:
    """Partner-seizure features of n parcels that were not checked: 0, and why."""
    from .exchange import ExchangeInputs

    return ExchangeInputs(np.zeros((n, len(EXCHANGE_FEATURES))), [[] for _ in range(n)], [why] * n)
