"""The served model and its hot swap.

A background thread (and the admin reload route) resolves the registry alias; when it moved,
the new bundle is verified, loaded and warmed off the request path, then swapped in with one
reference assignment, so a request sees either the old model or the new one, never neither.
A bundle that fails its checks (signature by a trusted key where any is configured, size caps,
hashes, every file's content against the model) is refused (decision log, log and metrics say
so) and the old model keeps serving.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from screening import (
    BundleError,
    DecisionPolicy,
    Ed25519PublicKey,
    History,
    LoadedModel,
    ModelRegistry,
    Pseudonymiser,
    RegistryError,
    ScoringEngine,
    load_public_keys,
)

from ._audit import DecisionLog, Entry

if TYPE_CHECKING:
    from screening.exchange import ExchangeSource
from ._errors import ModelRefused, ModelUnavailable, NotFound
from ._metrics import Metrics

log = logging.getLogger("serving")


def key_files(setting: str) -> list[Path]:
    """The key files of a comma-separated setting (``PARCELSCREEN_TRUSTED_BUNDLE_KEYS``)."""
    return [Path(part.strip()) for part in setting.split(",") if part.strip()]


def trusted_bundle_keys(setting: str) -> tuple[Ed25519PublicKey, ...]:
    """The public keys a bundle's signature must come from (none: unsigned bundles load)."""
    return load_public_keys(key_files(setting))


@dataclass(frozen=True)
class Served:
    """One loaded model with its two engines: model-based selection and the halted fallback."""

    model: LoadedModel
    engine: ScoringEngine
    fallback: ScoringEngine


class ModelHolder:
    """Holds the served model; ``reload`` swaps in the model the alias points at."""

    def __init__(
        self,
        registry: ModelRegistry,
        alias: str,
        history: History,
        pseudonymiser: Pseudonymiser,
        policy: DecisionPolicy,
        decision_key: bytes,
        audit: DecisionLog,
        metrics: Metrics,
        trusted_keys: Sequence[Ed25519PublicKey] = (),
        exchange: Callable[[], ExchangeSource | None] | None = None,
    ) -> None:
        self.registry, self.alias = registry, alias
        #: Builds the partner-seizure source, once, the first time a model that reads those
        #: features loads (None: none configured); a model without them never calls it.
        self._exchange_factory = exchange
        self._exchange: list[ExchangeSource | None] = []
        #: Keys one of which must have signed a bundle's manifest (none: unsigned ones load).
        self.trusted_keys = tuple(trusted_keys)
        self._history, self._pseudonymiser = history, pseudonymiser
        self._policy, self._decision_key = policy, decision_key
        self._audit, self._metrics = audit, metrics
        self._served: Served | None = None
        self._reload_lock = threading.Lock()
        self._older: OrderedDict[str, LoadedModel] = OrderedDict()
        self._refused: dict[str, str] = {}
        self._alias_problem: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def served(self) -> Served:
        served = self._served
        if served is None:
            raise ModelUnavailable(
                f"no model loaded: registry alias {self.alias!r} gives no loadable bundle"
            )
        return served

    @property
    def loaded(self) -> Served | None:
        return self._served

    def _exchange_source(self) -> ExchangeSource | None:
        if not self._exchange and self._exchange_factory is not None:
            self._exchange.append(self._exchange_factory())
        return self._exchange[0] if self._exchange else None

    def _build(self, model: LoadedModel) -> Served:
        def engine(halted: bool) -> ScoringEngine:
            policy = DecisionPolicy(
                self._policy.capacity, self._policy.random_share, self._policy.review_factor, halted
            )
            return ScoringEngine(
                model,
                self._history,
                self._pseudonymiser,
                policy,
                self._decision_key,
                self._exchange_source() if model.spec.reads_exchange else None,
            )

        return Served(model, engine(False), engine(True))

    def reload(
        self, caller: str = "watcher", request_id: str | None = None, force: bool = False
    ) -> dict[str, Any]:
        """Load the model the alias points at if it is not the one served; refuse bad bundles."""
        with self._reload_lock:
            current = self._served.model.version if self._served else None
            try:
                version = self.registry.resolve(self.alias)
            except RegistryError as exc:
                if self._alias_problem != exc.message:  # logged once, not at every check
                    self._alias_problem = exc.message
                    log.error("alias %s gives no model to load: %s", self.alias, exc.message)
                if current is None:
                    return {"changed": False, "version": None, "refused": exc.message}
                raise ModelRefused(exc.message) from exc
            self._alias_problem = None
            if version == current:
                return {"changed": False, "version": version}
            if version in self._refused and not force:
                raise ModelRefused(self._refused[version])
            try:
                model = LoadedModel.load(
                    self.registry.path(version), version=version, trusted_keys=self.trusted_keys
                )
                _warm(model)
            except (OSError, MemoryError):
                raise  # the disk or memory, not the bundle: the watcher tries it again
            except Exception as exc:  # noqa: BLE001 - any bundle that does not load is refused
                if not isinstance(exc, BundleError):  # a hash-consistent but broken bundle
                    exc = BundleError(f"the bundle does not load: {type(exc).__name__}: {exc}")
                self._refused[version] = exc.message
                log.error("refused model %s: %s", version, exc.message)
                self._metrics.swaps.inc(result="refused")
                self._audit.append(
                    Entry(
                        "model_refused",
                        request_id=request_id,
                        caller=caller,
                        model_version=version,
                        detail={"error": exc.message, "still_serving": current},
                    )
                )
                raise ModelRefused(
                    f"model {version} refused, still serving {current}: {exc.message}"
                ) from exc
            self._refused.pop(version, None)
            if self._served is not None:
                self._older[current or ""] = self._served.model
                while len(self._older) > 3:
                    self._older.popitem(last=False)
            self._served = self._build(model)  # the atomic swap
            self._metrics.swaps.inc(result="loaded")
            self._audit.append(
                Entry(
                    "model_loaded",
                    request_id=request_id,
                    caller=caller,
                    model_version=version,
                    bundle_hash=model.bundle_hash,
                    detail={"previous": current},
                )
            )
            log.info("serving model %s (was %s)", version, current)
            return {"changed": True, "version": version, "previous": current}

    def model_for(self, version: str) -> LoadedModel:
        """The model of an earlier score (for its explanation): served, cached or reloaded."""
        served = self._served
        if served is not None and served.model.version == version:
            return served.model
        cached = self._older.get(version)  # the watcher may drop it meanwhile
        if cached is not None:
            return cached
        try:
            model = LoadedModel.load(
                self.registry.path(version), version=version, trusted_keys=self.trusted_keys
            )
        except Exception as exc:  # noqa: BLE001 - a result's model that is gone or broken
            raise NotFound(f"model {version} of this result cannot be loaded: {exc}") from exc
        with self._reload_lock:  # as many older models kept as after a swap, no more
            self._older[version] = model
            while len(self._older) > 3:
                self._older.popitem(last=False)
        return model

    def start(self, interval: float) -> None:
        if interval <= 0 or self._thread is not None:
            return

        def watch() -> None:
            while not self._stop.wait(interval):
                try:
                    self.reload()
                except ModelRefused:
                    pass
                except Exception:  # keep watching whatever happens
                    log.exception("model reload failed")

        self._thread = threading.Thread(target=watch, name="model-watcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None


def _warm(model: LoadedModel) -> None:
    """First-use costs (ONNX run, booster load) paid before the model serves."""
    row = np.zeros((1, len(model.spec.names)), dtype=np.float32)
    model.margin(row)
    model.contributions(row)
