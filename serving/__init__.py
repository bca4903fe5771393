"""The HTTP scoring service (FastAPI): scores, decisions, explanations, outcomes, audit, auth.

Imports ``data_contracts`` and ``screening`` only. ``create_app(settings)`` builds the app;
``parcelscreen serve`` runs it under uvicorn.
"""

__version__ = "0.1.0"

from ._app import app_from_env, create_app  # noqa: E402
from ._audit import DecisionLog, Entry, VerifyReport, input_hash, input_key  # noqa: E402
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
)
from ._record import LegacyStores, Record, StoreMissing, open_history  # noqa: E402
from ._retention import prune_state  # noqa: E402
from ._service import HALTED_MODE, Service  # noqa: E402
from ._settings import (  # noqa: E402
    DEV_PSEUDONYMISATION_KEY,
    DEV_SECRET_KEY,
    Settings,
    SettingsError,
)
from ._sqlite import Database  # noqa: E402

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
    "KeyStore",
    "LegacyStores",
    "ModelRefused",
    "ModelUnavailable",
    "NotFound",
    "OutcomeConflict",
    "PayloadTooLarge",
    "Record",
    "Role",
    "Service",
    "ServingError",
    "StoreMissing",
    "StoreUnavailable",
    "Settings",
    "SettingsError",
    "Unauthenticated",
    "VerifyReport",
    "app_from_env",
    "check_record",
    "create_app",
    "prune_state",
    "input_hash",
    "input_key",
    "open_history",
]
