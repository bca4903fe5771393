"""Outcomes are append-only: a second outcome is refused unless it corrects the current one
with a reason; a correction is stored beside what it corrects, and the entity history, the
queue, the training export and the decision log follow the latest effective outcome.
Overturning a seizure with four eyes on waits for another officer's approval."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pyarrow.parquet as pq
import pytest

from data_contracts import FormError, InspectionOutcome, write_records
from serving import Role, check_record
from serving.officer import UserStore, export_training_data
from serving.officer._parcels import ParcelStore, QueueFilter
from tests.browser.officer_setup import PASSWORD, _declaration, csrf_of, officer_server, sign_in
from tests.conftest import Trained
from tests.factories import outcome
from tests.serving.conftest import Server, make_settings, start_server

CLEAN = {"result": "clean", "substance": None, "quantity_g": None}


@pytest.fixture(scope="module")
def osrv(trained: Trained, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Four eyes off (the default): a reason is enough to correct."""
    yield from officer_server(trained.registry, tmp_path_factory.mktemp("corrections"), parcels=30)


@pytest.fixture(scope="module")
def four_eyes(trained: Trained, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """PARCELSCREEN_FOUR_EYES=1, two officers (olga, otto) and a second officer's API key."""
    settings = make_settings(
        tmp_path_factory.mktemp("four-eyes"),
        trained.registry,
        max_batch=500,
        shadow_check_seconds=0,
        four_eyes=True,
    )
    for server in start_server(settings):
        users = UserStore(server.service.state_db)
        for name in ("olga", "otto"):
            users.add(name, PASSWORD, "officer", officer_ref=f"NL-C-{name.upper()}")
        server.keys["officer2"] = server.service.keys.create(Role.OFFICER, "second")[1]
        batch = {"declarations": [_declaration(i) for i in range(20)]}
        assert server.client("sorter").post("/v1/parcels:score-batch", json=batch).is_success
        yield server


_taken: set[str] = set()


def _queue_item(server: Server) -> str:
    """A parcel of the officer queue (a flagged one) that no test used yet."""
    _, rows = ParcelStore(server.service.state_db).queue(QueueFilter(), 500, 0)
    item = next(str(r["item_id"]) for r in rows if r["item_id"] not in _taken)
    _taken.add(item)
    return item


def _post(
    server: Server, body: dict[str, Any], role: str = "officer", **headers: str
) -> httpx.Response:
    return server.client(role).post("/v1/outcomes", json=body, headers=headers)


def _seized(server: Server, item: str) -> int:
    r = _post(
        server,
        outcome(
            item_id=item,
            recorded_at="2026-03-09T14:00:00+00:00",
            substance="cocaine",
            quantity_g=12.5,
        ),
    )
    assert r.status_code == 201, r.text
    assert r.json()["linked_to_history"] is True
    return int(r.json().get("outcome_id", 0))  # (0: a service that does not name it)


def _correction(
    item: str, corrects: int, reason: str = "lab: no controlled substance", **changes: Any
) -> dict[str, Any]:
    return outcome(
        item_id=item,
        recorded_at="2026-03-12T09:00:00+00:00",
        corrects=corrects,
        correction_reason=reason,
        **(CLEAN | changes),
    )


def _sender_stats(server: Server, item: str) -> tuple[int, int]:
    """(seizures, clean inspections) of the item's sender, as the entity history holds them."""
    backend = server.service.history_backend
    tokens = backend.get_item(item)
    assert tokens is not None
    stats = backend.get("sender", tokens["sender"])
    assert stats is not None
    return stats.seizures, stats.clean


def _queue_status(server: Server, item: str) -> str:
    client, _ = sign_in(server.url, "olga")
    with closing(client):
        page = client.get("/officer/queue", params={"date": ""})
    (row,) = [line for line in page.text.split("<tr ") if f'data-item="{item}"' in line]
    return row.split('class="status')[1].split("</td>")[0]


def _exported(server: Server, tmp: Path, item: str) -> str | None:
    export_training_data(server.settings.state_path, tmp)
    rows = pq.read_table(tmp / "outcomes.parquet").to_pylist()
    return next((r["result"] for r in rows if r["item_id"] == item), None)


def _stored(server: Server, item: str) -> list[dict[str, Any]]:
    return [o for o in server.service.state.outcomes() if o["item_id"] == item]


def _log(server: Server, item: str) -> list[dict[str, Any]]:
    return [
        r
        for r in server.service.audit.records()
        if r["item_id"] == item and r["kind"].startswith("outcome")
    ]


# -- a second outcome without a reason -------------------------------------------------------


def test_a_second_outcome_without_a_reason_is_refused(osrv: Server) -> None:
    item = _queue_item(osrv)
    first = _seized(osrv, item)
    r = _post(osrv, outcome(item_id=item, **CLEAN))
    assert r.status_code == 409
    error = r.json()["error"]
    assert error["code"] == "outcome_conflict"
    assert f'"corrects": {first}' in error["message"] and "correction_reason" in error["message"]
    assert error["current_outcome"]["outcome_id"] == first
    assert error["current_outcome"]["result"] == "seized"
    assert [o["result"] for o in _stored(osrv, item)] == ["seized"]  # nothing overwritten
    assert _sender_stats(osrv, item)[0] >= 1
    # a reason without the outcome it corrects, or the other way round, breaks the contract
    for half in ({"corrects": first}, {"correction_reason": "typo"}):
        r = _post(osrv, outcome(item_id=item, **CLEAN) | half)
        assert r.status_code == 422 and "both or neither" in r.text
    assert "■ Seized" in _queue_status(osrv, item)


def test_the_officer_form_asks_for_a_reason(osrv: Server) -> None:
    item = _queue_item(osrv)
    client, _ = sign_in(osrv.url, "olga")
    with closing(client):
        url = f"/officer/parcels/{item}/outcome"
        page = client.get(f"/officer/parcels/{item}")
        assert 'name="corrects"' not in page.text  # no outcome yet: a first record
        stale = csrf_of(page.text)
        r = client.post(
            url,
            data={
                "csrf": stale,
                "inspected": "yes",
                "result": "seized",
                "substance": "cocaine",
                "quantity_g": "12,5",
            },
        )
        assert r.status_code == 303
        page = client.get(f"/officer/parcels/{item}")
        assert 'name="corrects"' in page.text and "needs a reason" in page.text
        # one click of "Inspected: clean" on the correction form, with no reason: refused
        first = page.text.split('name="corrects" value="')[1].split('"')[0]
        r = client.post(
            url,
            data={
                "csrf": csrf_of(page.text),
                "corrects": first,
                "inspected": "yes",
                "result": "clean",
            },
        )
        assert r.status_code == 422 and "a correction needs a reason" in r.text
        # the form of a page loaded before the seizure was recorded: refused, not overwritten
        r = client.post(url, data={"csrf": stale, "inspected": "yes", "result": "clean"})
        assert r.status_code == 409 and "recorded or corrected meanwhile" in r.text
        assert 'name="corrects"' in r.text  # the page asks for a correction now
    assert [o["result"] for o in _stored(osrv, item)] == ["seized"]
    assert _sender_stats(osrv, item)[0] >= 1


# -- a correction with a reason --------------------------------------------------------------


def test_a_correction_with_a_reason_is_stored_beside_the_first(osrv: Server) -> None:
    item = _queue_item(osrv)
    first = _seized(osrv, item)
    r = _post(osrv, _correction(item, first, "lab report 2026/114: sugar"))
    assert r.status_code == 201, r.text
    answer = r.json()
    assert answer["corrects"] == first and answer["effective"] is True
    second = answer["outcome_id"]
    trail = osrv.service.record.state.outcome_trail(item)
    assert [(o.id, o.result, o.corrects) for o in trail] == [
        (first, "seized", None),
        (second, "clean", first),
    ]
    assert trail[0].record["quantity_g"] == 12.5  # the first record is kept as it was
    assert trail[1].record["correction_reason"] == "lab report 2026/114: sugar"
    # a correction names the item's current outcome: the first is no longer it
    r = _post(osrv, _correction(item, first, "again"))
    assert r.status_code == 409
    assert r.json()["error"]["current_outcome"]["outcome_id"] == second
    # the parcel page shows the trail: who, when, why, and where each record stands
    client, _ = sign_in(osrv.url, "ada")
    with closing(client):
        page = client.get(f"/officer/parcels/{item}").text
    trail_html = page.split('<ul id="outcomes">')[1].split("</ul>")[0]
    assert f'id="outcome-{first}" data-standing="corrected"' in trail_html
    assert f'id="outcome-{second}" data-standing="current"' in trail_html
    assert f"corrects #{first}" in trail_html and "lab report 2026/114: sugar" in trail_html
    assert "NL-C-0042" in trail_html and "cocaine (12.5 g)" in trail_html
    log = page.split('id="decision-log"')[1]
    assert "Outcome recorded" in log and "Outcome corrected" in log
    assert check_record(osrv.service.record).ok, check_record(osrv.service.record).problems


def test_a_correction_that_changes_nothing_is_refused_and_writes_nothing(osrv: Server) -> None:
    item = _queue_item(osrv)
    first = _seized(osrv, item)
    logged = len(_log(osrv, item))
    same = _correction(item, first, "typo", result="seized", substance="cocaine", quantity_g=12.5)
    # who recorded it, when, and the case of a word change nothing of the outcome
    r = _post(osrv, same | {"officer_ref": "NL-C-0099", "substance": " Cocaine"})
    assert r.status_code == 409, r.text
    error = r.json()["error"]
    assert error["code"] == "outcome_unchanged"
    assert f"item {item} is already recorded as seized" in error["message"]
    assert "(substance cocaine, quantity_g 12.5)" in error["message"]  # as stored, not as sent
    assert "nothing was recorded" in error["message"]
    assert error["current_outcome"]["outcome_id"] == first
    assert [o["result"] for o in _stored(osrv, item)] == ["seized"]
    assert len(_log(osrv, item)) == logged
    # a correction of the quantity alone changes the outcome: recorded
    r = _post(osrv, same | {"quantity_g": 11.9})
    assert r.status_code == 201, r.text
    assert [o["result"] for o in _stored(osrv, item)] == ["seized", "seized"]


def test_the_officer_form_refuses_a_correction_that_changes_nothing(osrv: Server) -> None:
    item = _queue_item(osrv)
    client, _ = sign_in(osrv.url, "olga")
    with closing(client):
        page = client.get(f"/officer/parcels/{item}")
        quick = {"csrf": csrf_of(page.text), "outcome": "released", "then": "stay"}
        assert client.post(f"/officer/parcels/{item}/quick", data=quick).status_code == 303
        logged = len(_log(osrv, item))
        page = client.get(f"/officer/parcels/{item}")
        first = page.text.split('name="corrects" value="')[1].split('"')[0]
        r = client.post(
            f"/officer/parcels/{item}/outcome",
            data={
                "csrf": csrf_of(page.text),
                "corrects": first,
                "correction_reason": "wrong button",
                "outcome": "released",
            },
        )
        assert r.status_code == 409
        assert "already recorded as Released without inspection" in r.text
        assert "Nothing was recorded" in r.text
    assert [o["result"] for o in _stored(osrv, item)] == [None]
    assert len(_log(osrv, item)) == logged


def test_a_retried_request_is_answered_from_the_record(osrv: Server) -> None:
    item = _queue_item(osrv)
    body = outcome(item_id=item)
    first = _post(osrv, body, **{"X-Request-ID": f"retry-{item}"})
    again = _post(osrv, body, **{"X-Request-ID": f"retry-{item}"})
    assert len(_stored(osrv, item)) == 1
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and first.json()["effective"] is True


# -- a seizure overturned: history, queue, export and log follow ---------------------------


def test_an_overturned_seizure_moves_history_queue_and_export(
    osrv: Server,
    tmp_path: Path,
) -> None:
    item = _queue_item(osrv)
    seizures, clean = _sender_stats(osrv, item)
    first = _seized(osrv, item)
    assert _sender_stats(osrv, item) == (seizures + 1, clean)
    assert "■ Seized" in _queue_status(osrv, item)
    assert _exported(osrv, tmp_path / "before", item) == "seized"

    r = _post(osrv, _correction(item, first))
    assert r.status_code == 201 and r.json()["linked_to_history"] is True
    assert _sender_stats(osrv, item) == (seizures, clean + 1)  # one down, one up
    assert "✓ Clean" in _queue_status(osrv, item)
    assert _exported(osrv, tmp_path / "after", item) == "clean"
    kinds = [(r["kind"], r["decision"]) for r in _log(osrv, item)]
    assert kinds == [("outcome", "seized"), ("outcome_correction", "clean")]
    (logged,) = [r for r in _log(osrv, item) if r["kind"] == "outcome_correction"]
    detail = json.loads(logged["detail"])
    assert detail["corrects"] == first and detail["overturns_seizure"] is True
    assert detail["correction_reason"] == "lab: no controlled substance"

    # corrected again to "not inspected": clean goes down too; the item still counts once
    second = r.json()["outcome_id"]
    r = _post(
        osrv,
        _correction(
            item,
            second,
            "entered on the wrong parcel",
            inspected=False,
            result=None,
            selection_reason=None,
            selection_probability=None,
        ),
    )
    assert r.status_code == 201, r.text
    assert _sender_stats(osrv, item) == (seizures, clean)
    assert "Released without inspection" in _queue_status(osrv, item)
    assert check_record(osrv.service.record).ok, check_record(osrv.service.record).problems


# -- four eyes ------------------------------------------------------------------------------


def test_four_eyes_a_seizure_overturned_waits_for_another_officer(
    four_eyes: Server,
    tmp_path: Path,
) -> None:
    item = _queue_item(four_eyes)
    seizures, clean = _sender_stats(four_eyes, item)
    olga, _ = sign_in(four_eyes.url, "olga")
    otto, _ = sign_in(four_eyes.url, "otto")
    with closing(olga), closing(otto):
        page = olga.get(f"/officer/parcels/{item}").text
        r = olga.post(
            f"/officer/parcels/{item}/outcome",
            data={
                "csrf": csrf_of(page),
                "inspected": "yes",
                "result": "seized",
                "substance": "cocaine",
                "quantity_g": "12.5",
            },
        )
        assert r.status_code == 303
        page = olga.get(f"/officer/parcels/{item}").text
        assert 'id="four-eyes"' in page  # the form says a second officer must approve
        first = int(page.split('name="corrects" value="')[1].split('"')[0])
        r = olga.post(
            f"/officer/parcels/{item}/outcome",
            data={
                "csrf": csrf_of(page),
                "corrects": str(first),
                "inspected": "yes",
                "result": "clean",
                "correction_reason": "lab: powdered sugar",
            },
        )
        assert r.status_code == 303 and "saved=pending" in r.headers["location"]
        (pending,) = [o for o in four_eyes.service.state.outcome_trail(item) if o.corrects]
        assert pending.state == "pending"

        # pending: counted nowhere
        assert _sender_stats(four_eyes, item) == (seizures + 1, clean)
        status = _queue_status(four_eyes, item)
        assert "■ Seized" in status and "correction waiting for approval" in status
        assert _exported(four_eyes, tmp_path / "pending", item) == "seized"

        # the officer who asked cannot approve: no button for her, and refused if she tries
        page = olga.get(f"/officer/parcels/{item}").text
        assert f"Approve correction #{pending.id}" not in page
        assert "Another officer must approve it." in page
        approve = f"/officer/parcels/{item}/outcomes/{pending.id}/approve"
        r = olga.post(approve, data={"csrf": csrf_of(page)})
        assert r.status_code == 403 and "you cannot approve it" in r.text
        assert four_eyes.service.state.outcome(pending.id).state == "pending"  # type: ignore[union-attr]

        # another officer approves: now it counts everywhere
        page = otto.get(f"/officer/parcels/{item}").text
        assert f"Approve correction #{pending.id}" in page
        r = otto.post(approve, data={"csrf": csrf_of(page)})
        assert r.status_code == 303 and "approved=1" in r.headers["location"]
        page = otto.get(f"/officer/parcels/{item}").text
        assert "approved by officer:otto" in page and "Correction approved" in page
    assert _sender_stats(four_eyes, item) == (seizures, clean + 1)
    assert "✓ Clean" in _queue_status(four_eyes, item)
    assert _exported(four_eyes, tmp_path / "approved", item) == "clean"
    kinds = [(r["kind"], r["caller"]) for r in _log(four_eyes, item)]
    assert kinds == [
        ("outcome", "officer:olga"),
        ("outcome_correction_pending", "officer:olga"),
        ("outcome_correction_approved", "officer:otto"),
    ]
    assert check_record(four_eyes.service.record).ok


def test_four_eyes_over_the_api(four_eyes: Server) -> None:
    item = _queue_item(four_eyes)
    first = _seized(four_eyes, item)
    r = _post(four_eyes, _correction(item, first))
    assert r.status_code == 201 and r.json()["effective"] is False
    pending = r.json()["outcome_id"]
    url = f"/v1/outcomes/{pending}:approve"
    r = four_eyes.client("officer").post(url)  # the key that asked
    assert r.status_code == 403 and "another officer must" in r.json()["error"]["message"]
    r = four_eyes.client("officer2").post(url)
    assert r.status_code == 200, r.text
    assert r.json()["effective"] is True and r.json()["linked_to_history"] is True
    assert four_eyes.client("officer2").post(url).status_code == 409  # approved already
    assert four_eyes.client("officer2").post("/v1/outcomes/999999999:approve").status_code == 404
    assert four_eyes.client("sorter").post(url).status_code == 403
    # a correction that does not overturn a seizure counts at once, four eyes or not
    r = _post(
        four_eyes,
        _correction(
            item,
            pending,
            "lab: cocaine after all",
            result="seized",
            substance="cocaine",
            quantity_g=11.0,
        ),
    )
    assert r.status_code == 201 and r.json()["effective"] is True
    assert _stored(four_eyes, item)[-1]["quantity_g"] == 11.0


def test_four_eyes_a_pending_correction_of_a_corrected_outcome_is_not_approved(
    four_eyes: Server,
) -> None:
    item = _queue_item(four_eyes)
    first = _seized(four_eyes, item)
    pending = _post(four_eyes, _correction(item, first)).json()["outcome_id"]
    # meanwhile the seizure is corrected another way (the weight), effective at once
    r = _post(
        four_eyes,
        _correction(
            item, first, "weighed again", result="seized", substance="cocaine", quantity_g=9.0
        ),
        "officer2",
    )
    assert r.status_code == 201 and r.json()["effective"] is True
    weighed = r.json()["outcome_id"]
    r = four_eyes.client("officer2").post(f"/v1/outcomes/{pending}:approve")
    assert r.status_code == 409
    assert r.json()["error"]["current_outcome"]["outcome_id"] == weighed
    client, _ = sign_in(four_eyes.url, "otto")
    with closing(client):
        page = client.get(f"/officer/parcels/{item}").text
    assert f'id="outcome-{pending}" data-standing="outdated"' in page
    assert _sender_stats(four_eyes, item)[0] >= 1


# -- the contract's forms and the import -----------------------------------------------------


def test_a_correction_is_carried_in_json_only(tmp_path: Path) -> None:
    correction = InspectionOutcome.model_validate(_correction("RR123456785NL", 7))
    write_records([correction], tmp_path / "c.jsonl", "outcome")
    (line,) = (tmp_path / "c.jsonl").read_text().splitlines()
    assert json.loads(line)["corrects"] == 7
    for name in ("c.csv", "c.parquet"):  # one outcome per item there: refused, not dropped
        with pytest.raises(FormError, match="JSON or JSON Lines only"):
            write_records([correction], tmp_path / name, "outcome")
    plain = InspectionOutcome.model_validate(outcome())
    write_records([plain], tmp_path / "p.csv", "outcome")  # version-1 columns, as before
    assert "corrects" not in (tmp_path / "p.csv").read_text()


def test_import_refuses_a_second_outcome_and_records_a_correction(
    osrv: Server,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from parcelscreen.cli import main

    item = _queue_item(osrv)
    first = _seized(osrv, item)
    file = tmp_path / "outcomes.jsonl"
    file.write_text(
        json.dumps(outcome(item_id=item, **CLEAN))
        + "\n"
        + json.dumps(_correction(item, first))
        + "\n"
    )
    monkeypatch.setenv("PARCELSCREEN_DATA_DIR", str(osrv.settings.data_dir))
    assert main(["outcomes", "import", str(file)]) == 1
    out = capsys.readouterr()
    assert json.loads(out.out) == {"recorded": 1, "linked_to_history": 1, "refused": 1}
    assert f'"corrects": {first}' in out.err
    assert [o["result"] for o in _stored(osrv, item)] == ["seized", "clean"]


def test_state_check_names_broken_corrections_and_a_history_that_counts_another_result(
    tmp_path: Path,
) -> None:
    from screening.history import SEIZED
    from serving import Record, Settings

    record = Record(Settings(data_dir=tmp_path))
    ParcelStore(record.db)  # the officer copy's tables, as the service makes them
    try:
        state = record.state
        a = state.put_outcome("RR000000001NL", "t", "t", "r1", "k1", False, {"result": "seized"})
        b = state.put_outcome("RR000000002NL", "t", "t", "r2", "k1", False, {"result": "seized"})
        bad = state.put_outcome(
            "RR000000002NL", "t", "t", "r3", "k1", False, {"result": "clean"}, corrects=a
        )
        own = state.put_outcome(
            "RR000000002NL",
            "t",
            "t",
            "r4",
            "k1",
            False,
            {"result": "clean"},
            corrects=b,
            state="pending",
        )
        state.approve_outcome(own, "k1", "t", "r5", linked=False)
        record.history_backend.put_item("RR000000003NL", {}, outcome=SEIZED, posted_us=0)
        state.put_outcome("RR000000003NL", "t", "t", "r6", "k1", True, {"result": "clean"})
        problems = " | ".join(check_record(record).problems)
    finally:
        record.close()
    for named in (
        f"corrections that name no earlier outcome of their item (outcome IDs): {bad}",
        f"corrections approved by the officer who asked (outcome IDs): {own}",
        f"approvals with no decision-log record (outcome IDs): {own}",
        "items whose entity history counts another result than their current "
        "outcome (item IDs): RR000000003NL",
    ):
        assert named in problems


def test_history_load_counts_a_laboratory_correction_as_clean(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """An outcomes file with an item's seizure and, later, the laboratory's clean result (as
    the simulator writes them): the loaded history counts the item as clean."""
    from data_contracts import ParcelDeclaration, make_s10
    from parcelscreen.cli import main
    from serving import Record, Settings
    from tests.factories import declaration

    posted = ("2026-03-01T10:00:00+00:00", "2026-03-02T10:00:00+00:00")
    decls = [
        ParcelDeclaration.model_validate(declaration(item_id=make_s10("RR", n, "NL"), posted_at=at))
        for n, at in enumerate(posted, start=1)
    ]
    write_records(decls, tmp_path / "declarations.parquet", "declaration")
    item = decls[0].item_id
    write_records(
        [
            InspectionOutcome.model_validate(o)
            for o in (
                outcome(item_id=item, recorded_at="2026-03-01T12:00:00+00:00"),
                outcome(item_id=item, recorded_at="2026-03-20T12:00:00+00:00", **CLEAN),
            )
        ],
        tmp_path / "outcomes.parquet",
        "outcome",
    )
    monkeypatch.setenv("PARCELSCREEN_DATA_DIR", str(tmp_path / "state"))
    assert (
        main(
            [
                "history",
                "load",
                str(tmp_path / "declarations.parquet"),
                "--outcomes",
                str(tmp_path / "outcomes.parquet"),
            ]
        )
        == 0
    )
    capsys.readouterr()
    record = Record(Settings(data_dir=tmp_path / "state"))
    try:
        tokens = record.history_backend.get_item(item)
        assert tokens is not None
        stats = record.history_backend.get("sender", tokens["sender"])
        assert stats is not None and (stats.seizures, stats.clean) == (0, 1)
    finally:
        record.close()
