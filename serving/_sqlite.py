"""A small SQLite wrapper shared by the service's embedded stores (one locked connection).

A write that fails because the file is locked, full, read-only or unreadable raises
:class:`StoreUnavailable` (503) naming the file; the failed statement or transaction is rolled
back, so nothing half-written stays behind and the connection stays usable.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from screening import connect_sqlite
from screening._store_support import Reentrant, WriterLock, close_store

from ._errors import StoreUnavailable

#: SQLite primary result codes of a store that cannot be written now (not of a bug in SQL):
#: BUSY, LOCKED, READONLY, IOERR, CORRUPT, FULL, CANTOPEN.
_UNAVAILABLE = {5, 6, 8, 10, 11, 13, 14}


class Database:
    """One SQLite connection in autocommit mode, WAL journal, guarded by a re-entrant lock."""

    def __init__(self, path: Path | str, schema: Sequence[str] = (),
                 background_checkpoints: bool = False) -> None:  # fmt: skip
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._background = background_checkpoints
        self._conn = connect_sqlite(path, background_checkpoints)
        self.lock = threading.RLock()
        self._writer = WriterLock(path)
        self._nesting = Reentrant()
        for statement in schema:
            self._conn.execute(statement)

    def _unavailable(self, exc: sqlite3.Error) -> StoreUnavailable | None:
        code = getattr(exc, "sqlite_errorcode", None)
        if not isinstance(exc, sqlite3.OperationalError) or code is None:
            return None
        if code & 0xFF not in _UNAVAILABLE:
            return None
        return StoreUnavailable(f"the store {self.path.name} cannot be written now ({exc}); "
                                "the request was not answered: retry it later (stores "
                                "written before this one may hold part of it)")  # fmt: skip

    def execute(self, sql: str,
                params: Sequence[Any] | Mapping[str, Any] = ()) -> list[tuple[Any, ...]]:
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
        with self._writer:  # writers of other processes queue here, not in busy sleeps
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

    def _rollback(self) -> None:
        if self._conn.in_transaction:
            self._conn.execute("ROLLBACK")

    def close(self) -> None:
        with self.lock:
            close_store(self._conn, self.path, self._background)
            self._writer.close()
