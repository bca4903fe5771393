"""Keeps the officer view's parcel store in step with the service's scoring.

:meth:`ParcelRecorder.scored` is the hook: given the declarations just scored and their
summaries and feature vectors, it stores the non-personal fields and the pseudonymised
declaration, and the challenger's shadow score when a challenger is published.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from data_contracts import ParcelDeclaration
from screening import Pseudonymiser

from ._parcels import ParcelStore, declared_row, scored_fields
from ._shadow import ShadowScorer

log = logging.getLogger("serving.officer")


class ParcelRecorder:
    def __init__(
        self, store: ParcelStore, pseudonymiser: Pseudonymiser, shadow: ShadowScorer | None
    ) -> None:
        self.store, self.pseudonymiser, self.shadow = store, pseudonymiser, shadow

    def declared_rows(
        self,
        declarations: Sequence[ParcelDeclaration],
        records: Sequence[dict[str, Any]] | None = None,
    ) -> list[dict[str, Any]]:
        """The officer rows' fields that the declarations alone give (no score needed)."""
        dumps = records if records is not None else [None] * len(declarations)
        return [
            declared_row(d, self.pseudonymiser, r) for d, r in zip(declarations, dumps, strict=True)
        ]

    def scored(
        self,
        declarations: Sequence[ParcelDeclaration],
        summaries: Sequence[dict[str, Any]],
        features: Sequence[np.ndarray],
        scored_at: str,
        feature_names: list[str],
        records: Sequence[dict[str, Any]] | None = None,
        extra: Sequence[dict[str, Any]] | None = None,
        declared: Sequence[dict[str, Any]] | None = None,
    ) -> None:
        """Store what was scored, inside the scoring transaction: a failure to store the
        officer copy fails the whole decision (it is part of the record). Only the shadow
        score, which decides nothing, is skipped with a log line when it fails.

        ``records`` are the declarations' JSON dumps where the caller made them already;
        ``extra`` more columns of each row (a batch run's ID and inspection-list rank);
        ``declared`` each row's fields that the declaration alone gives, where the caller made
        them already (:meth:`declared_rows`, before its transaction).
        """
        if declared is None:
            declared = self.declared_rows(declarations, records)
        rows = [d | scored_fields(s, scored_at) for d, s in zip(declared, summaries, strict=True)]
        for row, more in zip(rows, extra or (), strict=False):
            row.update(more)
        if self.shadow is not None and rows:
            try:
                champion = str(summaries[0]["model_version"])
                shadow = self.shadow.score(np.vstack(features), feature_names, champion)
            except Exception:
                log.exception("the challenger could not score %d parcels in shadow", len(rows))
                shadow = None
            if shadow is not None:
                version, probability = shadow
                for row, p in zip(rows, probability, strict=True):
                    row["shadow_version"], row["shadow_probability"] = version, float(p)
        self.store.put(rows)
