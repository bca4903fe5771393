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
from screening import Database, History, HistoryBackend, SQLiteBackend, shared_history_backend

from ._audit import DecisionLog, Entry, input_hash, input_key
from ._errors import Forbidden, NotFound, OutcomeConflict, OutcomeUnchanged
from ._health import PostgresRecordDatabase, RecordDatabase, StoreRefused, keep_anchor
from ._migrations import check_version
from ._settings import Settings
from ._store import EFFECTIVE, PENDING, OutcomeRow, StateStore


class StoreMissing(ValueError):
    """A command that works on existing records found no record database (opening one would
    create an empty file and report that there was nothing to do)."""


class LegacyStores(ValueError):
    """Separate files of an older release lie beside the record database."""


def open_history(settings: Settings, db: Database | None = None) -> HistoryBackend:
    """The entity-history backend the settings name (SQLite: tables of ``db``, the record
    database, or of the file at ``settings.state_path``)."""
    if settings.history_backend == "postgres":
        return shared_history_backend("postgres", settings.postgres_url, settings.postgres_schema)
    if settings.history_backend == "redis":
        return shared_history_backend("redis", settings.redis_url, settings.redis_prefix)
    return SQLiteBackend(db if db is not None else settings.state_path)


def check_not_legacy(settings: Settings) -> None:
    """Refuse to run beside an older release's separate stores (their records would be
    invisible, and new records would split from them)."""
    if settings.legacy_stores:
        names = ", ".join(str(p) for p in settings.legacy_stores)
        raise LegacyStores(
            f"found separate stores of an older release ({names}); run "
            "`parcelscreen db upgrade` (with the service stopped) to merge "
            f"them into {settings.state_path}"
        )


def open_record_database(
    settings: Settings, background_checkpoints: bool = False, must_exist: bool = False
) -> RecordDatabase | PostgresRecordDatabase:
    """The record database the settings name: PostgreSQL (``database_url``, at the schema
    version this release knows, else :class:`SchemaMismatch`) or ``state.sqlite``."""
    path: Path = settings.state_path
    if settings.database_url:
        pg = PostgresRecordDatabase(
            settings.database_url, settings.database_schema, path, settings.lock_timeout
        )
        try:
            check_version(pg)
        except BaseException:
            pg.close()
            raise
        return pg
    if must_exist and not path.is_file():
        raise StoreMissing(
            f"no record database at {path} (set PARCELSCREEN_DATA_DIR or "
            "PARCELSCREEN_STATE_DB to the service's)"
        )
    check_not_legacy(settings)
    return RecordDatabase(
        path, background_checkpoints=background_checkpoints, lock_timeout=settings.lock_timeout
    )


class Record:
    """The record database of a deployment and the stores that are its tables."""

    def __init__(
        self,
        settings: Settings,
        *,
        background_checkpoints: bool = False,
        must_exist: bool = False,
        serving: bool = False,
    ) -> None:
        """``serving``: opened by the service, which refuses a decision log behind its head
        anchor (:class:`StoreRefused`) and keeps the anchor current (``serving._health``)."""
        self.settings = settings
        #: Watched: readiness reads ``db.health`` (``serving._health``).
        self.db = open_record_database(settings, background_checkpoints, must_exist)
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

    def record_outcome(
        self, outcome: InspectionOutcome, caller: str, request_id: str
    ) -> dict[str, Any]:
        """Store an inspection outcome, count it in the item's entity history and log it: one
        transaction (the API's ``POST /v1/outcomes``, the officer's form and ``parcelscreen
        outcomes import``).

        Outcomes are append-only. An item's first outcome is linked to its history; any later
        one is a correction, which must name the item's current outcome (``corrects``) and
        give a reason, and then moves the history's counts from the old result to the new.
        Overturning a seizure with ``four_eyes`` on leaves the correction pending (counted
        nowhere) until another officer approves it (:meth:`approve_outcome`). A second
        outcome without ``corrects``, or a correction of an outcome that is not the item's
        current one, is refused (:class:`OutcomeConflict`, naming the current one), and so is
        a correction that changes nothing of what it corrects (:class:`OutcomeUnchanged`). The same
        record sent again with the same request ID is answered from the record.
        """
        record = outcome.model_dump(mode="json")
        item = outcome.item_id
        seized = outcome.result is InspectionResult.SEIZED
        clean = outcome.result is InspectionResult.CLEAN
        with self.db.transaction():
            again = self.state.outcome_of_request(item, request_id)
            if again is not None and again.record == record:
                return _answer(again, request_id)  # a retry of a stored request
            current = self.state.current_outcome(item)
            if outcome.corrects is None and current is not None:
                raise OutcomeConflict(
                    f"item {item} already has an outcome (outcome_id {current.id}: "
                    f"{current.result}, recorded {current.recorded_at}); outcomes are "
                    "append-only: to correct it, send the corrected outcome with "
                    f'"corrects": {current.id} and a "correction_reason"',
                    _current(current),
                )
            overturn = pending = False
            if outcome.corrects is None:
                kind = "outcome"
                linked = self.history.record_outcome(item, seized, clean)
            else:
                _check_corrects(item, outcome.corrects, current)
                assert current is not None  # _check_corrects refuses a correction of nothing
                _check_changes(item, record, current)
                overturn = current.result == "seized" and not seized
                pending = overturn and self.settings.four_eyes
                kind = "outcome_correction_pending" if pending else "outcome_correction"
                linked = not pending and self.history.correct_outcome(
                    item, seized, clean, was=self._counted(item, current)
                )
            outcome_id = self.state.put_outcome(
                item,
                record["recorded_at"],
                _now(),
                request_id,
                caller,
                linked,
                record,
                outcome.corrects,
                PENDING if pending else EFFECTIVE,
            )
            correction = (
                {}
                if outcome.corrects is None
                else {
                    "corrects": outcome.corrects,
                    "correction_reason": outcome.correction_reason,
                    "overturns_seizure": overturn,
                    "effective": not pending,
                }
            )
            self.audit.append(
                Entry(
                    kind,
                    request_id=request_id,
                    caller=caller,
                    item_id=item,
                    input_hash=input_hash(record, self._input_key),
                    decision=outcome.result.value if outcome.result else "not_inspected",
                    detail={
                        "outcome_id": outcome_id,
                        "linked_to_history": linked,
                        "inspected": outcome.inspected,
                        "selection_reason": record["selection_reason"],
                    }
                    | correction,
                )
            )
            stored = self.state.outcome(outcome_id)
        assert stored is not None
        return _answer(stored, request_id)

    def approve_outcome(
        self, outcome_id: int, caller: str, request_id: str, officer_ref: str | None = None
    ) -> dict[str, Any]:
        """Approve a pending correction (four eyes): it becomes the item's outcome, the
        history's counts follow, and the approval is logged; one transaction. Refused to the
        officer who asked (same caller, or same officer reference), and once the outcome it
        corrects is no longer the item's current one."""
        with self.db.transaction():
            row = self.state.outcome(outcome_id)
            if row is None:
                raise NotFound(f"no outcome {outcome_id}")
            if row.state != PENDING:
                raise OutcomeConflict(
                    f"outcome {outcome_id} is not waiting for approval (it is {row.state})"
                )
            asked_by = row.record.get("officer_ref")
            if caller == row.caller or (officer_ref and officer_ref == asked_by):
                raise Forbidden(
                    f"outcome {outcome_id}: the officer who asked for a correction "
                    "cannot approve it (four eyes); another officer must"
                )
            current = self.state.current_outcome(row.item_id)
            assert row.corrects is not None  # only corrections wait for approval
            _check_corrects(row.item_id, row.corrects, current)
            assert current is not None
            was = self._counted(row.item_id, current)
            linked = self.history.correct_outcome(row.item_id, *row.counts, was=was)
            self.state.approve_outcome(outcome_id, caller, _now(), request_id, linked)
            self.audit.append(
                Entry(
                    "outcome_correction_approved",
                    request_id=request_id,
                    caller=caller,
                    item_id=row.item_id,
                    decision=row.result,
                    detail={
                        "outcome_id": outcome_id,
                        "corrects": row.corrects,
                        "asked_by": row.caller,
                        "linked_to_history": linked,
                    },
                )
            )
            approved = self.state.outcome(outcome_id)
        assert approved is not None
        return _answer(approved, request_id)

    def _counted(self, item_id: str, current: OutcomeRow) -> tuple[bool, bool]:
        """What the history counts for an item that it linked before it kept the kind."""
        counted = self.state.counted_outcome(item_id) or current
        return counted.counts

    def close(self) -> None:
        self.history_backend.close()  # tables of the record database: closes nothing
        self.db.close()


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _current(row: OutcomeRow) -> dict[str, Any]:
    return {"outcome_id": row.id, "result": row.result, "recorded_at": row.recorded_at}


def _check_corrects(item_id: str, corrects: int, current: OutcomeRow | None) -> None:
    """Refuse a correction that does not name the item's current outcome."""
    if current is None:
        raise OutcomeConflict(
            f"item {item_id} has no outcome to correct; send its first "
            "outcome without corrects and correction_reason"
        )
    if corrects != current.id:
        raise OutcomeConflict(
            f"outcome {corrects} is not the current outcome of item {item_id}: that is "
            f"outcome_id {current.id} ({current.result}, recorded {current.recorded_at}); a "
            f'correction names it: "corrects": {current.id}',
            _current(current),
        )


#: What an outcome says; a correction must change at least one of these (the rest, such as
#: ``recorded_at`` and ``officer_ref``, says who recorded it and when).
_SUBSTANCE = ("inspected", "result", "substance", "quantity_g", "selection_reason")


def _check_changes(item_id: str, record: dict[str, Any], current: OutcomeRow) -> None:
    """Refuse a correction that says what the current outcome says already (it would add a
    record, and a decision-log entry, that corrects nothing)."""
    if any(_said(record.get(k)) != _said(current.record.get(k)) for k in _SUBSTANCE):
        return
    said = current.result.replace("not_inspected", "released without inspection")
    stored = current.record  # what is on record, not how the correction spelt it
    found = [f"{k} {stored[k]}" for k in ("substance", "quantity_g") if stored.get(k)]
    raise OutcomeUnchanged(
        f"item {item_id} is already recorded as {said}"
        + (f" ({', '.join(found)})" if found else "")
        + f" (outcome_id {current.id}, recorded {current.recorded_at}); a correction must "
        "change the outcome (inspected, result, substance, quantity_g or selection_reason): "
        "nothing was recorded",
        _current(current),
    )


def _said(value: Any) -> Any:
    """A value as a correction compares it: text without case or surrounding blanks (the
    officer's pick-list writes "Cocaine" where a client may send "cocaine")."""
    return value.strip().casefold() if isinstance(value, str) else value


def _answer(row: OutcomeRow, request_id: str) -> dict[str, Any]:
    return {
        "item_id": row.item_id,
        "stored": True,
        "outcome_id": row.id,
        "effective": row.state == EFFECTIVE,
        "corrects": row.corrects,
        "linked_to_history": row.linked,
        "request_id": request_id,
    }
