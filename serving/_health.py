"""Whether the record database is fit to serve: what ``/v2/health/ready`` reports.

:class:`RecordDatabase` is the record database's driver with a watch on it
(:class:`StoreHealth`): every outermost write transaction first checks that the file at the
path is still the one the service opened (``os.stat``: device and inode; SQLite goes on
writing to a deleted or replaced file, whose records are then lost) and notes whether it
committed. The store is unfit to serve while

* its file was deleted or replaced since it was opened (until a restart; writes answer 503);
* SQLite said the file is damaged (``SQLITE_CORRUPT``, ``SQLITE_NOTADB``, text that is not
  UTF-8), until a restart after a repair (writes answer 503: nothing more is appended to a
  damaged log);
* the last write transaction failed (full, read-only, busy past the wait) and none has
  committed since: a readiness check then tries a small write of its own (a probe, at most
  once a second), and the store is fit again as soon as a write commits.

:class:`AnchorKeeper` keeps the decision log's head anchor (``state.sqlite.head``, see
``serving._audit``) current from a background thread, once a second, and once more when the
service stops. :func:`check_at_start` is ``parcelscreen serve``'s start-up check.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from screening import Database, PostgresDatabase, StoreUnavailable, store_damaged

from ._audit import DecisionLog

if TYPE_CHECKING:
    from ._settings import Settings

log = logging.getLogger("serving")

#: The probe's table: a readiness check writes (and deletes) a row of 64 KiB in it.
PROBE_SCHEMA = "CREATE TABLE IF NOT EXISTS health_probe (id INTEGER PRIMARY KEY, pad BLOB)"
#: Least seconds between two probes, and between two writes of the head anchor.
INTERVAL = 1.0


class StoreRefused(ValueError):
    """The record database fails a start-up check (damaged, or its decision log is behind its
    head anchor); the service does not start on it."""


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)  # opens nothing
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


class StoreHealth:
    """The record database's fitness to serve (see the module docstring)."""

    def __init__(self, path: Path, watch_file: bool = True) -> None:
        self.path = path
        self.watch_file = watch_file
        #: Device and inode of the file when it was opened.
        self.opened = _identity(path) if watch_file else None
        self.damaged: str | None = None
        self._failed: str | None = None  # the last write's error, until a write commits
        self._probed = 0.0
        self._probing = threading.Lock()
        #: The clock of the probe's interval (seconds; a test may put in one it moves).
        self.clock: Callable[[], float] = time.monotonic
        #: Log changes of health (a serving process; commands report errors themselves).
        self.logs = False
        #: The database written to (set once it is open).
        self.db: Database | None = None

    def file_problem(self) -> str | None:
        """Why the file at the path is no longer the one opened, or None."""
        if not self.watch_file:
            return None
        now = _identity(self.path)
        if now == self.opened:
            return None
        what = "deleted" if now is None else "replaced by another file"
        return (
            f"the record database {self.path} was {what} after the service opened it; "
            "what the service writes now would be lost: restart the service"
        )

    def saw(self, exc: StoreUnavailable) -> None:
        """Note an error of the store: one of a damaged file stays until a restart."""
        if self.damaged is None and store_damaged(exc.__cause__ or exc):
            self.damaged = (
                f"the record database {self.path} is damaged ({exc.__cause__}): "
                "repair or restore it (`parcelscreen state check`), then restart "
                "the service"
            )
            if self.logs:
                log.error("%s", self.damaged)

    def wrote(self, error: StoreUnavailable | None) -> None:
        """Note how a write transaction ended (None: it committed)."""
        if error is None:
            self._failed = None
            return
        self.saw(error)
        if self._failed is None and self.logs:
            log.warning("the record database cannot be written: %s", error.message)
        self._failed = error.message

    def refusal(self) -> StoreUnavailable | None:
        """Why no write may start now (file gone or replaced, or damaged), or None."""
        problem = self.file_problem() or self.damaged
        return (
            None
            if problem is None
            else StoreUnavailable(f"{problem}; nothing of the request was recorded")
        )

    def problem(self) -> str | None:
        """Why the service is not ready for traffic, or None. May write a probe (at most once
        a second, never two at a time): call it off the event loop."""
        refused = self.refusal()
        if refused is not None:
            return refused.message
        if self._failed is None:
            return None
        if self.clock() - self._probed >= INTERVAL and self._probing.acquire(False):
            try:
                self._probed = self.clock()
                self._probe()
            except StoreUnavailable:
                pass  # noted by the transaction
            finally:
                self._probing.release()
        return (
            None
            if self._failed is None
            else (f"the record database cannot be written: {self._failed}")
        )

    def _probe(self) -> None:
        assert self.db is not None
        with self.db.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO health_probe (id, pad) VALUES (1, zeroblob(?))", (65536,)
            )
            db.execute("DELETE FROM health_probe WHERE id = 1")


class WatchedDatabase(Database):
    """A record database's driver watched by :class:`StoreHealth` (``self.health``)."""

    keeper: AnchorKeeper | None
    health: StoreHealth

    def execute(
        self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()
    ) -> list[tuple[Any, ...]]:
        try:
            return super().execute(sql, params)
        except StoreUnavailable as exc:
            health = getattr(self, "health", None)  # None while the schema is being made
            if health is not None:
                health.saw(exc)
            raise
        except sqlite3.Error as exc:  # of the SQL, unless the file is no longer the one opened
            health = getattr(self, "health", None)
            moved = None if health is None else health.file_problem()
            if moved is None:
                raise
            raise StoreUnavailable(f"{moved}; nothing of the request was recorded") from exc

    @contextmanager
    def transaction(self) -> Iterator[Database]:
        health = self.health
        with self.lock:
            if self.in_transaction:  # joins the outer one, which is checked and noted
                with super().transaction() as db:
                    yield db
                return
            refused = health.refusal()
            if refused is not None:
                raise refused
            try:
                with super().transaction() as db:
                    yield db
            except StoreUnavailable as exc:
                health.wrote(exc)
                raise
            health.wrote(None)

    def close(self) -> None:
        if self.keeper is not None:
            self.keeper.stop()
        super().close()


class RecordDatabase(WatchedDatabase):
    """:class:`screening.Database` of the record database, watched by :class:`StoreHealth`."""

    def __init__(
        self, path: Path | str, background_checkpoints: bool = False, lock_timeout: float = 5.0
    ) -> None:
        self.keeper = None
        super().__init__(path, (PROBE_SCHEMA,), background_checkpoints, lock_timeout)
        #: Readiness of this database (``/v2/health/ready``).
        self.health = StoreHealth(self.path)
        self.health.db = self


class PostgresRecordDatabase(WatchedDatabase, PostgresDatabase):
    """The record in PostgreSQL (:class:`screening.PostgresDatabase`), watched by
    :class:`StoreHealth` (no file to watch: a failed write and its probe only)."""

    def __init__(self, url: str, schema: str, path: Path | str, lock_timeout: float = 5.0) -> None:
        self.keeper = None
        PostgresDatabase.__init__(self, url, schema, path, lock_timeout)
        self.health = StoreHealth(self.path, watch_file=False)
        self.health.db = self


class AnchorKeeper:
    """Writes the decision log's head anchor every ``interval`` seconds while the head moves,
    and once more at :meth:`stop`; never while the file was deleted or replaced, nor over an
    anchor that the log does not extend (``DecisionLog.write_anchor`` refuses)."""

    def __init__(self, audit: DecisionLog, health: StoreHealth, interval: float = INTERVAL) -> None:
        self.audit, self.health, self.interval = audit, health, interval
        self._stop = threading.Event()
        self._warned = False
        self._thread = threading.Thread(target=self._run, name="decision-log-anchor", daemon=True)
        self._thread.start()

    def keep(self) -> None:
        """One write of the anchor, if it is due (errors are logged once, not raised)."""
        if self.health.file_problem() is not None or self.health.damaged is not None:
            return
        try:
            self.audit.write_anchor()
            self._warned = False
        except (OSError, StoreUnavailable) as exc:
            if not self._warned:
                log.warning("the decision log's head anchor was not written: %s", exc)
                self._warned = True

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.keep()

    def stop(self) -> None:
        if not self._stop.is_set():
            self._stop.set()
            self._thread.join(timeout=10)
            self.keep()


def keep_anchor(db: WatchedDatabase, audit: DecisionLog) -> None:
    """What a serving process does at start: refuse a decision log that is behind its head
    anchor (records lost), then keep the anchor current."""
    problem = audit.anchor_problem()
    if problem is not None:
        raise StoreRefused(
            f"refusing to start on {db.path}: {problem}. If that is intended (a restore from a "
            "backup), record it with `parcelscreen audit reanchor --reason TEXT` and start "
            "again"
        )
    db.health.logs = True
    db.keeper = AnchorKeeper(audit, db.health)


def quick_check(db: Database) -> list[str]:
    """SQLite's ``PRAGMA quick_check`` of a database: ``["ok"]``, or what is damaged (the
    pragma itself fails on some damage: that is named too)."""
    try:
        return [str(row[0]) for row in db.execute("PRAGMA quick_check")]
    except StoreUnavailable as exc:
        if exc.__cause__ is not None and store_damaged(exc.__cause__):
            return [str(exc.__cause__)]
        raise


def _refusal(path: Path, problem: str) -> StoreRefused:
    return StoreRefused(
        f"refusing to start: the record database {path} fails SQLite's integrity check "
        f"(PRAGMA quick_check: {problem}); restore it from a backup, or recover what can be "
        "read into a new file (sqlite3's .recover), then start again"
    )


def check_at_start(settings: Settings) -> None:
    """``parcelscreen serve``'s start-up check of the record database, once for every
    worker: SQLite's ``PRAGMA quick_check`` and the decision log against its head anchor.
    Raises :class:`StoreRefused` naming the file and the problem."""
    from ._migrations import SchemaMismatch
    from ._record import Record

    path = settings.state_path
    try:
        record = Record(settings)
    except SchemaMismatch as exc:  # PostgreSQL: a schema this release does not know
        raise StoreRefused(f"refusing to start: {exc}") from None
    except StoreUnavailable as exc:
        if exc.__cause__ is not None and store_damaged(exc.__cause__):
            raise _refusal(path, str(exc.__cause__)) from None
        raise StoreRefused(f"refusing to start on {path}: {exc.message}") from None
    try:
        lines = quick_check(record.db)
        if lines != ["ok"]:
            raise _refusal(path, "; ".join(lines[:5]))
        problem = record.audit.anchor_problem()
        if problem is not None:
            raise StoreRefused(
                f"refusing to start on {path}: {problem}. If that is intended (a restore "
                "from a backup), record it with `parcelscreen audit reanchor --reason TEXT` "
                "and start again"
            )
    except StoreUnavailable as exc:
        raise StoreRefused(f"refusing to start on {path}: {exc.message}") from None
    finally:
        record.close()
