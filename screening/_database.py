"""The system of record's SQLite database: one connection, explicit transactions, bounded
writer waits, durable commits.

Every store of the embedded deployment (API keys, accounts, scored results, the officer
copy, outcomes, the decision log and the entity history) is a set of tables in this one
file, so that a decision's history increment, result, officer copy and decision-log record
are committed together or not at all (``docs/OPERATIONS.md``, "The system of record").

Guarantees, each held by a test (``tests/screening/test_database.py``):

- **Acknowledged means durable.** ``synchronous=FULL``: a COMMIT returns only after the WAL
  is synced to stable storage, so an answer sent after it survives a crash or power cut.
- **Bounded waits.** Writers of all processes queue on an exclusive ``flock`` of a side file
  (``<db>.lock``, never the database or its WAL: a descriptor of those opened and closed
  outside SQLite would cancel SQLite's POSIX locks). A writer that cannot get it within
  ``lock_timeout`` seconds raises :class:`StoreUnavailable` (503, retry later) and has
  written nothing.
- **All or nothing.** A failed statement or COMMIT (locked, full, read-only, corrupt) rolls
  the whole transaction back and raises :class:`StoreUnavailable` naming the file.

No code outside SQLite opens the database or its ``-wal``/``-shm`` files.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from ._errors import StoreUnavailable
from ._store_support import CHECKPOINTER, LockTimeout, Reentrant, WriterLock, close_store

#: SQLite primary result codes of a store that cannot be written now (its medium, its file or
#: another process, not a bug in our SQL): PERM, BUSY, LOCKED, NOMEM, READONLY, IOERR,
#: CORRUPT, FULL, CANTOPEN, PROTOCOL, NOLFS, NOTADB.
_UNAVAILABLE = {3, 5, 6, 7, 8, 10, 11, 13, 14, 15, 22, 26}
#: Of those, the codes of a damaged file: CORRUPT, NOTADB (it will not heal by itself).
_DAMAGED = {11, 26}
#: Default longest wait for the writer lock, in seconds.
LOCK_TIMEOUT = 5.0


def connect_sqlite(
    path: Path | str,
    background_checkpoints: bool = False,
    page_size: int | None = None,
    synchronous: str = "FULL",
    busy_timeout: float = LOCK_TIMEOUT,
) -> sqlite3.Connection:
    """A SQLite connection as every store here uses it: autocommit (transactions are
    explicit), WAL journal, a bounded busy wait, shareable across threads behind a lock.

    ``synchronous``: ``FULL`` (the default) syncs the WAL at every commit, so a committed
    transaction survives a power cut; ``NORMAL`` only for scratch copies (a batch run's
    history snapshot), which can be rebuilt.

    ``page_size``: for a new, empty file only (an existing file keeps its own).

    ``background_checkpoints``: the WAL is checkpointed by :data:`CHECKPOINTER`'s thread, not
    inside this connection's commits (close such a connection with :func:`close_store`).
    """
    conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
    if page_size is not None:
        conn.execute(f"PRAGMA page_size={int(page_size)}")  # before WAL fixes it
    conn.execute("PRAGMA journal_mode=WAL")
    if synchronous not in ("FULL", "NORMAL"):
        raise ValueError(f"synchronous must be FULL or NORMAL, not {synchronous!r}")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
    if background_checkpoints:
        conn.execute("PRAGMA wal_autocheckpoint=0")
        CHECKPOINTER.register(path)
    return conn


def store_damaged(exc: BaseException) -> bool:
    """Whether a SQLite error says the file is damaged: SQLITE_CORRUPT or SQLITE_NOTADB, or
    text that is not UTF-8 (garbage in a page that still parses: Python writes only UTF-8)."""
    if not isinstance(exc, sqlite3.Error):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in _DAMAGED
    return str(exc).startswith("Could not decode to UTF-8")


class Database:
    """One SQLite connection in autocommit mode, WAL journal, guarded by a re-entrant lock.

    ``transaction()`` is BEGIN IMMEDIATE ... COMMIT under the cross-process writer lock;
    nested calls join the outer transaction, so a caller can make several stores' writes
    (each of which opens its own transaction when called alone) one commit.
    """

    def __init__(
        self,
        path: Path | str,
        schema: Sequence[str] = (),
        background_checkpoints: bool = False,
        lock_timeout: float = LOCK_TIMEOUT,
        synchronous: str = "FULL",
        page_size: int | None = None,
    ) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.lock_timeout = lock_timeout
        self._background = background_checkpoints
        try:
            self._conn = connect_sqlite(
                path, background_checkpoints, page_size, synchronous, lock_timeout
            )
        except sqlite3.Error as exc:
            raise self._unavailable(exc) or exc from exc
        self.lock = threading.RLock()
        self._writer = WriterLock(path, lock_timeout)
        self._nesting = Reentrant()
        for statement in schema:
            self.execute(statement)

    def _unavailable(self, exc: sqlite3.Error) -> StoreUnavailable | None:
        """The 503 of an error of the store itself (see :func:`store_damaged` for a damaged
        file), or None for an error of the SQL (a bug: it stays an error)."""
        if store_damaged(exc) or str(exc).startswith("malformed JSON"):
            # the second: a value read by SQL's JSON functions that is not the JSON written
            return StoreUnavailable(
                f"the store {self.path.name} is damaged ({exc}); nothing of the request was "
                "recorded: retry it later (the operator: `parcelscreen state check`)"
            )
        code = getattr(exc, "sqlite_errorcode", None)
        if not isinstance(exc, sqlite3.OperationalError | sqlite3.DatabaseError) or code is None:
            return None
        if code & 0xFF not in _UNAVAILABLE:
            return None
        return StoreUnavailable(
            f"the store {self.path.name} cannot be written now ({exc}); "
            "nothing of the request was recorded: retry it later"
        )

    @property
    def in_transaction(self) -> bool:
        """Whether this connection is inside a transaction opened by :meth:`transaction`."""
        return self._nesting.depth > 0

    def execute(
        self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()
    ) -> list[tuple[Any, ...]]:
        with self.lock:
            try:
                return self._conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                unavailable = self._unavailable(exc)
                if unavailable is None:
                    raise
                raise unavailable from exc

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """One statement over many rows, all or nothing (its own transaction unless nested)."""
        with self.transaction():
            try:
                self._conn.executemany(sql, rows)
            except sqlite3.Error as exc:
                unavailable = self._unavailable(exc)
                if unavailable is None:
                    raise
                raise unavailable from exc

    @contextmanager
    def transaction(self) -> Iterator[Database]:
        """BEGIN IMMEDIATE ... COMMIT (nested calls join the outer transaction)."""
        with self.lock, self._nesting(self._immediate):
            yield self

    @contextmanager
    def _immediate(self) -> Iterator[None]:
        try:
            self._writer.acquire()
        except LockTimeout:
            raise StoreUnavailable(
                f"the store {self.path.name} is busy: another writer held it for more than "
                f"{self.lock_timeout:g} s; nothing of the request was recorded: retry it later"
            ) from None
        except OSError as exc:  # the lock file cannot be made (read-only or full file system)
            raise StoreUnavailable(
                f"the store {self.path.name} cannot be written now (its lock file: "
                f"{exc.strerror or exc}); nothing of the request was recorded: retry it later"
            ) from exc
        try:
            self.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._rollback()
                raise
            try:
                self.execute("COMMIT")
            except BaseException:
                self._rollback()  # a failed COMMIT (disk full) leaves the transaction open
                raise
        finally:
            self._writer.release()

    def _rollback(self) -> None:
        if self._conn.in_transaction:
            with suppress(sqlite3.Error):  # an I/O error may have rolled it back already
                self._conn.execute("ROLLBACK")

    def close(self) -> None:
        with self.lock:
            close_store(self._conn, self.path, self._background)
            self._writer.close()
