"""The system of record in PostgreSQL: :class:`screening.Database`'s interface for replicas.

Where ``PARCELSCREEN_DATABASE_URL`` names a PostgreSQL database, every store of the record
(keys, accounts, sessions, the halt switch, the sign-in throttle, results, the officer copy,
outcomes, the decision log, the entity history) is a table of one schema of it, shared by
every replica, through :class:`PostgresDatabase`: the same ``execute`` / ``executemany`` /
``transaction`` as the SQLite driver, with the stores' SQL translated
(:mod:`screening._dialect`).

- **One decision, one commit.** ``transaction()`` is one PostgreSQL transaction; nested calls
  join it, as with SQLite.
- **One writer at a time, across replicas.** Every write transaction first takes a
  transaction-level advisory lock of the schema (``pg_advisory_xact_lock``), released by its
  COMMIT or ROLLBACK: read-modify-write updates (the decision log's head and hash chain, the
  history's counts) are serialised exactly as under SQLite's single writer, so the chain
  stays one valid chain whatever the number of replicas.
- **Bounded waits.** ``lock_timeout`` bounds the wait for that lock (and any row lock);
  past it, and on a lost connection or a server that refuses writes, the transaction is
  rolled back and :class:`StoreUnavailable` raised (503: nothing was recorded). A lost
  connection is opened again at the next call.
- **Acknowledged means durable.** ``synchronous_commit = on``: COMMIT returns once the
  server has flushed its WAL.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ._database import LOCK_TIMEOUT, Database
from ._dialect import SKIP, Table, translate
from ._errors import StoreUnavailable
from ._store_support import Reentrant


def schema_of(url: str, schema: str) -> str:
    """Check a schema name (lower-case letters, digits, _), for quoting-free SQL."""
    import re

    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", schema):
        raise ValueError(f"schema name {schema!r} must be lower-case letters, digits and _")
    return schema


def _bool_dumper() -> type:
    from psycopg.adapt import Dumper

    class BoolAsInteger(Dumper):
        """Python's True and False as '1' and '0' of no stated type, which PostgreSQL reads
        as the integer of a flag column (the stores' flags are integers, as in SQLite) or
        as a truth value where the statement wants one (``NOT ?``)."""

        oid = 0

        def dump(self, obj: Any) -> bytes:
            return b"1" if obj else b"0"

    return BoolAsInteger


class PostgresDatabase(Database):
    """One PostgreSQL connection (autocommit outside ``transaction()``), in schema
    ``schema``, guarded by a re-entrant lock; ``path``: where files that belong beside the
    record live (the decision log's head anchor), as for SQLite."""

    dialect = "postgresql"

    def __init__(
        self,
        url: str,
        schema: str = "parcelscreen_record",
        path: Path | str = "state.postgres",
        lock_timeout: float = LOCK_TIMEOUT,
        create_schema: bool = False,
    ) -> None:
        self.url, self.schema = url, schema_of(url, schema)
        self.path = Path(path)
        self.lock_timeout = lock_timeout
        self.lock = threading.RLock()
        self._nesting = Reentrant()
        self._tables: dict[str, Table] = {}
        self._sql: dict[str, str] = {}
        digest = hashlib.sha256(f"parcelscreen-record:{schema}".encode()).digest()
        self._lock_key = int.from_bytes(digest[:8], "big", signed=True)
        self._conn: Any = None
        self._create_schema = create_schema
        with self.lock:
            self._connected()

    # -- connection -------------------------------------------------------------------------

    def __repr__(self) -> str:
        return f"PostgresDatabase(schema={self.schema!r})"

    @property
    def name(self) -> str:
        """How messages name the database (never its password)."""
        from psycopg.conninfo import conninfo_to_dict

        try:
            info = conninfo_to_dict(self.url)
        except Exception:  # noqa: BLE001 - a name for messages only
            info = {}
        return (
            f"PostgreSQL {info.get('host', '')}:{info.get('port', 5432)}/"
            f"{info.get('dbname', '')} schema {self.schema}"
        )

    def _unavailable(self, exc: BaseException) -> StoreUnavailable | None:
        import psycopg

        if isinstance(exc, psycopg.errors.LockNotAvailable):
            return StoreUnavailable(
                f"the record ({self.name}) is busy: another writer held it for more than "
                f"{self.lock_timeout:g} s; nothing of the request was recorded: retry it later"
            )
        if isinstance(
            exc,
            psycopg.OperationalError
            | psycopg.errors.ReadOnlySqlTransaction
            | psycopg.errors.InsufficientResources
            | psycopg.errors.AdminShutdown,
        ):
            return StoreUnavailable(
                f"the record ({self.name}) cannot be written now ({exc}); "
                "nothing of the request was recorded: retry it later"
            )
        return None

    def _connected(self) -> Any:
        import psycopg

        if self._conn is not None and not self._conn.closed and not self._conn.broken:
            return self._conn
        if self._conn is not None:
            if self._nesting.depth:  # never carry on a transaction on a new connection
                raise StoreUnavailable(
                    f"the record ({self.name}) lost its connection; "
                    "nothing of the request was recorded: retry it later"
                )
            self._conn.close()
            self._conn = None
        try:
            conn = psycopg.connect(self.url, autocommit=True, connect_timeout=10)
            conn.adapters.register_dumper(bool, _bool_dumper())
            if self._create_schema:
                conn.execute(f"CREATE SCHEMA IF NOT EXISTS {self.schema}")
            conn.execute(f"SET search_path TO {self.schema}")
            conn.execute("SET synchronous_commit TO on")
            conn.execute(f"SET lock_timeout TO {int(self.lock_timeout * 1000)}")
        except psycopg.Error as exc:
            raise StoreUnavailable(
                f"the record ({self.name}) cannot be reached ({exc}); "
                "nothing of the request was recorded: retry it later"
            ) from exc
        self._conn = conn
        return conn

    # -- statements -------------------------------------------------------------------------

    def table(self, name: str) -> Table:
        """A table's columns and primary key, from the catalogue (cached)."""
        if name not in self._tables:
            conn = self._connected()
            columns = tuple(
                r[0]
                for r in conn.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_schema = "
                    "current_schema() AND table_name = %s ORDER BY ordinal_position",
                    (name,),
                )
            )
            key = tuple(
                r[0]
                for r in conn.execute(
                    "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = "
                    "i.indrelid AND a.attnum = ANY(i.indkey) WHERE i.indisprimary AND "
                    "i.indrelid = (current_schema() || '.' || %s)::regclass",
                    (name,),
                )
            )
            if not columns:
                raise LookupError(
                    f"no table {name} in schema {self.schema}: run `parcelscreen db upgrade`"
                )
            self._tables[name] = Table(columns, key)
        return self._tables[name]

    def _translated(self, sql: str) -> str:
        done = self._sql.get(sql)
        if done is None:
            done = self._sql[sql] = translate(sql, self.table)
        return done

    def _run(self, call: Any) -> Any:
        import psycopg

        with self.lock:
            try:
                return call(self._connected())
            except psycopg.Error as exc:
                unavailable = self._unavailable(exc)
                if unavailable is None:
                    raise
                raise unavailable from exc

    def execute(
        self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()
    ) -> list[tuple[Any, ...]]:
        pg = self._translated(sql)
        if pg == SKIP:
            return []

        def run(conn: Any) -> list[tuple[Any, ...]]:
            cursor = conn.execute(pg, params)
            return cursor.fetchall() if cursor.description else []

        return self._run(run)  # type: ignore[no-any-return]

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        pg = self._translated(sql)
        if pg == SKIP or not rows:
            return

        def run(conn: Any) -> None:
            with conn.cursor() as cursor:
                cursor.executemany(pg, rows)

        with self.transaction():
            self._run(run)

    def run_script(self, sql: str) -> None:
        """Run PostgreSQL's own SQL as it is, untranslated (the migrations)."""
        self._run(lambda conn: conn.execute(sql.encode()))

    # -- transactions -----------------------------------------------------------------------

    @property
    def in_transaction(self) -> bool:
        return self._nesting.depth > 0

    @contextmanager
    def transaction(self) -> Iterator[Database]:
        """BEGIN; the schema's writer lock; ... COMMIT (nested calls join the outer one)."""
        with self.lock, self._nesting(self._outer):
            yield self

    @contextmanager
    def _outer(self) -> Iterator[None]:
        import psycopg

        conn = self._connected()
        try:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (self._lock_key,))
                yield
        except psycopg.Error as exc:
            unavailable = self._unavailable(exc)
            if unavailable is None:
                raise
            raise unavailable from exc

    def close(self) -> None:
        with self.lock:
            if self._conn is not None:
                self._conn.close()
