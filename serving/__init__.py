"""The HTTP scoring service (FastAPI): scores, decisions, explanations, outcomes, audit, auth.

Imports ``data_contracts`` and ``screening`` only. ``create_app(settings)`` builds the app;
``parcelscreen serve`` runs it under uvicorn.
"""

__version__ = "0.1.0"

from ._app import app_from_env, create_app  # noqa: E402
from ._audit import DecisionLog, Entry, VerifyReport, input_hash, input_key  # noqa: E402
from ._auth import Caller, KeyStore, Role  # noqa: E402
from ._errors import (  # noqa: E402
    Forbidden,
    InvalidInput,
    ModelRefused,
    ModelUnavailable,
    NotFound,
    PayloadTooLarge,
    ServingError,
    StoreUnavailable,
    Unauthenticated,
)
from ._retention import prune_state  # noqa: E402
from ._service import HALTED_MODE, Service, open_history  # noqa: E402
from ._settings import (  # noqa: E402
    DEV_PSEUDONYMISATION_KEY,
    DEV_SECRET_KEY,
    Settings,
    SettingsError,
)
from ._sqlite import Database  # noqa: E402

__all__ = [
    "Caller",
    "DEV_PSEUDONYMISATION_KEY",
    "DEV_SECRET_KEY",
    "Database",
    "DecisionLog",
    "Entry",
    "Forbidden",
    "HALTED_MODE",
    "InvalidInput",
    "KeyStore",
    "ModelRefused",
    "ModelUnavailable",
    "NotFound",
    "PayloadTooLarge",
    "Role",
    "Service",
    "ServingError",
    "StoreUnavailable",
    "Settings",
    "SettingsError",
    "Unauthenticated",
    "VerifyReport",
    "app_from_env",
    "create_app",
    "prune_state",
    "input_hash",
    "input_key",
    "open_history",
]
