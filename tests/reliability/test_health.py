"""Health tells the truth (issue 16): store failures answer 503, readiness goes red while the
record database cannot be written or is no longer the file the service opened, a damaged
store is refused at start, and the decision log's head is anchored outside its own file.

Faults are made through SQLite (``max_page_count`` for a full disk, ``query_only`` for a
read-only one, text that is not UTF-8 for garbage in a page), by deleting or replacing the
file by name (``os.unlink``, ``os.replace``: nothing is opened), or by writing garbage pages
to a database no connection of this process holds.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from data_contracts import make_s10
from parcelscreen.cli import main
from screening import Database, StoreUnavailable
from serving import DecisionLog, Entry, Service, Settings
from serving._health import INTERVAL, StoreRefused
from serving.officer import UserStore
from tests.browser.officer_setup import PASSWORD, csrf_of, sign_in
from tests.conftest import Trained
from tests.factories import outcome
from tests.serving.conftest import Server, make_settings, parcel, start_server

_serial = iter(range(41_000_000, 42_000_000))


@pytest.fixture()
def own_server(trained: Trained, tmp_path: Path) -> Iterator[Server]:
    """A server of its own (each test breaks its store), an admin account and a parcel."""
    for server in start_server(make_settings(tmp_path / "state", trained.registry)):
        UserStore(server.service.state_db).add("ada", PASSWORD, "admin", officer_ref="NL-C-ADA")
        first = parcel()
        assert server.client().post("/v1/parcels:score", json=first).status_code == 200
        server.first = first["item_id"]  # type: ignore[attr-defined]
        yield server


def _ready(server: Server) -> httpx.Response:
    return server.client(None).get("/v2/health/ready")


def _eventually(check: Callable[[], bool], seconds: float = 60.0) -> bool:
    """Whether ``check`` comes true (looked at every 0.1 s). ``seconds`` only guards against a
    hang: the probe and the anchor keeper run once a second, a thread that a busy machine
    may hold up for seconds."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()


def _past_the_probe_interval(server: Server) -> None:
    """Move the readiness probe's clock past its interval (instead of sleeping through it, a
    time a busy machine may stretch): the next readiness check is due to probe."""
    health = server.service.record.db.health
    later = health.clock() + INTERVAL
    health.clock = lambda: later  # stands there until the test moves it again


def _every_route(server: Server, officer: httpx.Client) -> dict[str, httpx.Response]:
    """One request of every route that reads or writes the record database, the officer
    view's included (``officer``: an admin signed in before the fault)."""
    item = server.first  # type: ignore[attr-defined]
    name = str(server.service.holder.served.model.info.get("model_name", "parcelscreen"))
    k = len(server.service.holder.served.model.spec.names)
    sorter, admin, staff = server.client(), server.client("admin"), server.client("officer")
    model_page = officer.get("/officer/model")  # reads only: the session's CSRF token
    csrf = csrf_of(model_page.text) if model_page.status_code == 200 else "unknown"
    page = officer.get(f"/officer/parcels/{item}")  # the explanation, and its log record
    return {
        "score": sorter.post("/v1/parcels:score", json=parcel()),
        "score-batch": sorter.post(
            "/v1/parcels:score-batch", json={"declarations": [parcel(), parcel()]}
        ),
        "infer declarations": sorter.post(
            f"/v2/models/{name}/infer",
            json={
                "inputs": [
                    {"name": "declaration", "datatype": "BYTES", "shape": [1], "data": [parcel()]}
                ]
            },
        ),
        "infer features": sorter.post(
            f"/v2/models/{name}/infer",
            json={
                "inputs": [
                    {"name": "features", "datatype": "FP32", "shape": [1, k], "data": [[0.0] * k]}
                ]
            },
        ),
        "outcome": staff.post(
            "/v1/outcomes", json=outcome(item_id=make_s10("RR", next(_serial), "NL"))
        ),
        "explanation": staff.get(f"/v1/parcels/{item}/explanation"),
        "halt": admin.post("/v1/admin/halt", json={"reason": "test"}),
        "resume": admin.post("/v1/admin/resume", json={"reason": "test"}),
        "reload": admin.post("/v1/admin/models:reload"),
        "status": sorter.get("/v1/status"),
        "metrics": server.client("monitor").get("/metrics"),
        "v2": sorter.get("/v2"),
        "model metadata": sorter.get(f"/v2/models/{name}"),
        "officer parcel": page,
        "officer model": model_page,
        "officer queue": officer.get("/officer/queue"),
        "officer outcome": officer.post(
            f"/officer/parcels/{item}/outcome", data={"csrf": csrf, "inspected": "no"}
        ),
        "officer halt": officer.post("/officer/model/halt", data={"csrf": csrf, "reason": "test"}),
        "officer sign-in": _sign_in_status(server),  # counts the attempt in the store
    }


def _sign_in_status(server: Server) -> httpx.Response:
    client = httpx.Client(base_url=server.url, timeout=30)
    try:
        page = client.get("/officer/login")
        return client.post(
            "/officer/login",
            data={"csrf": csrf_of(page.text), "username": "ada", "password": "wrong", "next": ""},
        )
    finally:
        client.close()


def _no_500(answers: dict[str, httpx.Response]) -> None:
    """No answer is a 5xx other than 503, and every 503 says when to retry."""
    for route, r in answers.items():
        assert r.status_code < 500 or r.status_code == 503, (route, r.status_code, r.text[:300])
        if r.status_code == 503:
            assert r.headers.get("retry-after"), route


def _fill(server: Server) -> None:
    """The file cannot grow (a full disk): writes until one fails."""
    db = server.service.state_db
    ((pages,),) = db.execute("PRAGMA page_count")
    db.execute(f"PRAGMA max_page_count = {int(pages)}")
    for _ in range(200):
        if (
            server.client()
            .post("/v1/parcels:score-batch", json={"declarations": [parcel() for _ in range(10)]})
            .status_code
            == 503
        ):
            return
    raise AssertionError("no write failed on a full store")


def _unfill(server: Server) -> None:
    server.service.state_db.execute("PRAGMA max_page_count = 1073741823")


def _read_only(server: Server) -> None:
    server.service.state_db.execute("PRAGMA query_only = 1")


def _writable(server: Server) -> None:
    server.service.state_db.execute("PRAGMA query_only = 0")


def _garbage_text(server: Server) -> None:
    """Bytes that are not UTF-8 in a row the explanation reads (garbage in a page)."""
    server.service.state_db.execute(
        "UPDATE scored_result SET summary = CAST(X'7B22FFFE' AS TEXT) WHERE item_id = ?",
        (server.first,),  # type: ignore[attr-defined]
    )


def _delete(server: Server) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{server.settings.state_path}{suffix}").unlink(missing_ok=True)


def _replace(server: Server) -> None:
    other = server.settings.state_path.with_name("other.sqlite")
    with sqlite3.connect(other) as conn:  # another database, never the service's
        conn.execute("CREATE TABLE t (x)")
    conn.close()
    os.replace(other, server.settings.state_path)


FAULTS: list[Any] = [
    # the disk is full: writes fail (SQLITE_FULL); space again: ready again
    pytest.param(_fill, _unfill, (), id="full"),
    # a read-only store: every write fails (SQLITE_READONLY); writable again: ready again
    pytest.param(
        _read_only, _writable, ("score", "outcome", "halt", "officer outcome"), id="read-only"
    ),
    # garbage in a page: the explanation's read fails (not UTF-8), then every write is refused
    pytest.param(
        _garbage_text, None, ("explanation", "score", "outcome", "officer parcel"), id="damaged"
    ),
    # the file deleted under the service: what it wrote would be lost, so it writes nothing
    pytest.param(_delete, None, ("score", "outcome", "halt", "officer outcome"), id="deleted"),
    # the file replaced by another database: the same
    pytest.param(_replace, None, ("score", "outcome", "halt", "officer outcome"), id="replaced"),
]


@pytest.mark.parametrize(("fault", "repair", "refused"), FAULTS)
def test_store_faults_answer_503_and_readiness_goes_red(
    own_server: Server,
    fault: Callable[[Server], None],
    repair: Callable[[Server], None] | None,
    refused: tuple[str, ...],
) -> None:
    officer, signed = sign_in(own_server.url, "ada")
    try:
        assert signed.status_code == 303
        assert _ready(own_server).status_code == 200
        fault(own_server)
        answers = _every_route(own_server, officer)
    finally:
        officer.close()
    _no_500(answers)
    for route in refused:
        assert answers[route].status_code == 503, (route, answers[route].text[:300])
        assert answers[route].json()["error"]["code"] == "store_unavailable"
    if fault is _fill:  # a full store may still take a small write (a 200 above), which
        _fill(own_server)  # leaves it ready: "no write has succeeded since" the last failure
    ready = _ready(own_server)
    assert ready.status_code == 503 and ready.headers.get("retry-after"), ready.text
    assert ready.json()["error"]["code"] == "store_unavailable"
    assert "state.sqlite" in ready.json()["error"]["message"]
    assert own_server.client(None).get("/v2/health/live").status_code == 200
    if repair is None:  # damaged, deleted or replaced: red until a restart
        _past_the_probe_interval(own_server)
        assert _ready(own_server).status_code == 503
        return
    repair(own_server)
    _past_the_probe_interval(own_server)
    assert _ready(own_server).status_code == 200  # its probe wrote: green at once
    assert own_server.client().post("/v1/parcels:score", json=parcel()).status_code == 200


def test_a_failed_write_alone_turns_readiness_red_until_a_write_commits(own_server: Server) -> None:
    """Red from the failed write, without waiting for a probe; green at the next commit."""
    _read_only(own_server)
    assert own_server.client().post("/v1/parcels:score", json=parcel()).status_code == 503
    assert _ready(own_server).status_code == 503
    _writable(own_server)
    assert own_server.client().post("/v1/parcels:score", json=parcel()).status_code == 200
    assert _ready(own_server).status_code == 200


# -- sqlite errors of the store that are not of its "unavailable" kinds --------------------


def _sqlite_error(code: int | None, message: str = "error") -> sqlite3.Error:
    exc = sqlite3.OperationalError(message)
    if code is not None:
        exc.sqlite_errorcode = code
    return exc


@pytest.mark.parametrize(
    ("exc", "unavailable"),
    [
        (_sqlite_error(13, "database or disk is full"), True),  # SQLITE_FULL, as before
        (_sqlite_error(3, "access permission denied"), True),  # SQLITE_PERM
        (_sqlite_error(7, "out of memory"), True),  # SQLITE_NOMEM
        (_sqlite_error(15, "locking protocol"), True),  # SQLITE_PROTOCOL
        (_sqlite_error(22, "large file support is disabled"), True),  # SQLITE_NOLFS
        (_sqlite_error(266, "disk I/O error"), True),  # SQLITE_IOERR_READ (extended code)
        (_sqlite_error(None, "Could not decode to UTF-8 column 'x'"), True),  # garbage in a page
        (_sqlite_error(1, "malformed JSON"), True),  # garbage in a page, read by SQL's JSON
        (_sqlite_error(1, "no such column: nope"), False),  # SQLITE_ERROR: a bug in our SQL
    ],
)
def test_which_sqlite_errors_are_the_stores(
    tmp_path: Path, exc: sqlite3.Error, unavailable: bool
) -> None:
    db = Database(tmp_path / "state.sqlite")
    try:
        assert isinstance(db._unavailable(exc), StoreUnavailable) is unavailable
    finally:
        db.close()


def test_a_lock_file_that_cannot_be_made_is_503(tmp_path: Path) -> None:
    """A writer whose lock file cannot be opened (a read-only or full file system) gets a
    503, not an OSError (a 500 in the service, a traceback in a command)."""
    path = tmp_path / "state.sqlite"
    Path(f"{path}.lock").mkdir()  # os.open(O_RDWR) of it fails
    db = Database(path)
    try:
        with (
            pytest.raises(StoreUnavailable, match="state.sqlite cannot be written now"),
            db.transaction(),
        ):
            db.execute("CREATE TABLE t (x)")
    finally:
        db.close()


# -- start-up ------------------------------------------------------------------------------


def _log_with_records(path: Path, n: int = 3000) -> None:
    log = DecisionLog(path)
    log.append_many(
        [Entry("decision", item_id=f"I{i}", detail={"pad": "x" * 200}) for i in range(n)]
    )
    log.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    log.close()


def _garbage_pages(path: Path) -> None:
    """Garbage over a page in the middle of a file that no connection holds."""
    size = path.stat().st_size
    with path.open("r+b") as f:
        f.seek((size // 4096 // 2) * 4096)
        f.write(os.urandom(4096))


def _serve_env(monkeypatch: pytest.MonkeyPatch, trained: Trained, state: Path) -> None:
    monkeypatch.setenv("PARCELSCREEN_STATE_DB", str(state))
    monkeypatch.setenv("PARCELSCREEN_DATA_DIR", str(state.parent))
    monkeypatch.setenv("PARCELSCREEN_REGISTRY", str(trained.registry))
    monkeypatch.setenv("PARCELSCREEN_RELOAD_SECONDS", "0")


def _serve(monkeypatch: pytest.MonkeyPatch) -> int:
    """``parcelscreen serve`` up to the point where uvicorn would start serving."""
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: None)
    return main(["serve"])


def test_serve_refuses_a_damaged_store(
    trained: Trained,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    state = tmp_path / "state.sqlite"
    _log_with_records(state)
    _garbage_pages(state)
    _serve_env(monkeypatch, trained, state)
    assert _serve(monkeypatch) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and str(state) in err and "quick_check" in err, err


@pytest.mark.parametrize("damage", ["pages", "text"])
def test_audit_verify_names_a_damaged_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], damage: str
) -> None:
    state = tmp_path / "state.sqlite"
    _log_with_records(state, 300 if damage == "text" else 3000)
    if damage == "pages":
        _garbage_pages(state)
    else:
        with sqlite3.connect(state) as conn:  # text that is not UTF-8 in one record
            conn.execute("UPDATE decision_log SET detail = CAST(X'7B22FF' AS TEXT) WHERE seq = 150")
        conn.close()
    monkeypatch.setenv("PARCELSCREEN_STATE_DB", str(state))
    assert main(["audit", "verify"]) == 1
    out, err = capsys.readouterr()
    if damage == "pages":
        assert err.startswith("error: ") and str(state) in err and "damaged" in err, err
    else:
        report = json.loads(out)
        assert not report["ok"]
        assert any("record 150: damaged" in p for p in report["problems"]), report["problems"]


# -- the head anchor -----------------------------------------------------------------------


def _anchor(settings: Settings) -> dict[str, Any]:
    path = Path(f"{settings.state_path}.head")
    return dict(json.loads(path.read_text())) if path.is_file() else {}


def _scored_and_stopped(trained: Trained, tmp_path: Path, n: int = 5) -> Settings:
    """A service that scored ``n`` parcels and stopped; its anchor names its head."""
    settings = make_settings(tmp_path / "state", trained.registry)
    servers = start_server(settings)
    server = next(servers)
    try:
        for _ in range(n):
            assert server.client().post("/v1/parcels:score", json=parcel()).status_code == 200
        head = server.service.audit.head()
        assert _eventually(lambda: _anchor(settings).get("seq") == head[0])
    finally:
        servers.close()
    return settings


def test_the_service_keeps_the_anchor_and_export_carries_it(
    trained: Trained,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = _scored_and_stopped(trained, tmp_path)
    log = DecisionLog(settings.state_path)
    try:
        assert log.head() == (_anchor(settings)["seq"], _anchor(settings)["hash"])
    finally:
        log.close()
    monkeypatch.setenv("PARCELSCREEN_STATE_DB", str(settings.state_path))
    assert main(["audit", "export", "--out", str(tmp_path / "log.jsonl")]) == 0
    lines = (tmp_path / "log.jsonl").read_text().splitlines()
    header = json.loads(lines[0])["decision_log_export"]
    assert header["anchor"]["seq"] == header["head"]["seq"] == len(lines) - 1
    assert header["anchor"]["hash"] == header["head"]["hash"] == json.loads(lines[-1])["hash"]
    capsys.readouterr()
    assert main(["audit", "verify"]) == 0
    assert json.loads(capsys.readouterr().out)["anchor"]["seq"] == header["head"]["seq"]


def _cut_tail(path: Path, records: int) -> None:
    """Delete the last records and set the head back to match: a consistent, shorter chain."""
    with sqlite3.connect(path) as conn:
        ((seq,),) = conn.execute("SELECT seq FROM decision_log_head").fetchall()
        keep = seq - records
        ((hash_,),) = conn.execute(
            "SELECT hash FROM decision_log WHERE seq = ?", (keep,)
        ).fetchall()
        conn.execute("DELETE FROM decision_log WHERE seq > ?", (keep,))
        conn.execute("UPDATE decision_log_head SET seq = ?, hash = ?", (keep, hash_))
    conn.close()


def _start_again_from_genesis(path: Path) -> None:
    """The file deleted and a new one made in its place (as any command would make it)."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    DecisionLog(path).close()


@pytest.mark.parametrize(
    ("damage", "named"),
    [
        (lambda p: _cut_tail(p, 3), "were cut off"),  # the last records cut off, head set back
        (_start_again_from_genesis, "started again from genesis"),  # deleted, a fresh chain
    ],
)
def test_a_log_behind_its_anchor_is_named_and_refused_until_reanchored(
    trained: Trained,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    damage: Callable[[Path], None],
    named: str,
) -> None:
    settings = _scored_and_stopped(trained, tmp_path)
    damage(settings.state_path)
    monkeypatch.setenv("PARCELSCREEN_STATE_DB", str(settings.state_path))
    assert main(["audit", "verify"]) == 1  # the chain itself is whole: only the anchor tells
    problems = json.loads(capsys.readouterr().out)["problems"]
    assert any(named in p and "state.sqlite.head" in p for p in problems), problems
    with pytest.raises(StoreRefused, match=named):
        Service(settings)
    _serve_env(monkeypatch, trained, settings.state_path)
    assert _serve(monkeypatch) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: refusing to start") and "reanchor" in err, err
    # the operator's explicit override, recorded in the log; then the service starts
    assert main(["audit", "reanchor", "--reason", "restored from the backup of 07:00"]) == 0
    capsys.readouterr()
    service = Service(settings)
    try:
        (override,) = service.audit.records("anchor_override")
        detail = json.loads(override["detail"])
        assert detail["reason"] == "restored from the backup of 07:00"
        assert named in detail["problem"] and detail["anchor"]["seq"] > detail["head"]["seq"]
        assert service.audit.verify().ok
    finally:
        service.close()


def test_any_error_of_a_replaced_record_database_is_a_503(tmp_path: Path) -> None:
    """A read that fails because the path now holds another file ("no such table") is the
    store's fault, not the request's: a 503 naming the replacement, never a 500."""
    from serving._health import RecordDatabase

    path = tmp_path / "state.sqlite"
    db = RecordDatabase(path)
    try:
        with pytest.raises(sqlite3.OperationalError, match="no such table"):
            db.execute("SELECT * FROM nothing_here")  # the SQL's error while the file is its own
        other = tmp_path / "other.sqlite"
        sqlite3.connect(other).close()
        os.replace(other, path)
        with pytest.raises(StoreUnavailable, match="replaced by another file"):
            db.execute("SELECT * FROM nothing_here")
    finally:
        db.close()
