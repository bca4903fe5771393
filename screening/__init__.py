"""The one scoring core: pseudonymisation, features, history, scoring, explanations, policy.

Training, the HTTP service, batch screening and the officer view all call this package; it
imports only ``data_contracts``.
"""

from ._backends import shared_history_backend
from ._bundle import (
    MANIFEST_NAME,
    SIGNATURE_NAME,
    sign_bundle,
    verify_bundle,
    write_json_atomic,
    write_manifest,
)
from ._calibration import Calibration, fit_platt
from ._database import LOCK_TIMEOUT, Database, connect_sqlite, store_damaged
from ._drift import (
    PSI_ALERT,
    bin_counts,
    drift_report,
    psi,
    psi_from_counts,
    reference_histogram,
)
from ._engine import Explain, ScoredParcel, ScoringEngine
from ._errors import BundleError, RegistryError, ScreeningError, StoreUnavailable
from ._explain import GROUPS, LABELS, Reason, group_contributions, group_of, reasons
from ._features import (
    FEATURE_VERSION,
    FX_TO_EUR,
    PARCEL_FEATURES,
    FeatureSpec,
    feature_matrix,
    fit_feature_spec,
    parcel_features,
)
from ._frame import ENTITIES, ParcelFrame, frame_from_declarations, frame_from_table
from ._history import (
    CLEAN,
    HISTORY_FEATURES,
    SEIZED,
    UNCOUNTED,
    EntityStats,
    History,
    HistoryBackend,
    KnownOutcome,
    MemoryBackend,
    copy_history,
    entity_tokens,
    replay,
)
from ._history_sql import SQLiteBackend
from ._model import REQUIRED_FILES, TREESHAP_FILE, BundleContents, LoadedModel, write_bundle
from ._monitor import (
    CALENDAR_FEATURES,
    GROWING_FEATURES,
    DriftAlarm,
    drift_alarms,
    same_weekday_reference,
    score_alarm,
)
from ._policy import (
    BAND_SHARES,
    Band,
    Decision,
    DecisionPolicy,
    Verdict,
    decide,
    decide_many,
    decision_key,
    threshold_at,
    uniform_draw,
    uniform_draws,
    verdicts,
)
from ._pseudonymise import Pseudonymiser, normalise
from ._registry import ModelRegistry
from ._rules import RISK_ORIGINS, rule_score
from ._signing import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
    generate_key_pair,
    key_id,
    load_private_key,
    load_public_keys,
)
from ._treeshap import TreeExplainerTables

__all__ = [
    "CLEAN",
    "SEIZED",
    "UNCOUNTED",
    "BAND_SHARES",
    "Band",
    "BundleContents",
    "BundleError",
    "CALENDAR_FEATURES",
    "Calibration",
    "Database",
    "Decision",
    "DecisionPolicy",
    "DriftAlarm",
    "ENTITIES",
    "Ed25519PrivateKey",
    "Ed25519PublicKey",
    "EntityStats",
    "Explain",
    "FEATURE_VERSION",
    "FX_TO_EUR",
    "FeatureSpec",
    "GROUPS",
    "GROWING_FEATURES",
    "HISTORY_FEATURES",
    "History",
    "HistoryBackend",
    "KnownOutcome",
    "LABELS",
    "LOCK_TIMEOUT",
    "LoadedModel",
    "MANIFEST_NAME",
    "MemoryBackend",
    "ModelRegistry",
    "PARCEL_FEATURES",
    "PSI_ALERT",
    "ParcelFrame",
    "Pseudonymiser",
    "REQUIRED_FILES",
    "RISK_ORIGINS",
    "Reason",
    "RegistryError",
    "SIGNATURE_NAME",
    "SQLiteBackend",
    "ScoredParcel",
    "ScoringEngine",
    "ScreeningError",
    "StoreUnavailable",
    "TREESHAP_FILE",
    "TreeExplainerTables",
    "Verdict",
    "bin_counts",
    "connect_sqlite",
    "copy_history",
    "decide",
    "decide_many",
    "decision_key",
    "drift_alarms",
    "drift_report",
    "entity_tokens",
    "feature_matrix",
    "fit_feature_spec",
    "fit_platt",
    "frame_from_declarations",
    "frame_from_table",
    "generate_key_pair",
    "group_contributions",
    "group_of",
    "key_id",
    "load_private_key",
    "load_public_keys",
    "normalise",
    "parcel_features",
    "psi",
    "psi_from_counts",
    "reasons",
    "reference_histogram",
    "replay",
    "rule_score",
    "same_weekday_reference",
    "score_alarm",
    "shared_history_backend",
    "sign_bundle",
    "store_damaged",
    "threshold_at",
    "uniform_draw",
    "uniform_draws",
    "verdicts",
    "verify_bundle",
    "write_bundle",
    "write_json_atomic",
    "write_manifest",
]
