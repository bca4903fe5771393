"""The engine's one result: a columnar scored batch, which every transport turns into its own.

:meth:`ScoringEngine.score_frame <screening.ScoringEngine.score_frame>` returns a
:class:`ScoredBatch`: one column per answer field (numpy arrays, decided column-wise by
``decide_many``), the feature matrix, and the reasons of the parcels it explained. Batch
screening writes it to Arrow as it is (:meth:`ScoredBatch.to_arrow`, :data:`SCORED_SCHEMA`);
the HTTP service reads its rows (:class:`ScoredParcel`, iterating the batch) and answers with
serving's pydantic response models. So frame, features, model, calibration, policy and reasons
are orchestrated in one place, the engine, whatever the transport.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from data_contracts import SelectionReason

from ._policy import Band, Decision, Verdict
from .explain import Reason

if TYPE_CHECKING:
    from .exchange import Hit

REASON_TYPE = pa.struct(
    [
        ("group", pa.string()),
        ("label", pa.string()),
        ("contribution", pa.float64()),
        ("sentence", pa.string()),
    ]
)
#: The Arrow columns of a scored batch, in the order batch screening writes them.
SCORED_SCHEMA = pa.schema(
    [
        ("item_id", pa.string()),
        ("probability", pa.float64()),
        ("band", pa.string()),
        ("decision", pa.string()),
        ("selection_reason", pa.string()),
        ("selection_probability", pa.float64()),
        ("reasons", pa.list_(REASON_TYPE)),
        ("model_version", pa.string()),
    ]
)


@dataclass
class ScoredParcel:
    """One row of a :class:`ScoredBatch`, for the transports that answer parcel by parcel."""

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


@dataclass(frozen=True, eq=False)
class ScoredBatch:
    """Scores, decisions and reasons of a frame's parcels, one array per column.

    ``band``, ``decision`` and ``selection_reason`` hold the enums' values (``None``: not
    selected); ``selection_probability`` is NaN where a parcel was not selected. ``explained``
    lists the rows that were explained, ``contributions`` their exact per-feature
    contributions (bias last), and ``reasons`` holds each row's reasons (None: not explained).
    """

    item_id: np.ndarray
    probability: np.ndarray
    margin: np.ndarray
    band: np.ndarray
    decision: np.ndarray
    selection_reason: np.ndarray
    selection_probability: np.ndarray
    rule_points: np.ndarray
    features: np.ndarray = field(repr=False)
    model_version: str
    bundle_hash: str
    explained: np.ndarray
    contributions: np.ndarray = field(repr=False)
    reasons: list[list[Reason] | None] = field(repr=False)
    #: each row's partner-seizure hits, for a model that reads them (None: it does not)
    partner_hits: list[list[Hit]] | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.item_id)

    def __iter__(self) -> Iterator[ScoredParcel]:
        return iter(self.parcels)

    @cached_property
    def parcels(self) -> list[ScoredParcel]:
        """The batch row by row (the service's per-request answers), made once, when first
        asked for (batch screening never asks: it writes the columns)."""
        position = np.full(len(self), -1, dtype=np.int64)
        position[self.explained] = np.arange(len(self.explained))
        out = []
        for i in range(len(self)):
            reason, chosen = self.selection_reason[i], float(self.selection_probability[i])
            verdict = Verdict(
                Decision(self.decision[i]),
                Band(self.band[i]),
                None if reason is None else SelectionReason(reason),
                None if np.isnan(chosen) else chosen,
            )
            contributions = None if position[i] < 0 else self.contributions[position[i]]
            parcel = ScoredParcel(
                str(self.item_id[i]),
                float(self.probability[i]),
                float(self.margin[i]),
                verdict,
                float(self.rule_points[i]),
                self.model_version,
                self.bundle_hash,
                self.features[i],
                None if contributions is None else float(contributions[-1]),
                contributions,
                self.reasons[i],
            )
            out.append(parcel)
        return out

    def to_arrow(self) -> pa.Table:
        """The batch as an Arrow table of :data:`SCORED_SCHEMA` (columns as they are; the
        reasons of the explained rows only, the others null)."""
        reasons: list[list[dict[str, Any]] | None] = [None] * len(self)
        for i in self.explained:
            explained = self.reasons[i]
            assert explained is not None  # every explained row has its reasons
            reasons[i] = [
                {
                    "group": r.group,
                    "label": r.label,
                    "contribution": r.contribution,
                    "sentence": r.sentence,
                }
                for r in explained
            ]
        return pa.table(
            {
                "item_id": pa.array(self.item_id, pa.string()),
                "probability": pa.array(self.probability, pa.float64()),
                "band": pa.array(self.band, pa.string()),
                "decision": pa.array(self.decision, pa.string()),
                "selection_reason": pa.array(self.selection_reason, pa.string()),
                "selection_probability": pa.array(
                    self.selection_probability, pa.float64(), from_pandas=True
                ),
                "reasons": pa.array(reasons, pa.list_(REASON_TYPE)),
                "model_version": pa.array([self.model_version] * len(self), pa.string()),
            },
            schema=SCORED_SCHEMA,
        )
