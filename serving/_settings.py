"""Service settings: one pydantic-settings object, environment variables prefixed PARCELSCREEN_.

The development keys are defined here once, and refused outside development (the FastAPI
template's ``changethis`` rule) by one check that every command using a key goes through:
``serve`` and the commands of the record database read :class:`Settings`, a batch run
:class:`KeySettings` and ``train`` :class:`PseudonymisationKeySettings`, each a part of the
settings above the next.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET_KEY = "development-only-secret-key"
DEV_PSEUDONYMISATION_KEY = "development-only-pseudonymisation-key"
#: The development keys by setting: public, so refused outside development.
_DEVELOPMENT_KEYS = {"secret_key": DEV_SECRET_KEY, "pseudonymisation_key": DEV_PSEUDONYMISATION_KEY}
LOOPBACK = ("127.0.0.1", "::1", "localhost")


def networks(value: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """The networks of a comma-separated setting (``10.0.5.0/24, 10.0.6.7``)."""
    try:
        return [ipaddress.ip_network(part.strip()) for part in value.split(",") if part.strip()]
    except ValueError as exc:
        raise ValueError(f"expected comma-separated networks such as 10.0.5.0/24 ({exc})") from None


def _networks(value: str) -> str:
    return ",".join(str(n) for n in networks(value))


class SettingsError(ValueError):
    """Settings that cannot be used, named by their environment variables. The message never
    holds the values: a wrong value may be a secret or a pseudonymisation key."""

    def __init__(self, exc: ValidationError) -> None:
        self.problems = []
        for err in exc.errors(include_input=False, include_url=False, include_context=False):
            message = err["msg"].removeprefix("Value error, ")
            names = ", ".join(f"PARCELSCREEN_{str(part).upper()}" for part in err["loc"])
            self.problems.append(f"{names}: {message}" if names else message)
        super().__init__("invalid settings: " + "; ".join(self.problems))


class _EnvironmentSettings(BaseSettings):
    """The environment, and the one check of the development keys against it."""

    model_config = SettingsConfigDict(
        env_prefix="PARCELSCREEN_", use_attribute_docstrings=True, extra="ignore", frozen=True
    )

    environment: Literal["development", "production"] = "development"
    """``development`` allows the embedded default keys; anything else refuses them."""

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:  # pydantic's own message repeats the values
            raise SettingsError(exc) from None

    @property
    def development_keys(self) -> list[str]:
        """The variables of these settings' keys that hold the development key."""
        return [
            f"PARCELSCREEN_{name.upper()}"
            for name, value in _DEVELOPMENT_KEYS.items()
            if name in type(self).model_fields and getattr(self, name) == value
        ]

    @model_validator(mode="after")
    def _refuse_development_keys(self) -> _EnvironmentSettings:
        variables = self.development_keys
        if variables and self.environment != "development":
            raise ValueError(f"{' and '.join(variables)} must be set outside development")
        return self


class PseudonymisationKeySettings(_EnvironmentSettings):
    """The pseudonymisation key alone (``parcelscreen train``)."""

    pseudonymisation_key: str = Field(default=DEV_PSEUDONYMISATION_KEY, min_length=16, repr=False)
    """HMAC key that turns names and addresses into tokens; must equal the training key."""


class KeySettings(PseudonymisationKeySettings):
    """Both keys (``parcelscreen screen``: tokens and random-control draws)."""

    secret_key: str = Field(default=DEV_SECRET_KEY, min_length=16, repr=False)
    """Server secret: API keys are stored as HMACs under it; random-control draws use it."""


class Settings(KeySettings):
    """Everything the service reads from its environment."""

    host: str = "127.0.0.1"
    """Interface ``parcelscreen serve`` binds to."""
    port: int = Field(default=8000, ge=0, le=65535)
    """TCP port ``parcelscreen serve`` listens on (0: any free port)."""
    data_dir: Path = Path("runs/serving")
    """Directory of the embedded record database (``state.sqlite``)."""
    state_db: Path | None = None
    """The record database: one SQLite file holding API keys, accounts, scored results, the
    officer copy, outcomes, the decision log and (with ``history_backend=sqlite``) the entity
    history, so that a decision commits as one transaction (default: data_dir/state.sqlite)."""
    database_url: str | None = Field(default=None, pattern=r"^postgres(ql)?://")
    """The record in PostgreSQL (``postgresql://USER@HOST:PORT/DB``), shared by several
    replicas: every store is a table of schema ``database_schema`` there, and ``state.sqlite``
    is not used (the decision log's head anchor stays in ``data_dir``). Unset: SQLite."""
    database_schema: str = Field(default="parcelscreen_record", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    """PostgreSQL schema of the record's tables (``database_url``)."""
    lock_timeout: float = Field(default=5.0, gt=0, le=300)
    """Longest wait (seconds) of a writer for the record database's writer lock; past it the
    request answers 503 with ``Retry-After`` and records nothing."""
    registry: Path = Path("runs/registry")
    """Root of the model registry."""
    model_alias: str = "champion"
    """Registry alias (or version) the service scores with."""
    reload_seconds: float = Field(default=10.0, ge=0)
    """How often the registry alias is checked for a new model (0: only on admin reload)."""
    exchange_config: Path | None = None
    """The agency's exchange settings (``docs/EXCHANGE.md``): a model that reads the
    partner-seizure features gets them from the custodians' tokens and the partners'
    indicators in the record database. Unset: such a model scores without partners' hits
    (and its reasons say so); a model without those features never asks."""
    trusted_bundle_keys: str = ""
    """Public key files (PEM, comma-separated; ``parcelscreen models keygen`` makes a pair):
    when set, only a bundle whose manifest one of them signed loads (served, shadow,
    ``models promote``); unsigned or otherwise signed ones are refused. Empty: unsigned
    bundles load, as in development; set it in production."""
    bundle_signing_key: Path | None = None
    """Private key file (PEM) with which ``parcelscreen train`` signs the bundles it publishes
    and ``parcelscreen models sign`` signs a published version (unset: bundles are unsigned)."""

    @model_validator(mode="after")
    def _readable_bundle_keys(self) -> Settings:
        from ._runtime import trusted_bundle_keys

        try:
            trusted_bundle_keys(self.trusted_bundle_keys)
        except ValueError as exc:
            raise ValueError(f"PARCELSCREEN_TRUSTED_BUNDLE_KEYS: {exc}") from None
        return self

    capacity: float = Field(default=0.02, gt=0, le=1)
    """Share of the flow that can be opened (inspection capacity)."""
    random_share: float = Field(default=0.10, ge=0, le=1)
    """Share of the capacity spent on uniform random control."""
    max_batch: int = Field(default=500, ge=1)
    """Most declarations accepted by one score-batch call."""
    batch_linger_ms: float = Field(default=1.0, ge=0, le=50)
    """Longest wait for the callers a batch just answered to send their next score request,
    so that they join the next batch instead of splitting into two alternating ones (0: no
    wait). Only a batch that would hold fewer requests than the last one waits."""
    max_body_bytes: int = Field(default=2_000_000, ge=1024)
    """Largest request body accepted; larger bodies get 413."""
    posted_days_back: float = Field(default=90.0, ge=0)
    """A declaration posted more than this many days before the time of scoring is refused
    (422 naming ``posted_at``): a date far in the past would pass for the sender's history."""
    posted_days_ahead: float = Field(default=2.0, ge=0)
    """A declaration posted more than this many days after the time of scoring is refused
    (422 naming ``posted_at``)."""
    max_header_bytes: int = Field(default=16_384, ge=1024)
    """Largest request head (request line and headers) ``parcelscreen serve`` reads; a larger
    one gets 431 and its connection is closed."""
    max_headers: int = Field(default=100, ge=10)
    """Most header lines in one request; more get 431 and the connection is closed."""
    header_timeout: float = Field(default=10.0, gt=0)
    """Seconds a client has to send a request's head, from opening the connection or from the
    first byte of a request on a kept-alive one; then 408 and the connection is closed."""
    body_timeout: float = Field(default=30.0, gt=0)
    """Seconds a client has to send a request's body once its head has arrived; then the
    connection is closed."""
    keep_alive_timeout: int = Field(default=5, ge=1)
    """Seconds an idle kept-alive connection stays open (uvicorn's ``timeout_keep_alive``)."""
    max_concurrency: int = Field(default=1000, ge=1)
    """Connections and requests in progress per worker process past which a new request gets
    503 (uvicorn's ``limit_concurrency``)."""
    retention_days: float = Field(default=365.0, gt=0)
    """Decision-log records older than this are removed by ``parcelscreen audit prune``."""
    parcel_retention_days: float = Field(default=365.0, gt=0)
    """Scored parcels never inspected (their results, explanations, the officer view's
    pseudonymised copies and feedback) older than this are removed by ``parcelscreen state
    prune``."""
    labelled_retention_days: float = Field(default=1825.0, gt=0)
    """Inspected parcels and their outcomes (the training labels) older than this are removed
    by ``parcelscreen state prune``."""
    history_retention_days: float = Field(default=730.0, gt=0)
    """Entities (pseudonymised senders, recipients, addresses) with no parcel for this long,
    their partner links, and the item links of parcels posted before it, are removed by
    ``parcelscreen history prune``: such an entity counts as new when it comes back."""
    history_backend: Literal["sqlite", "postgres", "redis"] = "sqlite"
    """Where entity history lives: embedded SQLite, or a store shared by several replicas."""
    postgres_url: str = "postgresql://postgres@127.0.0.1:5432/test"
    """PostgreSQL connection URL (history_backend=postgres)."""
    postgres_schema: str = Field(default="parcelscreen", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    """PostgreSQL schema of the history tables."""
    redis_url: str = "redis://127.0.0.1:6379/0"
    """Redis URL (history_backend=redis)."""
    redis_prefix: str = "parcelscreen:"
    """Prefix of every Redis key the service writes."""
    officer_session_minutes: float = Field(default=480.0, gt=0, le=7 * 24 * 60)
    """Lifetime of an officer view sign-in session (minutes)."""
    officer_secure_cookie: bool = False
    """Mark the session cookie Secure (always on outside development; needs HTTPS)."""
    officer_timezone: str = "UTC"
    """IANA time zone the officer view shows times in (e.g. Europe/Amsterdam); each time says
    its zone."""
    officer_page_size: int = Field(default=50, ge=5, le=500)
    """Parcels per page of the officer queue."""
    four_eyes: bool = False
    """Overturning a seizure (a correction of a seized outcome to any other) needs a second
    officer: the correction is stored as pending, and counts nowhere (history, queue, export)
    until an officer other than the one who asked approves it (``POST
    /v1/outcomes/{outcome_id}:approve`` or the parcel page). Off: a reason is enough."""
    workers: int = Field(default=1, ge=1, le=64)
    """Worker processes ``parcelscreen serve`` starts (one per core is typical). They share
    the state, audit and history stores, the halt switch and the metrics."""
    forwarded_allow_ips: str = ""
    """Addresses of the reverse proxies trusted to name the client in ``X-Forwarded-For``
    (comma-separated IPs or networks, as uvicorn reads them; ``*``: any). Empty: none, and the
    client is the connection's peer, which is what the sign-in throttle and
    ``metrics_networks`` see. Set it to the proxy's address when the service runs behind one."""
    metrics_networks: Annotated[str, AfterValidator(_networks)] = ""
    """Client networks (comma-separated, e.g. ``10.0.5.0/24``) whose requests may read
    ``/metrics`` without a key: a Prometheus server's. Empty: every request needs a key, of
    any role (``parcelscreen keys create --role monitor`` makes one that may do nothing else)."""
    metrics_dir: Path | None = None
    """Directory of the worker processes' metric files (prometheus_client's multiprocess mode;
    default: a folder of the shared-memory tmpfs ``/dev/shm`` named after the record database,
    else data_dir/metrics). Not on the record database's disk: the files are memory-mapped,
    and a full disk would kill a worker with SIGBUS instead of answering 503."""
    explain: Literal["flagged", "all"] = "flagged"
    """Which score answers carry SHAP reasons: parcels that are not a plain pass, or all."""
    shadow_alias: str = "challenger"
    """Registry alias of the model that scores in shadow (no effect on decisions)."""
    shadow_check_seconds: float = Field(default=10.0, ge=0)
    """How often the shadow alias is checked for a new model."""

    @model_validator(mode="after")
    def _no_separate_stores(self) -> Settings:
        import os

        for name in ("PARCELSCREEN_AUDIT_DB", "PARCELSCREEN_HISTORY_DB"):
            if os.environ.get(name):
                raise ValueError(
                    f"{name} is no longer used: the decision log and the entity history are "
                    "tables of the record database (PARCELSCREEN_STATE_DB), so that a decision "
                    "commits as one transaction; unset it and run `parcelscreen db upgrade` "
                    "to merge an older separate file"
                )
        return self

    @model_validator(mode="after")
    def _database_named(self) -> Settings:
        """A URL that names no database would reach libpq's defaults (the OS user's own
        database): a record made where nobody looks for it."""
        if self.database_url:
            from urllib.parse import parse_qs, urlsplit

            parts = urlsplit(self.database_url)
            if not parts.path.strip("/") and not parse_qs(parts.query).get("dbname"):
                raise ValueError(
                    "PARCELSCREEN_DATABASE_URL names no database "
                    "(postgresql://USER@HOST:PORT/DATABASE): libpq would pick one by default"
                )
        return self

    @model_validator(mode="after")
    def _known_timezone(self) -> Settings:
        try:
            ZoneInfo(self.officer_timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"PARCELSCREEN_OFFICER_TIMEZONE: unknown time zone "
                f"{self.officer_timezone!r} (an IANA name such as "
                "Europe/Amsterdam)"
            ) from None
        return self

    @model_validator(mode="after")
    def _loopback_with_default_keys(self) -> Settings:
        if self.development_keys and self.host not in LOOPBACK:  # the default keys are public
            raise ValueError(
                f"PARCELSCREEN_HOST={self.host} is not a loopback address: with the default "
                "PARCELSCREEN_SECRET_KEY or PARCELSCREEN_PSEUDONYMISATION_KEY the service "
                "listens on loopback only (set both keys, and PARCELSCREEN_ENVIRONMENT)"
            )
        return self

    @property
    def state_path(self) -> Path:
        return self.state_db or self.data_dir / "state.sqlite"

    @property
    def record_name(self) -> str:
        """Where the record is, for messages and summaries: the PostgreSQL URL without its
        password, and the schema; or the SQLite file."""
        if not self.database_url:
            return str(self.state_path)
        from urllib.parse import urlsplit, urlunsplit

        parts = urlsplit(self.database_url)
        host = parts.netloc.rpartition("@")[2]
        user = parts.username
        netloc = f"{user}@{host}" if user else host
        url = urlunsplit((parts.scheme, netloc, parts.path, "", ""))
        return f"{url} (schema {self.database_schema})"

    @property
    def history_store(self) -> str:
        """The entity history's real backend: sqlite (a table of state.sqlite), postgresql
        (of the record there, or its own schema) or redis."""
        if self.history_backend == "sqlite":
            return "postgresql" if self.database_url else "sqlite"
        return "postgresql" if self.history_backend == "postgres" else "redis"

    @property
    def metrics_path(self) -> Path:
        """Where the workers' metric files go (``metrics_dir``, or its default)."""
        if self.metrics_dir is not None:
            return self.metrics_dir
        shm = Path("/dev/shm")
        if shm.is_dir() and os.access(shm, os.W_OK):
            name = hashlib.sha256(str(self.state_path.resolve()).encode()).hexdigest()[:16]
            return shm / f"parcelscreen-metrics-{name}"
        return self.data_dir / "metrics"

    @property
    def legacy_stores(self) -> list[Path]:
        """Separate decision-log and history files of a release before the one record
        database, still beside it (``parcelscreen db upgrade`` merges them)."""
        folder = self.state_path.parent
        return [p for p in (folder / "audit.sqlite", folder / "history.sqlite") if p.is_file()]
