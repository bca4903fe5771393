"""Entity history in PostgreSQL, for several service replicas sharing one store.

Same SQL as the SQLite backend (``%s`` parameters, psycopg 3). Each ``History`` update runs in
one transaction holding a transaction-level advisory lock, so read-modify-write updates from
several replicas are serialised. Tables live in their own schema; only pseudonymised tokens.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from .._store_support import Reentrant
from ._sql import _SCHEMA, _SqlBackend

_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class PostgresBackend(_SqlBackend):
    """History tables in schema ``schema`` of the database at ``url``."""

    _p = "%s"

    def __init__(self, url: str, schema: str = "parcelscreen") -> None:
        import psycopg

        if not _SCHEMA_NAME.fullmatch(schema):
            raise ValueError(f"schema name {schema!r} must be lower-case letters, digits, _")
        self.schema = schema
        self._conn = psycopg.connect(url, autocommit=True)
        self._lock = threading.RLock()
        self._nesting = Reentrant()
        digest = hashlib.sha256(f"parcelscreen-history:{schema}".encode()).digest()
        self._lock_key = int.from_bytes(digest[:8], "big", signed=True)
        self._conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        self._conn.execute(f'SET search_path TO "{schema}"')
        with self.transaction():
            for statement in _SCHEMA:
                self._conn.execute(statement)
            self._conn.execute(  # a schema from before items had a posting time
                "ALTER TABLE history_item ADD COLUMN IF NOT EXISTS posted_us BIGINT"
            )

    def _execute(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            cursor = self._conn.execute(sql, params)
            return cursor.fetchall() if cursor.description else []

    def _executemany(self, sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
        with self._lock, self._conn.cursor() as cursor:
            cursor.executemany(sql, rows)

    @contextmanager
    def transaction(self) -> Iterator[object]:
        with self._lock, self._nesting(self._outer):
            yield self

    @contextmanager
    def _outer(self) -> Iterator[None]:
        with self._conn.transaction():
            self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (self._lock_key,))
            yield

    def drop(self) -> None:
        """Remove the schema and everything in it (tests, decommissioning)."""
        with self._lock:
            self._conn.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')

    def close(self) -> None:
        with self._lock:
            self._conn.close()
