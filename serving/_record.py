"""The system of record: every embedded store as tables of one SQLite database.

API keys, officer accounts, scored results, the officer copy, outcomes, the decision log and
(with ``history_backend=sqlite``) the entity history live in ``state.sqlite``, so that one
decision's history increment, result, officer copy and decision-log record are one
transaction (``docs/OPERATIONS.md``, "The system of record"). The service and every command
open it here, through its driver (:class:`screening.Database`) only.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from data_contracts import InspectionOutcome, InspectionResult
from screening import Database, History, HistoryBackend, SQLiteBackend

from ._audit import DecisionLog, Entry, input_hash, input_key
from ._health import RecordDatabase, StoreRefused, keep_anchor
from ._settings import Settings
from ._store import StateStore


class StoreMissing(ValueError):
    """A command that works on existing records found no record database (opening one would
    create an empty file and report that there was nothing to do)."""


class LegacyStores(ValueError):
    """Separate files of an older release lie beside the record database."""


def open_history(settings: Settings, db: Database | None = None) -> HistoryBackend:
    """The entity-history backend the settings name (SQLite: tables of ``db``, the record
    database, or of the file at ``settings.state_path``)."""
    if settings.history_backend == "postgres":
        from screening._history_pg import PostgresBackend

        return PostgresBackend(settings.postgres_url, settings.postgres_schema)
    if settings.history_backend == "redis":
        from screening._history_redis import RedisBackend

        return RedisBackend(settings.redis_url, settings.redis_prefix)
    return SQLiteBackend(db if db is not None else settings.state_path)


def check_not_legacy(settings: Settings) -> None:
    """Refuse to run beside an older release's separate stores (their records would be
    invisible, and new records would split from them)."""
    if settings.legacy_stores:
        names = ", ".join(str(p) for p in settings.legacy_stores)
        raise LegacyStores(f"found separate stores of an older release ({names}); run "
                           "`parcelscreen db upgrade` (with the service stopped) to merge "
                           f"them into {settings.state_path}")  # fmt: skip


class Record:
    """The record database of a deployment and the stores that are its tables."""

    def __init__(self, settings: Settings, *, background_checkpoints: bool = False,
                 must_exist: bool = False, serving: bool = False) -> None:  # fmt: skip
        """``serving``: opened by the service, which refuses a decision log behind its head
        anchor (:class:`StoreRefused`) and keeps the anchor current (``serving._health``)."""
        path: Path = settings.state_path
        if must_exist and not path.is_file():
            raise StoreMissing(f"no record database at {path} (set PARCELSCREEN_DATA_DIR or "
                               "PARCELSCREEN_STATE_DB to the service's)")  # fmt: skip
        check_not_legacy(settings)
        self.settings = settings
        #: Watched: readiness reads ``db.health`` (``serving._health``).
        self.db = RecordDatabase(path, background_checkpoints=background_checkpoints,
                                 lock_timeout=settings.lock_timeout)  # fmt: skip
        self.state = StateStore(self.db)
        self.audit = DecisionLog(self.db)
        self.history_backend = open_history(settings, self.db)
        self.history = History(self.history_backend)
        #: Whether the entity history commits with the decisions (embedded SQLite).
        self.history_in_record = settings.history_backend == "sqlite"
        self._input_key = input_key(settings.pseudonymisation_key)
        if serving:
            try:
                keep_anchor(self.db, self.audit)
            except StoreRefused:
                self.close()
                raise

    def record_outcome(self, outcome: InspectionOutcome, caller: str,
                       request_id: str) -> dict[str, Any]:  # fmt: skip
        """Store an inspection outcome, link it to the item's entity history and log it: one
        transaction (the API's ``POST /v1/outcomes`` and ``parcelscreen outcomes import``)."""
        seized = outcome.result is InspectionResult.SEIZED
        clean = outcome.result is InspectionResult.CLEAN
        record = outcome.model_dump(mode="json")
        with self.db.transaction():
            linked = self.history.record_outcome(outcome.item_id, seized, clean)
            self.state.put_outcome(outcome.item_id, record["recorded_at"],
                                   datetime.now(UTC).isoformat(), request_id, caller, linked,
                                   record)  # fmt: skip
            self.audit.append(Entry(
                "outcome", request_id=request_id, caller=caller, item_id=outcome.item_id,
                input_hash=input_hash(record, self._input_key),
                decision=outcome.result.value if outcome.result else "not_inspected",
                detail={"linked_to_history": linked, "inspected": outcome.inspected,
                        "selection_reason": record["selection_reason"]},
            ))  # fmt: skip
        return {"item_id": outcome.item_id, "stored": True, "linked_to_history": linked,
                "request_id": request_id}  # fmt: skip

    def close(self) -> None:
        close = getattr(self.history_backend, "close", None)
        if close is not None and not self.history_in_record:
            close()
        self.db.close()
