"""A loaded model bundle: ONNX session for scores, booster for exact explanations.

Files read (all covered by the manifest, verified before anything is parsed):
``model.onnx``, ``booster.ubj``, ``feature_spec.json``, ``calibration.json``,
``thresholds.json``, ``reference.json``, ``metrics.json``, ``bundle.json``, ``model_card.md``.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime

from ._bundle import verify_bundle
from ._calibration import Calibration
from ._errors import BundleError
from ._features import FeatureSpec
from ._treeshap import TreeExplainerTables

TREESHAP_FILE = "treeshap.npz"

REQUIRED_FILES = (
    "model.onnx",
    "booster.ubj",
    "feature_spec.json",
    "calibration.json",
    "thresholds.json",
    "reference.json",
    "metrics.json",
    "bundle.json",
    "model_card.md",
)


def _session(model_bytes: bytes, threads: int) -> onnxruntime.InferenceSession:
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])


@dataclass
class LoadedModel:
    """Everything scoring and explaining need from one bundle."""

    path: Path
    version: str
    bundle_hash: str  # sha256 of manifest.json: names the exact bytes that score
    spec: FeatureSpec
    calibration: Calibration
    thresholds: dict[str, float]  # capacity share ("0.01") -> probability threshold
    reference: dict[str, Any]
    metrics: dict[str, Any]
    info: dict[str, Any]
    session: onnxruntime.InferenceSession
    _booster: Any = field(default=None, repr=False)
    _explainer: TreeExplainerTables | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def load(cls, path: Path, version: str | None = None, threads: int = 1) -> LoadedModel:
        """Verify the bundle's manifest, then load it; refuse anything tampered or partial."""
        path = Path(path)
        manifest = verify_bundle(path)
        missing = [name for name in REQUIRED_FILES if name not in manifest["files"]]
        if missing:
            raise BundleError(f"bundle {path} lacks {', '.join(missing)}")

        def read_json(name: str) -> Any:
            try:
                return json.loads((path / name).read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise BundleError(f"bundle {path}: {name} is unreadable: {exc}") from exc

        try:
            spec = FeatureSpec.from_json((path / "feature_spec.json").read_text(encoding="utf-8"))
            session = _session((path / "model.onnx").read_bytes(), threads)
        except Exception as exc:  # onnxruntime raises its own types for a broken graph
            raise BundleError(f"bundle {path}: the model does not load: {exc}") from exc
        return cls(
            path=path,
            version=version or path.name,
            bundle_hash=hashlib.sha256((path / "manifest.json").read_bytes()).hexdigest(),
            spec=spec,
            calibration=Calibration(**read_json("calibration.json")),
            thresholds={str(k): float(v) for k, v in read_json("thresholds.json").items()},
            reference=read_json("reference.json"),
            metrics=read_json("metrics.json"),
            info=read_json("bundle.json"),
            session=session,
        )

    def margin(self, matrix: np.ndarray) -> np.ndarray:
        """Raw model scores (log-odds) of a float32 feature matrix, as float64."""
        if len(matrix) == 0:
            return np.empty(0, dtype=np.float64)
        (out,) = self.session.run(["margin"], {"features": matrix.astype(np.float32, copy=False)})
        return np.asarray(out, dtype=np.float64).reshape(-1)

    def probability(self, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        margin = self.margin(matrix)
        return margin, self.calibration.probability(margin)

    @property
    def booster(self) -> Any:
        """The XGBoost booster (loaded on first use; explanations need it)."""
        with self._lock:
            if self._booster is None:
                import xgboost

                booster = xgboost.Booster()
                booster.load_model(str(self.path / "booster.ubj"))
                booster.set_param({"nthread": 1})
                self._booster = booster
            return self._booster

    @property
    def explainer(self) -> TreeExplainerTables | None:
        """Precomputed TreeSHAP tables (``treeshap.npz``), loaded on first use; None if absent."""
        with self._lock:
            if self._explainer is None and (self.path / TREESHAP_FILE).exists():
                self._explainer = TreeExplainerTables.load(self.path / TREESHAP_FILE)
            return self._explainer

    def contributions(self, matrix: np.ndarray) -> np.ndarray:
        """Exact TreeSHAP contributions on the margin: (n, features + 1), last column bias.

        From the bundle's precomputed tables (no XGBoost call); XGBoost's ``pred_contribs``
        only for a bundle made before the tables existed.
        """
        explainer = self.explainer
        if explainer is not None:
            return explainer.contributions(matrix)
        import xgboost

        data = xgboost.DMatrix(matrix, missing=np.nan)
        return np.asarray(self.booster.predict(data, pred_contribs=True), dtype=np.float64)
