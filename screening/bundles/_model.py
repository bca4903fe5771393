"""A model bundle, written (:func:`write_bundle`) and loaded (:class:`LoadedModel`): ONNX
session for scores, booster for exact explanations.

Files written, then read (all covered by the manifest, verified before anything is parsed):
``model.onnx``, ``booster.ubj``, ``feature_spec.json``, ``calibration.json``,
``thresholds.json``, ``reference.json``, ``metrics.json``, ``bundle.json``, ``model_card.md``
and ``treeshap.npz``. Each is parsed from the very bytes that were hashed, and checked
against the model before it is used (``_checks``, ``screening.explain._treeshap_checks``): a
bundle that is not sound raises BundleError naming the file and the problem, and is never
half loaded.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime

from .._calibration import Calibration
from .._errors import BundleError
from .._features import FeatureSpec
from ..explain import TreeExplainerTables
from ._checks import (
    check_calibration,
    check_feature_spec,
    check_onnx,
    check_reference,
    check_thresholds,
    parse_json,
)
from ._files import open_bundle, write_manifest
from ._signing import Ed25519PublicKey

TREESHAP_FILE = "treeshap.npz"

#: Files parsed at load (from the bytes that were hashed); the others are only hashed.
_PARSED = frozenset(
    {
        "model.onnx",
        "feature_spec.json",
        "calibration.json",
        "thresholds.json",
        "reference.json",
        "metrics.json",
        "bundle.json",
        TREESHAP_FILE,
    }
)

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


@dataclass(frozen=True)
class BundleContents:
    """What a bundle holds, as training made it: :func:`write_bundle` writes it to the files
    that :meth:`LoadedModel.load` reads."""

    model_onnx: bytes  # the margin graph (``model.onnx``)
    booster: Any  # the XGBoost booster (``booster.ubj``; the TreeSHAP tables are built from it)
    spec: FeatureSpec
    calibration: Calibration
    thresholds: dict[str, float]  # capacity share ("0.01") -> probability threshold
    reference: dict[str, Any]  # the reference period's histograms (drift)
    metrics: dict[str, Any]
    info: dict[str, Any]  # ``bundle.json``: name, versions, training period, parity
    model_card: str  # Markdown


def _json_file(payload: Any) -> str:
    plain = json.loads(json.dumps(payload, default=float))  # numpy numbers as plain floats
    return json.dumps(plain, indent=1, sort_keys=True)


def write_bundle(out: Path, contents: BundleContents) -> dict[str, Any]:
    """Write every file of a bundle into ``out`` (made where missing), then the manifest of
    their hashes; return the manifest."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "model.onnx").write_bytes(contents.model_onnx)
    contents.booster.save_model(str(out / "booster.ubj"))
    tables = TreeExplainerTables.from_booster(contents.booster, len(contents.spec.names))
    tables.save(out / TREESHAP_FILE)
    (out / "feature_spec.json").write_text(contents.spec.to_json(), encoding="utf-8")
    documents = {
        "calibration.json": contents.calibration.as_dict(),
        "thresholds.json": contents.thresholds,
        "reference.json": contents.reference,
        "metrics.json": contents.metrics,
        "bundle.json": contents.info,
    }
    for name, payload in documents.items():
        (out / name).write_text(_json_file(payload), encoding="utf-8")
    (out / "model_card.md").write_text(contents.model_card, encoding="utf-8")
    return write_manifest(out)


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
    def load(
        cls,
        path: Path,
        version: str | None = None,
        threads: int = 1,
        trusted_keys: Iterable[Ed25519PublicKey] = (),
    ) -> LoadedModel:
        """Verify the bundle (sizes, the manifest's signature by one of ``trusted_keys`` where
        any are given, every hash), check every file against the model, then load it; refuse
        anything tampered, partial or unsound with BundleError."""
        path = Path(path)
        bundle = open_bundle(path, trusted_keys, read=_PARSED)
        missing = [name for name in REQUIRED_FILES if name not in bundle.manifest["files"]]
        if missing:
            raise BundleError(f"bundle {path} lacks {', '.join(missing)}")
        where, files = f"bundle {path}", bundle.contents
        spec = check_feature_spec(files["feature_spec.json"], where)
        check_onnx(files["model.onnx"], where, len(spec.names))
        calibration = Calibration(**check_calibration(files["calibration.json"], where))
        thresholds = check_thresholds(files["thresholds.json"], where)
        reference = check_reference(files["reference.json"], where, spec)
        metrics, info = (
            parse_json(files[name], where, name) for name in ("metrics.json", "bundle.json")
        )
        for name, value in (("metrics.json", metrics), ("bundle.json", info)):
            if not isinstance(value, dict):
                raise BundleError(f"{where}: {name} must hold a JSON object")
        explainer = None
        if TREESHAP_FILE in files:
            explainer = TreeExplainerTables.from_bytes(
                files[TREESHAP_FILE], len(spec.names), warm=False, where=f"{where}: {TREESHAP_FILE}"
            )
        try:
            session = _session(files["model.onnx"], threads)
        except Exception as exc:  # onnxruntime raises its own types for a broken graph
            raise BundleError(f"{where}: the model does not load: {exc}") from exc
        return cls(
            path=path,
            version=version or path.name,
            bundle_hash=hashlib.sha256(bundle.manifest_bytes).hexdigest(),
            spec=spec,
            calibration=calibration,
            thresholds=thresholds,
            reference=reference,
            metrics=metrics,
            info=info,
            session=session,
            _explainer=explainer,
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
        """Precomputed TreeSHAP tables (``treeshap.npz``, checked at load); None if absent."""
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
