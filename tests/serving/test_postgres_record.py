"""The record in PostgreSQL (``PARCELSCREEN_DATABASE_URL``): every store in one schema of the
real server on 127.0.0.1, a fresh schema per test; one decision, one transaction; one hash
chain whatever the number of writing processes; versioned migrations (skipped where no
PostgreSQL runs)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest

from screening import PostgresDatabase
from serving import (
    DecisionLog,
    Entry,
    KeyStore,
    Record,
    SchemaMismatch,
    Settings,
    StoreRefused,
    StoreUnavailable,
    check_at_start,
    check_record,
    known_version,
    upgrade_schema,
)
from tests.conftest import Trained
from tests.pg_record import drop_schema, fresh_schema
from tests.serving.conftest import Server, make_settings, parcel, start_server
from tests.serving.test_audit import replay_lookup

SCORE = "/v1/parcels:score"
STORES = ("history", "result", "officer", "log")


@pytest.fixture(scope="module")
def pg_server(trained: Trained, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    where = fresh_schema()
    yield from start_server(
        make_settings(tmp_path_factory.mktemp("pg"), trained.registry, lock_timeout=0.5, **where)
    )
    drop_schema(where["database_schema"])


def _count(server: Server, sql: str, *params: object) -> int:
    return int(server.service.record.db.execute(sql, params)[0][0])


def _on_record(server: Server, item_id: str) -> dict[str, int]:
    tables = {"history": "history_item", "result": "scored_result", "officer": "officer_parcel"}
    counts = {
        name: _count(server, f"SELECT count(*) FROM {table} WHERE item_id = ?", item_id)
        for name, table in tables.items()
    }
    counts["log"] = _count(
        server, "SELECT count(*) FROM decision_log WHERE kind = 'decision' AND item_id = ?", item_id
    )
    return counts


def test_the_stores_are_tables_of_one_postgresql_schema(pg_server: Server) -> None:
    assert isinstance(pg_server.service.record.db, PostgresDatabase)
    assert not pg_server.settings.state_path.exists()  # no state.sqlite beside it
    r = pg_server.client().post(SCORE, json=parcel())
    assert r.status_code == 200, r.text
    tables = {
        row[0]
        for row in pg_server.service.record.db.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = ?",
            (pg_server.settings.database_schema,),
        )
    }
    assert {
        "api_key",
        "officer_user",
        "officer_session",
        "officer_signin_failure",
        "service_flag",
        "scored_result",
        "officer_parcel",
        "outcome",
        "decision_log",
        "history_entity",
        "history_item",
        "schema_version",
    } <= tables


@pytest.mark.parametrize("failing", ["audit.append_many", "state.put_results", "on_scored"])
def test_a_decision_is_committed_whole_or_not_at_all(
    pg_server: Server, failing: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner_name, _, attribute = failing.rpartition(".")
    owner = getattr(pg_server.service, owner_name) if owner_name else pg_server.service

    def broken(*_args: object, **_kwargs: object) -> None:
        raise StoreUnavailable("the record cannot be written now (test)")

    body = parcel()
    monkeypatch.setattr(owner, attribute, broken)
    r = pg_server.client().post(SCORE, json=body, headers={"X-Request-ID": "pg-once"})
    monkeypatch.undo()
    assert r.status_code == 503
    assert _on_record(pg_server, body["item_id"]) == dict.fromkeys(STORES, 0)
    again = pg_server.client().post(SCORE, json=body, headers={"X-Request-ID": "pg-once"})
    assert again.status_code == 200
    assert _on_record(pg_server, body["item_id"]) == dict.fromkeys(STORES, 1)


def test_a_retry_is_answered_from_the_record(pg_server: Server) -> None:
    body = parcel()
    first = pg_server.client().post(SCORE, json=body, headers={"X-Request-ID": "pg-retry"})
    second = pg_server.client().post(SCORE, json=body, headers={"X-Request-ID": "pg-retry"})
    assert first.status_code == second.status_code == 200
    assert second.json()["probability"] == first.json()["probability"]
    assert _on_record(pg_server, body["item_id"]) == dict.fromkeys(STORES, 1)


def test_a_writer_held_past_the_lock_timeout_answers_503_and_records_nothing(
    pg_server: Server,
) -> None:
    db = pg_server.service.record.db
    assert isinstance(db, PostgresDatabase)
    body = parcel()
    with psycopg.connect(pg_server.settings.database_url or "") as other:  # another replica
        other.execute("SELECT pg_advisory_xact_lock(%s)", (db._lock_key,))
        r = pg_server.client().post(SCORE, json=body)
    assert r.status_code == 503 and "retry-after" in r.headers
    assert "busy" in r.json()["error"]["message"]
    assert _on_record(pg_server, body["item_id"]) == dict.fromkeys(STORES, 0)
    assert pg_server.client().post(SCORE, json=body).status_code == 200  # free again


@pytest.mark.parametrize(
    "table",
    [
        "history_entity",  # the history's counts: the batch's first write
        "officer_parcel",  # the officer copy
        "decision_log",  # the log's records
        "decision_log_head",  # the log's head: the last write, refused at COMMIT's wait
    ],
)
def test_a_write_refused_in_the_pipeline_leaves_nothing_of_the_batch(
    pg_server: Server, table: str
) -> None:
    """The scoring transaction's writes go out without waiting for their answers (one
    pipeline, one wait at COMMIT): one that the server refuses (a full disk, from a trigger)
    makes the whole batch roll back, answers 503, and the same request again is decided once."""
    schema = pg_server.settings.database_schema
    body = parcel()
    with psycopg.connect(pg_server.settings.database_url or "", autocommit=True) as admin:
        admin.execute(
            f"CREATE FUNCTION {schema}.refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "RAISE EXCEPTION 'no space left on device (test)' USING ERRCODE = 'disk_full'; "
            "END $$"
        )
        admin.execute(
            f"CREATE TRIGGER refuse BEFORE INSERT OR UPDATE ON {schema}.{table} "
            f"FOR EACH ROW EXECUTE FUNCTION {schema}.refuse()"
        )
        try:
            r = pg_server.client().post(SCORE, json=body, headers={"X-Request-ID": f"pg-{table}"})
        finally:
            admin.execute(f"DROP FUNCTION {schema}.refuse() CASCADE")
    assert r.status_code == 503, r.text
    assert "retry-after" in r.headers
    assert _on_record(pg_server, body["item_id"]) == dict.fromkeys(STORES, 0)
    assert pg_server.service.audit.verify().ok
    again = pg_server.client().post(SCORE, json=body, headers={"X-Request-ID": f"pg-{table}"})
    assert again.status_code == 200, again.text
    assert _on_record(pg_server, body["item_id"]) == dict.fromkeys(STORES, 1)
    report = check_record(pg_server.service.record)
    assert report.ok, report.problems


def test_a_decision_takes_six_round_trips_to_postgresql(
    pg_server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One parcel's scoring transaction waits for the server six times: BEGIN, the writer
    lock, the log's head and the halt switch together; the decisions on record; the history's
    entities; its items; its new partner links (RETURNING); then every write and COMMIT."""
    db = pg_server.service.record.db
    assert isinstance(db, PostgresDatabase)
    pg_server.client().post(SCORE, json=parcel())  # statements translated, keys cached
    waits: list[int] = []
    outer = db._outer

    @contextmanager
    def counted() -> Iterator[None]:  # under the database's lock: no other thread's waits
        start = db.round_trips
        with outer():
            yield
        waits.append(db.round_trips - start)

    monkeypatch.setattr(db, "_outer", counted)
    r = pg_server.client().post(SCORE, json=parcel())
    assert r.status_code == 200, r.text
    assert waits == [6]


def test_an_error_caught_inside_a_transaction_still_rolls_it_back(pg_server: Server) -> None:
    """A write whose error a caller catches and ignores does not let the rest commit: the
    transaction is refused at COMMIT (503), with nothing of it on record."""
    db = pg_server.service.record.db
    with pytest.raises(StoreUnavailable), db.transaction():
        db.execute("INSERT INTO service_flag VALUES (?, ?)", ("pipeline-test", "1"))
        with pytest.raises(psycopg.errors.DivisionByZero):
            db.execute("SELECT 1 / 0")
        db.execute("INSERT INTO service_flag VALUES (?, ?)", ("pipeline-test-2", "1"))
    assert pg_server.service.state.get_flag("pipeline-test") is None
    assert pg_server.service.state.get_flag("pipeline-test-2") is None
    with db.transaction():  # the connection serves the next transaction
        db.execute("INSERT INTO service_flag VALUES (?, ?)", ("pipeline-test", "1"))
    assert pg_server.service.state.get_flag("pipeline-test") == "1"
    db.execute("DELETE FROM service_flag WHERE name = ?", ("pipeline-test",))


def test_keys_and_the_halt_switch_are_shared_with_another_replica(pg_server: Server) -> None:
    other = Record(pg_server.settings)  # what a second replica opens
    try:
        keys = KeyStore(other.db, pg_server.settings.secret_key)
        key_id, secret = keys.create("sorter", "made on replica two")
        ok = pg_server.client(None).post(
            SCORE, json=parcel(), headers={"Authorization": f"Bearer {secret}"}
        )
        assert ok.status_code == 200, ok.text
        keys.revoke(key_id)
        refused = pg_server.client(None).post(
            SCORE, json=parcel(), headers={"Authorization": f"Bearer {secret}"}
        )
        assert refused.status_code == 401
        admin = pg_server.client("admin")
        assert admin.post("/v1/admin/halt", json={"reason": "test"}).status_code == 200
        assert other.state.get_flag("halted") == "1"
        assert admin.post("/v1/admin/resume", json={"reason": "test"}).status_code == 200
        assert other.state.get_flag("halted") == "0"
        report = check_record(other)
        assert report.ok, report.problems
    finally:
        other.close()


_APPENDER = textwrap.dedent("""
    import sys
    from serving import Entry, Record, Settings
    record = Record(Settings())
    for n in range(int(sys.argv[1])):
        with record.db.transaction():  # each with its own read of the head
            record.audit.append(Entry("test_append", caller=sys.argv[2], detail={"n": n}))
    record.close()
""")


def test_the_chain_stays_one_chain_with_writers_in_several_processes(tmp_path: Path) -> None:
    where = fresh_schema()
    env = os.environ | {
        "PARCELSCREEN_DATA_DIR": str(tmp_path),
        "PARCELSCREEN_DATABASE_URL": where["database_url"],
        "PARCELSCREEN_DATABASE_SCHEMA": where["database_schema"],
    }
    try:
        procs = [
            subprocess.Popen([sys.executable, "-c", _APPENDER, "60", f"writer{k}"], env=env)
            for k in range(4)
        ]
        assert [p.wait(timeout=300) for p in procs] == [0] * 4
        record = Record(Settings(data_dir=tmp_path, **where))
        try:
            report = record.audit.verify()
            assert report.ok, report.problems
            assert report.records == report.head_seq == 240
            seqs = [r["seq"] for r in record.audit.records()]
            assert seqs == list(range(1, 241))
        finally:
            record.close()
    finally:
        drop_schema(where["database_schema"])


def _settings(tmp: Path, where: dict[str, Any]) -> Settings:
    return Settings(data_dir=tmp, **where)


def test_a_replica_refuses_a_schema_version_it_does_not_know(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from parcelscreen.cli import main

    where = fresh_schema(upgrade=False)
    settings = _settings(tmp_path, where)
    try:
        with pytest.raises(SchemaMismatch, match="db upgrade"):
            Record(settings)
        with pytest.raises(StoreRefused, match="schema version 0"):
            check_at_start(settings)
        monkeypatch.setenv("PARCELSCREEN_DATABASE_URL", where["database_url"])
        monkeypatch.setenv("PARCELSCREEN_DATABASE_SCHEMA", where["database_schema"])
        monkeypatch.setenv("PARCELSCREEN_DATA_DIR", str(tmp_path))
        assert main(["db", "upgrade"]) == 0
        first = json.loads(capsys.readouterr().out)
        assert first["from_version"] == 0 and first["to_version"] == known_version()
        assert first["applied"][0] == "0001_record.sql"
        assert main(["db", "upgrade"]) == 0  # again: nothing to do
        assert json.loads(capsys.readouterr().out)["applied"] == []
        Record(settings).close()
        check_at_start(settings)
        newer = known_version() + 1
        with psycopg.connect(where["database_url"], autocommit=True) as conn:
            conn.execute(
                f"INSERT INTO {where['database_schema']}.schema_version VALUES "
                f"({newer}, '{newer:04d}_future.sql', 'now')"
            )
        with pytest.raises(SchemaMismatch, match=f"schema version {newer}, newer"):
            Record(settings)
        with pytest.raises(StoreRefused, match="newer than this release knows"):
            check_at_start(settings)
        # an older release's `db upgrade` refuses too, naming both versions: not "applied: []"
        assert main(["db", "upgrade"]) == 2
        said = capsys.readouterr()
        assert said.out == "" and said.err.startswith("error: ")
        assert f"schema version {newer}, newer than this release knows" in said.err
        assert "Traceback" not in said.err
    finally:
        drop_schema(where["database_schema"])


REQUEST_INDEX = "0006_decision_log_request_index.sql"


def test_a_replica_on_schema_version_5_is_told_to_upgrade_and_db_upgrade_adds_the_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A record upgraded by the release before migration 0006 (schema version 5): a replica
    and every command of this release refuse it, naming `parcelscreen db upgrade`, which then
    applies 0006 (the decision log's index by request ID and item) and nothing else twice."""
    from parcelscreen.cli import main
    from serving import _migrations

    where = fresh_schema(upgrade=False)
    settings = _settings(tmp_path, where)
    every = _migrations.migrations()
    before = [m for m in every if m[1] < REQUEST_INDEX]
    assert [m[1] for m in every].index(REQUEST_INDEX) == len(before) == 5
    try:
        with monkeypatch.context() as older:  # the release before: migrations 1 to 5
            older.setattr(_migrations, "migrations", lambda: before)
            db = PostgresDatabase(
                where["database_url"], where["database_schema"], create_schema=True
            )
            try:
                assert upgrade_schema(db)["to_version"] == 5
            finally:
                db.close()
        with pytest.raises(
            SchemaMismatch, match=f"schema version 5, this release needs {known_version()}"
        ):
            Record(settings)
        with pytest.raises(StoreRefused, match="run `parcelscreen db upgrade`"):
            check_at_start(settings)
        monkeypatch.setenv("PARCELSCREEN_DATABASE_URL", where["database_url"])
        monkeypatch.setenv("PARCELSCREEN_DATABASE_SCHEMA", where["database_schema"])
        monkeypatch.setenv("PARCELSCREEN_DATA_DIR", str(tmp_path))
        assert main(["serve", "--port", "0"]) == 2  # refused before it listens
        refused = capsys.readouterr().err
        assert "schema version 5" in refused and "parcelscreen db upgrade" in refused
        assert "Traceback" not in refused
        assert main(["db", "upgrade"]) == 0
        done = json.loads(capsys.readouterr().out)
        assert done["from_version"] == 5 and done["to_version"] == known_version()
        assert done["applied"][0] == REQUEST_INDEX
        with psycopg.connect(where["database_url"]) as conn:
            (definition,) = conn.execute(
                "SELECT indexdef FROM pg_indexes WHERE schemaname = %s AND "
                "indexname = 'decision_log_request'",
                (where["database_schema"],),
            ).fetchone() or ("none",)
        assert "(request_id, item_id)" in definition
        Record(settings).close()
        check_at_start(settings)
    finally:
        drop_schema(where["database_schema"])


def test_the_replay_lookup_searches_an_index_in_postgresql(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The planner reads a retried request's recorded input hashes through an index, on a log
    of 40,000 decisions analysed as autovacuum would, rather than scanning it per retry."""
    where = fresh_schema()
    db = PostgresDatabase(where["database_url"], where["database_schema"])
    try:
        log = DecisionLog(db)
        log.append(Entry("decision", request_id="r-retried", item_id="I1", input_hash="h1"))
        db.run_script(
            "INSERT INTO decision_log (seq, time, kind, request_id, item_id, input_hash, detail, "
            "prev_hash, hash) SELECT g, 't', 'decision', 'r' || (g / 4), 'I' || g, 'h', '{}', "
            "'', '' FROM generate_series(2, 40000) AS g; ANALYZE decision_log"
        )  # bulk rows straight in (their chain does not matter to the plan)
        found, sql, params = replay_lookup(log, monkeypatch, "r-retried", ["I1", "I2"])
        assert found == {"I1": "h1"}
        plan = " | ".join(row[0] for row in db.execute(f"EXPLAIN {sql}", params))
        assert "decision_log_request" in plan and "Seq Scan" not in plan, plan
    finally:
        db.close()
        drop_schema(where["database_schema"])


def test_a_parcels_records_are_found_through_an_index_in_postgresql(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The officer's "viewed once an hour" check reads the parcel's records through the item
    index (migration 0007), not a scan of a 40,000-record log on every page view."""
    from serving.officer._parcel_routes import note_view

    where = fresh_schema()
    db = PostgresDatabase(where["database_url"], where["database_schema"])
    try:
        log = DecisionLog(db)
        db.run_script(
            "INSERT INTO decision_log (seq, time, kind, request_id, item_id, input_hash, detail, "
            "prev_hash, hash) SELECT -g, 't', 'decision', 'r' || g, 'I' || g, 'h', '{}', "
            "'', '' FROM generate_series(1, 40000) AS g; ANALYZE decision_log"
        )  # bulk rows straight in, below the chain's sequence numbers (the plan is the point)
        ran: list[tuple[str, list[Any]]] = []
        execute = db.execute

        def spy(sql: str, params: Any = ()) -> Any:
            ran.append((sql, list(params)))
            return execute(sql, params)

        monkeypatch.setattr(db, "execute", spy)
        assert note_view(log, "olga", "I77", "m1", "req-1")
        assert not note_view(log, "olga", "I77", "m1", "req-2")  # within the hour: nothing
        monkeypatch.setattr(db, "execute", execute)
        looked = [(sql, p) for sql, p in ran if "explanation_viewed" in p and "SELECT" in sql]
        assert len(looked) == 2, ran
        sql, params = looked[1]
        plan = " | ".join(row[0] for row in db.execute(f"EXPLAIN {sql}", params))
        assert "decision_log_item" in plan and "Seq Scan" not in plan, plan
    finally:
        db.close()
        drop_schema(where["database_schema"])


def test_db_upgrade_of_named_files_on_postgresql_is_refused_not_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An operator naming an older audit.sqlite must not be told 'done' while it is ignored."""
    from parcelscreen.cli import main

    monkeypatch.setenv("PARCELSCREEN_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    monkeypatch.setenv("PARCELSCREEN_DATA_DIR", str(tmp_path))
    assert main(["db", "upgrade", str(tmp_path / "audit.sqlite")]) == 2
    err = capsys.readouterr().err
    assert "audit.sqlite" in err and "not supported" in err and "nothing was done" in err


def test_db_upgrade_names_an_unreachable_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from parcelscreen.cli import main

    monkeypatch.setenv("PARCELSCREEN_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    monkeypatch.setenv("PARCELSCREEN_DATA_DIR", str(tmp_path))
    assert main(["db", "upgrade"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "cannot be reached" in err and "Traceback" not in err


def _sqlite_tables(tmp: Path) -> dict[str, set[str]]:
    """Every table and column the stores make in a new state.sqlite."""
    from screening.exchange import FollowUps, PartnerStore
    from serving.officer import CaseStore, ParcelStore, SignInThrottle, UserStore

    settings = Settings(data_dir=tmp)
    record = Record(settings)
    try:
        db = record.db
        KeyStore(db, settings.secret_key), ParcelStore(db), UserStore(db), CaseStore(db)
        SignInThrottle(db, settings.secret_key), PartnerStore(db), FollowUps(db)
        names = [
            r[0]
            for r in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%'"
            )
        ]
        return {t: {c[1] for c in db.execute(f"PRAGMA table_info({t})")} for t in names}
    finally:
        record.close()


def test_the_migrations_make_every_table_and_column_the_stores_make_in_sqlite(
    tmp_path: Path,
) -> None:
    """A store that adds a column to state.sqlite needs a migration for PostgreSQL too
    (serving/migrations/NNNN_*.sql): this names what is missing."""
    where = fresh_schema()
    try:
        with psycopg.connect(where["database_url"]) as conn:
            rows = conn.execute(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = %s",
                (where["database_schema"],),
            ).fetchall()
        pg: dict[str, set[str]] = {}
        for table, column in rows:
            pg.setdefault(table, set()).add(column)
        missing = {
            t: sorted(cols - pg.get(t, set()))
            for t, cols in _sqlite_tables(tmp_path).items()
            if cols - pg.get(t, set())
        }
        assert missing == {}, f"add a migration to serving/migrations for {missing}"
    finally:
        drop_schema(where["database_schema"])


def test_the_prunes_and_checks_run_on_the_shared_record(pg_server: Server, tmp_path: Path) -> None:
    """What an operator runs from any machine: every prune (dry and real), the checks."""
    for _ in range(3):
        assert pg_server.client().post(SCORE, json=parcel()).status_code == 200
    env = os.environ | {
        "PARCELSCREEN_DATA_DIR": str(tmp_path),
        "PARCELSCREEN_DATABASE_URL": pg_server.settings.database_url or "",
        "PARCELSCREEN_DATABASE_SCHEMA": pg_server.settings.database_schema,
    }

    def cli(*argv: str) -> dict[str, Any]:
        done = subprocess.run(
            [sys.executable, "-m", "parcelscreen", *argv],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return dict(json.loads(done.stdout))

    dry = cli("state", "prune", "--dry-run", "--days", "0.00001")
    assert dry["deleted"]["scored_result"] >= 3 and dry["deleted"]["officer_parcel"] >= 3
    cli("history", "prune", "--dry-run")
    cli("audit", "prune")
    real = cli("state", "prune", "--days", "0.00001")
    assert real["deleted"]["scored_result"] == dry["deleted"]["scored_result"]
    assert _count(pg_server, "SELECT count(*) FROM scored_result") == 0
    cli("history", "prune")
    assert cli("state", "check")["ok"]
    assert cli("audit", "verify")["ok"]
