"""Shadow scoring: when the registry has a challenger, it scores the same parcels too.

The challenger's probability is stored next to the champion's and never affects a decision.
It is computed on the champion's feature vector (the history as of the parcel's time, taken
once), so the challenger must use the same feature names; one that does not is skipped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from screening import BundleError, Ed25519PublicKey, LoadedModel, ModelRegistry, RegistryError

log = logging.getLogger("serving.officer")


class ShadowScorer:
    """Scores with the model the ``alias`` points at, checking the alias every few seconds."""

    def __init__(
        self,
        registry: Path,
        alias: str = "challenger",
        check_seconds: float = 10.0,
        trusted_keys: Sequence[Ed25519PublicKey] = (),
    ) -> None:
        self.registry = ModelRegistry(registry)
        self.trusted_keys = tuple(trusted_keys)  # as the served model's (none: unsigned load)
        self.alias = alias
        self.check_seconds = check_seconds
        self._model: LoadedModel | None = None
        self._checked = float("-inf")
        self._lock = threading.Lock()

    def model(self) -> LoadedModel | None:
        """The challenger model, or None when the alias is absent or unloadable."""
        with self._lock:
            now = time.monotonic()
            if now - self._checked < self.check_seconds:
                return self._model
            self._checked = now
            try:
                version = self.registry.resolve(self.alias)
            except RegistryError:
                self._model = None
                return None
            if self._model is None or self._model.version != version:
                try:
                    self._model = LoadedModel.load(
                        self.registry.path(version), version=version, trusted_keys=self.trusted_keys
                    )
                except (BundleError, RegistryError) as exc:
                    log.warning("challenger %s not loadable: %s", version, exc)
                    self._model = None
            return self._model

    def score(
        self, matrix: np.ndarray, names: list[str], champion: str
    ) -> tuple[str, np.ndarray] | None:
        """(challenger version, probabilities) of a feature matrix, or None (no challenger)."""
        model = self.model()
        if model is None or model.version == champion or list(model.spec.names) != names:
            return None
        _, probability = model.probability(matrix.astype(np.float32, copy=False))
        return model.version, probability
