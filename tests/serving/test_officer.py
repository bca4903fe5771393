"""The officer view over HTTP: sign-in, CSRF, roles, queue, outcomes and the feedback loop."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pyarrow.parquet as pq
import pytest

from data_contracts import ParcelDeclaration
from screening import ModelRegistry, Pseudonymiser
from serving.officer import pseudonymise_declaration
from tests.browser.officer_setup import PASSWORD, csrf_of, officer_server, sign_in
from tests.conftest import Trained
from tests.serving.conftest import Server, live_while_store_held, parcel
from training import load_dataset


@pytest.fixture(scope="module")
def osrv(trained: Trained, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from officer_server(trained.registry, tmp_path_factory.mktemp("officer"), parcels=40)


@pytest.mark.parametrize(
    ("username", "password", "status"),
    [
        ("olga", PASSWORD, 303),  # an officer signs in
        ("ada", PASSWORD, 303),  # an admin may use the view too
        ("sam", PASSWORD, 403),  # a sorter account is refused: no officer role
        ("olga", "wrong password!", 401),  # wrong password
        ("nobody", PASSWORD, 401),  # unknown user
    ],
)
def test_sign_in(osrv: Server, username: str, password: str, status: int) -> None:
    client, response = sign_in(osrv.url, username, password)
    with closing(client):
        assert response.status_code == status
        if status == 303:
            cookie = response.headers["set-cookie"]
            assert "HttpOnly" in cookie and "SameSite=strict" in cookie
            assert client.get("/officer/queue").status_code == 200


READ_PAGES = (
    "/officer/queue",
    "/officer/queue?status=open&sort=risk",
    "/officer/find?q=rr1",
    "/officer/parcels/RR123456785NL",
    "/officer/parcels/RR123456785NL/case-record",
    "/officer/parcels/RR123456785NL/attachments/1",
    "/officer/model",
    "/officer/report",
    "/officer/export/worklist.csv",
    "/officer/export/outcomes.csv",
)


def test_pages_need_a_session(osrv: Server) -> None:
    with httpx.Client(base_url=osrv.url) as client:
        for page in READ_PAGES:  # each read route's one signed-in dependency
            r = client.get(page)
            assert r.status_code == 303, page
            assert r.headers["location"] == "/officer/login?" + urlencode({"next": page})
            assert r.headers["x-frame-options"] == "DENY" and not r.content, page
        client.cookies.set("ps_session", "not-a-session", path="/officer")
        assert client.get("/officer/model").status_code == 303  # an unknown cookie: sign in
        item = "RR123456785NL"
        assert client.post(f"/officer/parcels/{item}/outcome").status_code == 303


def test_forms_without_csrf_are_refused(osrv: Server) -> None:
    client, _ = sign_in(osrv.url, "olga")
    with closing(client):
        page = client.get("/officer/queue")
        item = page.text.split('href="/officer/parcels/')[1].split('"')[0]
        for data in ({}, {"csrf": "forged"}):
            r = client.post(
                f"/officer/parcels/{item}/outcome",
                data=data | {"inspected": "yes", "result": "seized"},
            )
            assert r.status_code == 403 and "security token" in r.text
        assert not osrv.service.state.outcomes() or all(
            o["item_id"] != item for o in osrv.service.state.outcomes()
        )
    with httpx.Client(base_url=osrv.url) as anonymous:
        login = anonymous.get("/officer/login")
        r = anonymous.post("/officer/login", data={"username": "olga", "password": PASSWORD})
        assert r.status_code == 403 and csrf_of(login.text)


def test_halt_is_for_admins_only(osrv: Server) -> None:
    officer, _ = sign_in(osrv.url, "olga")
    admin, _ = sign_in(osrv.url, "ada")
    with closing(officer), closing(admin):
        csrf = csrf_of(officer.get("/officer/model").text)
        r = officer.post("/officer/model/halt", data={"csrf": csrf, "reason": "test"})
        assert r.status_code == 403 and not osrv.service.halted
        page = admin.get("/officer/model")
        assert "Halt model-based selection" in page.text
        r = admin.post("/officer/model/halt", data={"csrf": csrf_of(page.text), "reason": "t"})
        assert r.status_code == 303 and osrv.service.halted
        assert 'id="halted"' in officer.get("/officer/queue").text  # said where officers work
        csrf = csrf_of(admin.get("/officer/model").text)
        admin.post("/officer/model/resume", data={"csrf": csrf, "reason": "done"})
        assert not osrv.service.halted
    kinds = [r["kind"] for r in osrv.service.audit.records()]
    assert "halt" in kinds and "resume" in kinds


def test_outcome_form_speaks_to_the_officer(osrv: Server) -> None:
    client, _ = sign_in(osrv.url, "olga")
    with closing(client):
        page = client.get("/officer/queue")
        item = page.text.split('href="/officer/parcels/')[1].split('"')[0]
        parcel = client.get(f"/officer/parcels/{item}")
        assert 'name="outcome" value="seized" required>' in parcel.text  # nothing chosen
        assert "checked" not in parcel.text.split('class="outcome-form"')[1].split("</form>")[0]
        csrf = csrf_of(parcel.text)
        url = f"/officer/parcels/{item}/outcome"
        r = client.post(url, data={"csrf": csrf, "result": "clean"})
        assert r.status_code == 422 and "Choose the outcome: seized, clean" in r.text
        r = client.post(
            url, data={"csrf": csrf, "inspected": "yes", "result": "clean", "substance": "tea"}
        )
        assert r.status_code == 422
        assert "recorded only for a seizure: clear them, or choose" in r.text
        assert "(record)" not in r.text and "see the form below" in r.text
        r = client.post(
            url,
            data={
                "csrf": csrf,
                "inspected": "yes",
                "result": "clean",
                "disagree_reason": "a plain birthday card",
            },
        )
        assert r.status_code == 303
    (feedback,) = [
        f for f in osrv.service.audit.records("officer_feedback") if f["item_id"] == item
    ]
    assert feedback["decision"] == "disagree"  # the reason counts without the tick box


def test_queue_filters_and_pages(osrv: Server) -> None:
    client, _ = sign_in(osrv.url, "olga")
    with closing(client):
        everything = client.get("/officer/queue")  # the default: open parcels, any day
        assert everything.status_code == 200 and "Open parcels of any day" in everything.text
        nl = client.get("/officer/queue", params={"origin": "NL"})
        rows = [line for line in nl.text.splitlines() if "<tr data-item=" in line]
        cells = nl.text.count('data-label="Origin">NL</td>')
        assert rows and cells == len(rows) and 'data-label="Origin">CA</td>' not in nl.text
        none = client.get("/officer/queue", params={"date": "2001-01-01"})
        assert "No flagged parcels" in none.text and "posted on 2001-01-01" in none.text
        assert "Flagged parcels of any day" in client.get("/officer/queue?date=").text
        for page in ("\u00b2", "9" * 23, "1" * 5000, "-1", "0"):  # not a page: the first
            r = client.get("/officer/queue", params={"page": page})
            assert r.status_code == 200 and "Open parcels of any day" in r.text
        by_weight = client.get(
            "/officer/queue", params={"status": "", "sort": "weight", "dir": "asc"}
        ).text
        weights = [
            float(c.split(">")[1].split(" kg")[0])
            for c in by_weight.split('data-label="Gross weight"')[1:]
        ]
        assert weights == sorted(weights) and len(weights) > 3
        assert 'aria-sort="ascending"' in by_weight


def test_sign_ins_sent_together_are_throttled_too(osrv: Server) -> None:
    from concurrent.futures import ThreadPoolExecutor

    clients = [httpx.Client(base_url=osrv.url, timeout=30) for _ in range(12)]
    forms = [
        {
            "csrf": csrf_of(c.get("/officer/login").text),
            "username": "together",
            "password": "guess",
            "next": "",
        }
        for c in clients
    ]
    with ThreadPoolExecutor(12) as pool:
        codes = list(
            pool.map(
                lambda cf: cf[0].post("/officer/login", data=cf[1]).status_code,
                zip(clients, forms, strict=True),
            )
        )
    for c in clients:
        c.close()
    assert sorted(codes) == [401] * 5 + [429] * 7


def test_failed_sign_ins_are_throttled_per_user_name(osrv: Server) -> None:
    before = len(osrv.service.audit.records("officer_signin_refused"))
    for _ in range(5):
        client, response = sign_in(osrv.url, "not-an-account", "guess")
        client.close()
        assert response.status_code == 401
    client, response = sign_in(osrv.url, "not-an-account", PASSWORD)
    client.close()
    assert response.status_code == 429 and "Too many failed sign-ins" in response.text
    assert 0 < int(response.headers["retry-after"]) <= 900
    refused = osrv.service.audit.records("officer_signin_refused")[before:]
    assert [r["caller"] for r in refused] == ["officer:(no such user)"] * 5  # not the 6th
    client, response = sign_in(osrv.url, "olga")  # another user name signs in as before
    client.close()
    assert response.status_code == 303


def test_outcome_feeds_history_and_next_training_set(osrv: Server, tmp_path: Path) -> None:
    sender = {"sender.name": "Feedback Sender", "sender.street": "Canal 9"}
    first = parcel(**sender, posted_at="2026-03-02T09:00:00+00:00")
    score = osrv.client("sorter").post("/v1/parcels:score", json=first)
    assert score.status_code == 200
    item = first["item_id"]
    client, _ = sign_in(osrv.url, "olga")
    with closing(client):
        page = client.get(f"/officer/parcels/{item}")
        assert page.status_code == 200 and "<svg" in page.text
        assert "Jan" not in page.text and "Feedback Sender" not in page.text  # no clear names
        r = client.post(
            f"/officer/parcels/{item}/outcome",
            data={
                "csrf": csrf_of(page.text),
                "inspected": "yes",
                "result": "seized",
                "substance": "MDMA",
                "quantity_g": "12.5",
                "notes": "pills in a tea tin",
                "disagree": "yes",
                "disagree_reason": "label looked fine",
            },
        )
        assert r.status_code == 303
        after = client.get(f"/officer/parcels/{item}")
        assert "MDMA" in after.text and "label looked fine" in after.text
    stored = [o for o in osrv.service.state.outcomes() if o["item_id"] == item]
    assert stored[0]["result"] == "seized" and stored[0]["officer_ref"] == "NL-C-OLGA"
    log = [r for r in osrv.service.audit.records() if r["item_id"] == item]
    assert {"outcome", "officer_feedback", "explanation_viewed"} <= {r["kind"] for r in log}
    assert all(r["caller"] == "officer:olga" for r in log if r["kind"] == "outcome")

    second = parcel(**sender, posted_at="2026-03-03T09:00:00+00:00")
    osrv.client("sorter").post("/v1/parcels:score", json=second)
    features = (
        osrv.client("officer")
        .get(f"/v1/parcels/{second['item_id']}/explanation")
        .json()["features"]
    )
    assert features["sender_prev_seizures"] == 1
    assert features["sender_address_prev_seizures"] == 1

    from serving.officer import export_training_data

    summary = export_training_data(osrv.settings.state_path, tmp_path)
    assert summary["outcomes"] >= 1 and summary["seizures"] >= 1
    declarations = pq.read_table(tmp_path / "declarations.parquet")
    assert item in declarations.column("item_id").to_pylist()
    names = declarations.column("sender").combine_chunks().field("name").to_pylist()
    assert "Feedback Sender" not in names
    data = load_dataset(
        tmp_path / "declarations.parquet",
        tmp_path / "outcomes.parquet",
        Pseudonymiser("another-key-for-training-0123"),
    )
    row = list(data.frame.item_id).index(item)
    assert bool(data.seized[row]) and bool(data.inspected[row])


def test_pseudonymised_declaration_keeps_links_not_names() -> None:
    p = Pseudonymiser("test-pseudonymisation-key-0123456789")
    a = ParcelDeclaration.model_validate(parcel())
    b = ParcelDeclaration.model_validate(parcel(**{"sender.name": "JAN DE VRIES"}))
    pa_, pb = pseudonymise_declaration(a, p), pseudonymise_declaration(b, p)
    assert pa_["sender"]["name"] == pb["sender"]["name"] != "Jan de Vries"
    assert pa_["sender"]["country"] == "NL" and pa_["recipient"].get("phone") is None
    ParcelDeclaration.model_validate(pa_)


def test_challenger_scores_in_shadow(trained: Trained, tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path / "registry")
    source = ModelRegistry(trained.registry)
    registry.set_alias("champion", registry.publish(source.path(trained.version)))
    challenger = registry.publish(source.path(trained.version), version="challenger-1")
    registry.set_alias("challenger", challenger)
    for server in officer_server(tmp_path / "registry", tmp_path / "state", parcels=30):
        client, _ = sign_in(server.url, "olga")
        with closing(client):
            queue = client.get("/officer/queue").text
            item = queue.split('href="/officer/parcels/')[1].split('"')[0]
            page = client.get(f"/officer/parcels/{item}")
            client.post(
                f"/officer/parcels/{item}/outcome",
                data={"csrf": csrf_of(page.text), "inspected": "yes", "result": "clean"},
            )
            model = client.get("/officer/model").text
        assert "challenger-1" in model and '<table id="shadow">' in model
        ((shadowed,),) = server.service.state_db.execute(
            "SELECT count(*) FROM officer_parcel WHERE shadow_version = 'challenger-1'"
        )
        assert shadowed == 30
        decisions = server.service.audit.records("decision")
        assert all(r["model_version"] != "challenger-1" for r in decisions)


def test_users_cli_hashes_passwords(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from parcelscreen import _users_cmd
    from serving import Database
    from serving.officer import UserStore

    monkeypatch.setenv("PARCELSCREEN_DATA_DIR", str(tmp_path))
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough secret\n"))
    parser = __import__("argparse").ArgumentParser()
    _users_cmd.add_parser(parser.add_subparsers())
    args = parser.parse_args(["users", "add", "otto", "--role", "admin", "--password-stdin"])
    assert args.func(args) == 0
    db = Database(tmp_path / "state.sqlite")
    store = UserStore(db)
    assert store.check("otto", "a long enough secret") is not None
    assert store.check("otto", "wrong") is None
    ((digest,),) = db.execute("SELECT digest FROM officer_user")
    assert b"a long enough secret" not in digest


def test_a_quantity_with_a_thousands_separator_is_refused_not_misread(osrv: Server) -> None:
    client, _ = sign_in(osrv.url, "olga")
    with closing(client):
        page = client.get("/officer/queue")
        item = page.text.split('href="/officer/parcels/')[1].split('"')[0]
        csrf = csrf_of(client.get(f"/officer/parcels/{item}").text)
        r = client.post(
            f"/officer/parcels/{item}/outcome",
            data={
                "csrf": csrf,
                "inspected": "yes",
                "result": "seized",
                "substance": "MDMA",
                "quantity_g": "1,500",
            },
        )
        assert r.status_code == 422 and "1500, not 1,500" in r.text


def test_officer_pages_wait_for_a_held_store_off_the_event_loop(osrv: Server) -> None:
    client, _ = sign_in(osrv.url, "olga")
    with closing(client):
        assert live_while_store_held(osrv, lambda: client.get("/officer/queue", timeout=15))


def test_a_form_field_sent_twice_is_refused_and_nothing_is_recorded(osrv: Server) -> None:
    client, _ = sign_in(osrv.url, "olga")
    with closing(client):
        page = client.get("/officer/queue?status=open")
        item = page.text.split('href="/officer/parcels/')[1].split('"')[0]
        csrf = csrf_of(client.get(f"/officer/parcels/{item}").text)
        audited = len(osrv.service.audit.records())
        sent: list[tuple[str, dict[str, str | list[str]], str]] = [
            ("quick", {"outcome": ["clean", "seized"]}, "outcome"),
            (
                "outcome",
                {"outcome": "seized", "substance": "cocaine", "quantity_g": ["5", "5000"]},
                "quantity_g",
            ),
            ("case", {"seal": ["BAG-1", "BAG-2"]}, "seal"),
            ("claim", {"action": "claim", "csrf": [csrf, csrf]}, "csrf"),
        ]
        for route, data, field in sent:
            r = client.post(f"/officer/parcels/{item}/{route}", data={"csrf": csrf} | data)
            assert r.status_code == 400, route
            assert f"sent the field {field} more than once" in r.text, route
        r = client.post(
            f"/officer/parcels/{item}/attachments",
            data={"csrf": csrf, "w": ["", "status=open"]},
            files={"file": ("a.txt", b"hello", "text/plain")},
        )
        assert r.status_code == 400 and "sent the field w more than once" in r.text
        assert all(o["item_id"] != item for o in osrv.service.state.outcomes())
        assert len(osrv.service.audit.records()) == audited  # nothing recorded, nothing logged
    with httpx.Client(base_url=osrv.url) as anonymous:
        csrf = csrf_of(anonymous.get("/officer/login").text)
        r = anonymous.post(
            "/officer/login", data={"csrf": csrf, "username": ["olga", "ada"], "password": PASSWORD}
        )
        assert r.status_code == 400 and "sent the field username more than once" in r.text
