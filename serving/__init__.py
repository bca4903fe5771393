"""The HTTP scoring service (FastAPI): scores, decisions, explanations, outcomes, audit, auth.

Imports ``data_contracts`` and ``screening`` only. ``create_app(settings)`` builds the app;
``parcelscreen serve`` runs it under uvicorn.
"""

__version__ = "0.1.0"

from ._app import app_from_env, create_app  # noqa: E402
from ._audit import (  # noqa: E402
    DecisionLog,
    Entry,
    VerifyReport,
    canonical_json,
    input_hash,
    input_key,
)
from ._auth import Caller, KeyStore, Role  # noqa: E402
from ._check import CheckReport, check_record  # noqa: E402
from ._errors import (  # noqa: E402
    Forbidden,
    InvalidInput,
    ModelRefused,
    ModelUnavailable,
    NotFound,
    OutcomeConflict,
    PayloadTooLarge,
    ServingError,
    StoreUnavailable,
    Unauthenticated,
    UnsupportedEncoding,
)
from ._health import StoreRefused, check_at_start, quick_check  # noqa: E402
from ._migrations import SchemaMismatch, known_version, upgrade_schema  # noqa: E402
from ._record import (  # noqa: E402
    LegacyStores,
    Record,
    StoreMissing,
    check_not_legacy,
    open_history,
    open_record_database,
)
from ._retention import prune_state  # noqa: E402
from ._runtime import trusted_bundle_keys  # noqa: E402
from ._service import HALTED_MODE, Service  # noqa: E402
from ._settings import (  # noqa: E402
    DEV_PSEUDONYMISATION_KEY,
    DEV_SECRET_KEY,
    KeySettings,
    PseudonymisationKeySettings,
    Settings,
    SettingsError,
)
from ._sqlite import Database  # noqa: E402
from ._upgrade import UpgradeError, merge_legacy  # noqa: E402

__all__ = [
    "Caller",
    "CheckReport",
    "DEV_PSEUDONYMISATION_KEY",
    "DEV_SECRET_KEY",
    "Database",
    "DecisionLog",
    "Entry",
    "Forbidden",
    "HALTED_MODE",
    "InvalidInput",
    "KeySettings",
    "KeyStore",
    "LegacyStores",
    "ModelRefused",
    "ModelUnavailable",
    "NotFound",
    "OutcomeConflict",
    "PayloadTooLarge",
    "PseudonymisationKeySettings",
    "Record",
    "Role",
    "SchemaMismatch",
    "Service",
    "StoreRefused",
    "ServingError",
    "StoreMissing",
    "StoreUnavailable",
    "Settings",
    "SettingsError",
    "Unauthenticated",
    "UnsupportedEncoding",
    "UpgradeError",
    "VerifyReport",
    "app_from_env",
    "canonical_json",
    "check_at_start",
    "check_not_legacy",
    "check_record",
    "create_app",
    "prune_state",
    "quick_check",
    "trusted_bundle_keys",
    "input_hash",
    "input_key",
    "merge_legacy",
    "open_history",
    "open_record_database",
    "known_version",
    "upgrade_schema",
]
