"""Keys and the scoring engine of a batch run, cached per process (one ONNX session each).

The keys are the service's settings (``PARCELSCREEN_PSEUDONYMISATION_KEY`` and
``PARCELSCREEN_SECRET_KEY``, :class:`serving.KeySettings`), so a batch run takes the same
random-control draws and entity tokens as the service, and its development keys are refused
in production as the service's are.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from screening import (
    DecisionPolicy,
    History,
    LoadedModel,
    MemoryBackend,
    Pseudonymiser,
    ScoringEngine,
    SQLiteBackend,
    decision_key,
)

from .._settings import DEV_PSEUDONYMISATION_KEY, DEV_SECRET_KEY, KeySettings

if TYPE_CHECKING:
    from screening.exchange import ExchangeSource


@dataclass(frozen=True)
class EngineSpec:
    """Everything a worker needs to build the engine; hashable, so it keys the cache."""

    bundle: str
    version: str
    capacity: float = 0.02
    random_share: float = 0.10
    history: str | None = None  # SQLite history store, read as a snapshot (never written)
    pseudonymisation_key: str = field(default=DEV_PSEUDONYMISATION_KEY, repr=False)
    secret_key: str = field(default=DEV_SECRET_KEY, repr=False)

    def fingerprint(self) -> str:
        """A short digest of both keys (not the keys): a run resumed with other keys would
        pseudonymise and draw differently, so its identity holds this."""
        both = hmac.new(
            self.secret_key.encode(), self.pseudonymisation_key.encode(), hashlib.sha256
        )
        return both.hexdigest()[:16]

    @classmethod
    def from_keys(
        cls, keys: KeySettings, bundle: Path, version: str, **kwargs: object
    ) -> EngineSpec:
        """The spec of a bundle with the keys of the settings (checked when they were read)."""
        return cls(
            str(bundle),
            version,
            pseudonymisation_key=keys.pseudonymisation_key,
            secret_key=keys.secret_key,
            **kwargs,  # type: ignore[arg-type]
        )


_ENGINES: dict[EngineSpec, ScoringEngine] = {}
_LOCK = threading.Lock()
#: Partner-seizure features for a model that reads them, set by the command that starts the
#: run in this process (``use_exchange``). A Dask worker process has none: a Dask run's
#: driver keeps its pieces' partner-seizure inputs for the workers (``_dask``).
_EXCHANGE: list[ExchangeSource] = []


def use_exchange(source: ExchangeSource | None) -> None:
    """The exchange source of the engines built from now on in this process (None: none)."""
    with _LOCK:
        _EXCHANGE[:] = [] if source is None else [source]


@functools.cache
def _model(bundle: str, version: str) -> LoadedModel:
    """A bundle loaded once per process, whichever engines (history copies) use it."""
    return LoadedModel.load(Path(bundle), version=version)


def _close(engine: ScoringEngine) -> None:
    engine.history.backend.close()


def release_engine(spec: EngineSpec) -> None:
    """Forget a spec's engine and close its history store (a run's snapshot, when done)."""
    with _LOCK:
        engine = _ENGINES.pop(spec, None)
    if engine is not None:
        _close(engine)


def engine_for(spec: EngineSpec) -> ScoringEngine:
    """The engine of a spec, built once per process (a Dask worker loads the bundle once).
    Engines whose history copy is gone (a finished run's, on a long-lived worker) are
    closed and forgotten here, so they do not pile up."""
    with _LOCK:
        for old in [s for s in _ENGINES if s.history and not Path(s.history).exists()]:
            _close(_ENGINES.pop(old))
        engine = _ENGINES.get(spec)
        if engine is None:
            model = _model(spec.bundle, spec.version)
            backend = SQLiteBackend(spec.history) if spec.history else MemoryBackend()
            engine = ScoringEngine(
                model,
                History(backend),
                Pseudonymiser(spec.pseudonymisation_key),
                DecisionPolicy(spec.capacity, spec.random_share),
                decision_key(spec.secret_key),
                _EXCHANGE[0] if _EXCHANGE and model.spec.reads_exchange else None,
            )
            _ENGINES[spec] = engine
        return engine
