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
- **Few round trips under the lock.** A transaction runs in psycopg's pipeline mode: BEGIN,
  the writer lock and the reads registered with :meth:`PostgresDatabase.read_with_lock` go
  out with the transaction's first read; a statement that returns no rows (an INSERT, UPDATE
  or DELETE without RETURNING) is sent without waiting for its answer; COMMIT waits for every
  answer at once (one Sync). A write that failed makes the statements after it fail too, up
  to the COMMIT, so its error reaches the caller at the next read or at COMMIT, and the whole
  transaction is rolled back as before: all or nothing, with the same mapping to
  :class:`StoreUnavailable`.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from typing import Any

from ._database import LOCK_TIMEOUT, Database
from ._dialect import SKIP, Table, translate
from ._errors import StoreUnavailable
from ._store_support import Reentrant

#: A statement whose rows are read (a query, or a write with RETURNING); any other one is sent
#: in a pipelined transaction without waiting for its answer.
_READS = re.compile(r"\s*(SELECT|WITH|VALUES|SHOW|TABLE|EXPLAIN)\b|.*\sRETURNING\s", re.I | re.S)
_BEGIN = b"BEGIN ISOLATION LEVEL READ COMMITTED"  # each statement sees what was committed


def _one_line(exc: BaseException) -> str:
    """libpq's message on one line (it puts each address tried on a line of its own)."""
    return " ".join(str(exc).split())


def schema_of(url: str, schema: str) -> str:
    """Check a schema name (lower-case letters, digits, _), for quoting-free SQL."""
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
        #: the open transaction's pipeline and what leaves it (None: none, or it was left)
        self._pipeline: tuple[Any, ExitStack] | None = None
        #: statements read with the writer lock (SQL as given: (translated, table it reads))
        self._with_lock: dict[str, tuple[str, str]] = {}
        #: their cursors in the open transaction, until read or their table is written
        self._read_early: dict[str, Any] = {}
        #: round trips to the server (statements waited for, and syncs), for tests and benches
        self.round_trips = 0
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
                f"the record ({self.name}) cannot be written now ({_one_line(exc)}); "
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
                f"the record ({self.name}) cannot be reached ({_one_line(exc)}); "
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
            if self._pipeline is None:
                self.round_trips += 1
                return cursor.fetchall() if cursor.description else []
            self._written(pg)
            if _READS.match(pg) is None:  # sent; its answer is checked at the next wait
                return []
            return self._fetched(cursor)

        return self._run(run)  # type: ignore[no-any-return]

    def _fetched(self, cursor: Any) -> list[tuple[Any, ...]]:
        """The rows of a statement sent in the pipeline: waits for its answer (and those of
        the statements before it, whose errors are raised here)."""
        import psycopg
        from psycopg.pq import ExecStatus

        if cursor.pgresult is None:
            self.round_trips += 1
        try:
            return cursor.fetchall()  # type: ignore[no-any-return]
        except psycopg.ProgrammingError:
            result = cursor.pgresult  # a statement that returns no rows (WITH ... INSERT)
            if result is not None and result.status == ExecStatus.COMMAND_OK:
                return []
            raise

    def _written(self, pg: str) -> None:
        """Forget what was read with the lock from a table this statement names (it may
        change it)."""
        for sql in [s for s in self._read_early if self._with_lock[s][1] in pg]:
            del self._read_early[sql]

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        pg = self._translated(sql)
        if pg == SKIP or not rows:
            return

        def run(conn: Any) -> None:
            with conn.cursor() as cursor:
                cursor.executemany(pg, rows)  # in the transaction's pipeline: no wait
            self._written(pg)

        with self.transaction():
            self._run(run)

    def run_script(self, sql: str) -> None:
        """Run PostgreSQL's own SQL as it is, untranslated (the migrations); in a
        transaction, what follows it is no longer pipelined (a script of several statements
        cannot be sent in pipeline mode)."""

        def run(conn: Any) -> None:
            self._leave_pipeline()
            self.round_trips += 1
            conn.execute(sql.encode())
            self._read_early.clear()

        self._run(run)

    def read_with_lock(self, sql: str, table: str) -> None:
        """Have every write transaction send ``sql`` (a query of ``table``, no parameters)
        right after taking the writer lock, in the same round trip as its first read:
        :meth:`read_early` gives its rows."""
        with self.lock:
            self._with_lock[sql] = (self._translated(sql), table)

    def read_early(self, sql: str) -> list[tuple[Any, ...]] | None:
        """The rows of ``sql`` (registered with :meth:`read_with_lock`) as read right after
        this transaction took the writer lock: once, and only while nothing in the
        transaction may have written its table since (None: read it yourself)."""
        with self.lock:
            cursor = self._read_early.pop(sql, None)
            if cursor is None or not self._nesting.depth:
                return None
            return self._run(lambda _conn: self._fetched(cursor))  # type: ignore[no-any-return]

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
        """BEGIN, the lock, the early reads, the body, COMMIT: one pipeline and one Sync;
        on any error (raised in the body, at a read, or at the Sync), ROLLBACK."""
        import psycopg

        conn = self._connected()
        try:
            try:
                stack = ExitStack()
                self._pipeline = stack.enter_context(conn.pipeline()), stack
                conn.execute(_BEGIN)
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (self._lock_key,))
                self._read_early = {
                    sql: conn.execute(pg) for sql, (pg, _) in self._with_lock.items()
                }
                yield
                pipelined = self._pipeline is not None  # else a script left it
                commit = conn.execute(b"COMMIT")
                if pipelined:
                    self._leave_pipeline()
                else:
                    self.round_trips += 1
                if commit.statusmessage != "COMMIT":  # an error someone caught and ignored
                    raise StoreUnavailable(
                        f"the record ({self.name}) rolled the transaction back at COMMIT "
                        f"({commit.statusmessage}); nothing of the request was recorded"
                    )
            except BaseException:
                self._roll_back(conn)
                raise
        except psycopg.Error as exc:
            unavailable = self._unavailable(exc)
            if unavailable is None:
                raise
            raise unavailable from exc
        finally:
            self._pipeline = None
            self._read_early = {}

    def _leave_pipeline(self) -> None:
        """Wait for every answer of the transaction's pipeline (one Sync; the first error
        is raised) and leave pipeline mode; the transaction stays open."""
        pipeline, self._pipeline = self._pipeline, None
        if pipeline is not None:
            self.round_trips += 1
            pipeline[1].close()

    def _roll_back(self, conn: Any) -> None:
        """End a failed transaction: ROLLBACK, or, where that fails too, the connection
        closed (the server then rolls back what it held)."""
        import psycopg

        try:
            pipeline, self._pipeline = self._pipeline, None
            if pipeline is not None:
                with suppress(psycopg.Error):  # the error, once more: it is raised already
                    pipeline[0].sync()
                pipeline[1].close()
            if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                conn.execute(b"ROLLBACK")
        except Exception:  # noqa: BLE001 - the error being raised is the one to report
            conn.close()

    def close(self) -> None:
        with self.lock:
            if self._conn is not None:
                self._conn.close()
