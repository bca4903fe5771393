"""The officer's worklist over HTTP: the default view, days in the officer's zone, search,
one-click outcomes and save-and-next, claims and assignment, the case record and its
attachments, the parcel's log with views counted, exports and the shift report."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from contextlib import closing
from datetime import datetime
from typing import Any

import httpx
import pytest

from serving.officer._worklist import QueueFilter, Worklists, day_bounds
from tests.browser.officer_setup import csrf_of, officer_server, sign_in
from tests.conftest import Trained
from tests.serving.conftest import Server

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture(scope="module")
def osrv(trained: Trained, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from officer_server(trained.registry, tmp_path_factory.mktemp("worklist"), parcels=60)


def _open(osrv: Server, **where: Any) -> list[str]:
    f = QueueFilter(status="open", unclaimed=True, **where)
    return Worklists(osrv.service.state_db).item_ids(f)


def _post(client: httpx.Client, url: str, data: dict[str, str], page: str) -> httpx.Response:
    return client.post(url, data={"csrf": csrf_of(client.get(page).text)} | data)


def test_a_local_day_is_its_own_hours_in_utc() -> None:
    assert day_bounds("2026-03-02", "Europe/Amsterdam") == (
        "2026-03-01 23:00:00",
        "2026-03-02 23:00:00",
    )
    assert day_bounds("2026-07-01", "UTC") == ("2026-07-01 00:00:00", "2026-07-02 00:00:00")


def test_the_default_worklist_is_open_parcels_of_any_day_by_risk(osrv: Server) -> None:
    client, _ = sign_in(osrv.url, "olga")
    with closing(client):
        page = client.get("/officer/queue").text
    shown = re.findall(r'<tr data-item="([A-Z0-9]+)"', page)
    assert (
        shown
        and shown == _open(osrv)[: len(shown)]
        or shown
        == [i for i in Worklists(osrv.service.state_db).item_ids(QueueFilter(status="open"))][
            : len(shown)
        ]
    )
    chances = [float(c) for c in re.findall(r"<strong>([0-9.]+)%</strong>", page)]
    assert chances == sorted(chances, reverse=True)


def test_a_scanned_or_typed_id_finds_its_parcel(osrv: Server) -> None:
    item = _open(osrv)[-1]
    client, _ = sign_in(osrv.url, "olga")
    with closing(client):
        for typed in (item.lower(), f" {item[:2]} {item[2:6]}-{item[6:]} ", item):
            r = client.get("/officer/find", params={"q": typed})
            assert r.status_code == 303 and r.headers["location"] == f"/officer/parcels/{item}"
        r = client.get(f"/officer/parcels/{item.lower()}")  # a typed URL: the parcel's own
        assert r.status_code == 303 and r.headers["location"] == f"/officer/parcels/{item}"
        r = client.get("/officer/find", params={"q": "ZZ999999999ZZ"})
        assert r.status_code == 404 and "No scored parcel has the item ID ZZ999999999ZZ" in r.text
        r = client.get("/officer/find", params={"q": item[2:10]})  # part of one: the matches
        assert r.status_code in (200, 303) and item in (r.text + r.headers.get("location", ""))


def test_one_click_records_and_opens_the_next_parcel_of_the_worklist(osrv: Server) -> None:
    todo = _open(osrv, origin="DE")
    item, following = todo[0], todo[1]
    client, _ = sign_in(osrv.url, "olga")
    with closing(client):
        w = "status=open&origin=DE&sort=risk&dir=desc"
        page = f"/officer/parcels/{item}?w={w.replace('&', '%26').replace('=', '%3D')}"
        r = _post(
            client,
            f"/officer/parcels/{item}/quick",
            {"outcome": "clean", "w": w, "then": "next"},
            page,
        )
        assert r.status_code == 303
        assert r.headers["location"].startswith(f"/officer/parcels/{following}?")
        assert "last=" + item in r.headers["location"]
        assert osrv.service.state.current_outcome(item).result == "clean"  # type: ignore[union-attr]
        # one click is a first outcome only: a recorded one is corrected, with a reason
        r = _post(client, f"/officer/parcels/{item}/quick", {"outcome": "seized"}, page)
        assert r.status_code == 409 and "recorded or corrected meanwhile" in r.text
        # from a worklist row: back to the worklist, saying what was recorded
        r = _post(
            client,
            f"/officer/parcels/{following}/quick",
            {"outcome": "released", "w": w, "then": "queue"},
            "/officer/queue",
        )
        assert r.status_code == 303 and r.headers["location"].startswith(f"/officer/queue?{w}")
        back = client.get(r.headers["location"]).text
        assert f"Recorded {following}: Released without inspection." in back
        assert f'data-item="{following}"' not in back  # no longer open
    stored = osrv.service.state.current_outcome(following)
    assert stored is not None and stored.record["inspected"] is False


def test_claims_are_seen_by_others_and_an_admin_assigns(osrv: Server) -> None:
    first, second = _open(osrv, origin="CN")[:2]
    olga, _ = sign_in(osrv.url, "olga")
    ada, _ = sign_in(osrv.url, "ada")
    with closing(olga), closing(ada):
        page = f"/officer/parcels/{first}"
        assert _post(olga, f"{page}/claim", {"action": "claim"}, page).status_code == 303
        assert "Claimed by olga" in ada.get(page).text
        mine = olga.get("/officer/queue", params={"status": "open", "mine": "1"}).text
        assert f'data-item="{first}"' in mine and f'data-item="{second}"' not in mine
        # another officer cannot take it over; an administrator assigns it
        r = _post(ada, f"{page}/claim", {"action": "claim"}, page)
        assert r.status_code == 409 and "olga has claimed this parcel already" in r.text
        r = _post(
            olga, f"/officer/parcels/{second}/claim", {"action": "assign", "officer": "ada"}, page
        )
        assert r.status_code == 403
        r = _post(
            ada, f"/officer/parcels/{second}/claim", {"action": "assign", "officer": "olga"}, page
        )
        assert r.status_code == 303
        assert "assigned by ada" in olga.get(f"/officer/parcels/{second}").text
        r = _post(
            ada, f"/officer/parcels/{second}/claim", {"action": "assign", "officer": "sam"}, page
        )
        assert r.status_code == 422  # a sorter's account is no one to assign a parcel to
        # each change of who holds a parcel is a record of the hash-chained decision log
        # (a refused claim or one that changes nothing is none); an outcome ends the claim
        assert _post(olga, f"{page}/claim", {"action": "claim"}, page).status_code == 303
        assert _post(olga, f"{page}/claim", {"action": "release"}, page).status_code == 303
        assert _post(olga, f"{page}/claim", {"action": "release"}, page).status_code == 303
        second_page = f"/officer/parcels/{second}"
        r = _post(olga, f"{second_page}/quick", {"outcome": "clean", "then": "page"}, second_page)
        assert r.status_code == 303 and ada.get(second_page).text.count("Claimed by") == 0
    log = osrv.service.audit
    claims = [
        (
            r["item_id"],
            r["kind"],
            r["caller"],
            r["decision"],
            json.loads(r["detail"]).get("previous"),
        )
        for r in log.records()
        if r["kind"].startswith("parcel_")
    ]
    assert claims == [
        (first, "parcel_claimed", "officer:olga", "olga", None),
        (second, "parcel_assigned", "officer:ada", "olga", None),
        (first, "parcel_released", "officer:olga", "olga", "olga"),
        (second, "parcel_released", "officer:olga", "olga", "olga"),
    ]
    assert log.verify().ok
    olga, _ = sign_in(osrv.url, "olga")
    with closing(olga):
        shown = olga.get(f"/officer/parcels/{first}").text
    assert "<td>Claimed</td>" in shown and "<td>Claim given up</td>" in shown


def test_the_case_record_keeps_versions_and_checks_attachments(osrv: Server) -> None:
    item = _open(osrv, origin="ES")[0]
    client, _ = sign_in(osrv.url, "olga")
    page = f"/officer/parcels/{item}"
    with closing(client):
        r = _post(
            client,
            f"{page}/case",
            {"seal": "BAG-1", "substance": "other", "gross_g": "12,5", "net_g": "10"},
            page,
        )
        assert r.status_code == 422 and "when you choose Other" in r.text
        r = _post(
            client,
            f"{page}/case",
            {"seal": "BAG-1", "substance": "mdma", "gross_g": "9", "net_g": "10"},
            page,
        )
        assert r.status_code == 422 and "cannot be more than the gross" in r.text
        for seal in ("BAG-1", "BAG-2"):
            r = _post(
                client,
                f"{page}/case",
                {
                    "seal": seal,
                    "substance": "mdma",
                    "concealment": "media_case",
                    "gross_g": "12,5",
                    "net_g": "10",
                    "lab_ref": "L-1",
                },
                page,
            )
            assert r.status_code == 303
        text = client.get(page).text
        assert "Version 2, saved by NL-C-OLGA" in text and 'value="BAG-2"' in text
        csrf = csrf_of(text)
        files = {"file": ("label.png", PNG, "image/png")}
        r = client.post(f"{page}/attachments", data={"csrf": csrf}, files=files)
        assert r.status_code == 303
        after = client.get(r.headers["location"]).text  # says what was added, not "saved"
        assert "The photo or scan label.png was added to the case record." in after
        assert "The case record was saved." not in after
        fake = {"file": ("photo.jpg", b"MZ\x90\x00 not a photo", "image/jpeg")}
        r = client.post(f"{page}/attachments", data={"csrf": csrf}, files=fake)
        assert r.status_code == 422 and "Only JPEG, PNG or WebP photos and PDF" in r.text
        big = {"file": ("big.png", PNG + b"\x00" * 1_600_000, "image/png")}
        r = client.post(f"{page}/attachments", data={"csrf": csrf}, files=big)
        assert r.status_code == 422 and "too large" in r.text
        listed = client.get(page).text
        (att,) = re.findall(rf'href="/officer/parcels/{item}/attachments/(\d+)"', listed)
        got = client.get(f"{page}/attachments/{att}")
        assert got.content == PNG and got.headers["content-type"] == "image/png"
        assert got.headers["x-content-type-options"] == "nosniff"
        printed = client.get(f"{page}/case-record").text
        assert "BAG-2" in printed and "MDMA (ecstasy)" in printed and "12.5 g" in printed
    kinds = [r["kind"] for r in osrv.service.audit.records() if r["item_id"] == item]
    assert kinds.count("case_record") == 2 and kinds.count("case_attachment") == 1


def _views(osrv: Server, item: str) -> list[tuple[str, str]]:
    return [
        (r["caller"], r["time"])
        for r in osrv.service.audit.records("explanation_viewed")
        if r["item_id"] == item
    ]


def test_the_parcel_log_lists_decisions_and_counts_views(osrv: Server) -> None:
    item = _open(osrv, origin="NL")[0]
    client, _ = sign_in(osrv.url, "olga")
    with closing(client):
        for _ in range(3):  # reloads within the hour: one record
            page = client.get(f"/officer/parcels/{item}").text
        assert len(_views(osrv, item)) == 1
        r = _post(
            client, f"/officer/parcels/{item}/case", {"seal": "BAG-9"}, f"/officer/parcels/{item}"
        )
        assert r.status_code == 303
        client.get(r.headers["location"])  # the page after a save: no new record
    ada, _ = sign_in(osrv.url, "ada")
    with closing(ada):
        page = ada.get(f"/officer/parcels/{item}").text  # another officer: a record
    views = _views(osrv, item)
    assert [caller for caller, _ in views] == ["officer:olga", "officer:ada"]
    log = page.split('id="decision-log"')[1].split("</table>")[0]
    assert "Scored" in log and "Explanation viewed" not in log
    assert "opened 2 times by 2 user(s)" in page


def test_a_view_is_logged_again_after_its_period(osrv: Server) -> None:
    from serving.officer._parcel_routes import VIEW_PERIOD, note_view

    item = _open(osrv, origin="NL")[1]
    client, _ = sign_in(osrv.url, "olga")
    with closing(client):
        client.get(f"/officer/parcels/{item}")
    ((_, first),) = _views(osrv, item)
    log, later = osrv.service.audit, datetime.fromisoformat(first)
    stored = osrv.service.state.get_result(item)
    assert stored is not None
    for seconds, written in ((0.5, False), (1.01, True), (1.5, False)):
        assert (
            note_view(
                log, "officer:olga", item, stored.model_version, "r", later + VIEW_PERIOD * seconds
            )
            is written
        )
    assert note_view(log, "officer:ada", item, stored.model_version, "r", later + VIEW_PERIOD * 1.5)
    assert len(_views(osrv, item)) == 3 and log.verify().ok


def test_exports_and_the_shift_report(osrv: Server) -> None:
    todo = _open(osrv, origin="CA")
    client, _ = sign_in(osrv.url, "olga")
    with closing(client):
        for item, verdict in zip(todo[:3], ("seized", "clean", "seized"), strict=False):
            page = f"/officer/parcels/{item}"
            assert _post(client, f"{page}/quick", {"outcome": verdict}, page).status_code == 303
        sheet = client.get(
            "/officer/export/worklist.csv", params={"status": "done", "origin": "CA"}
        )
        assert sheet.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(sheet.text.lstrip("\ufeff"))))
        assert {r["Item ID"] for r in rows} >= set(todo[:3])
        assert {r["Status"] for r in rows} <= {
            "Seized",
            "Clean",
            "Released without inspection",
            "Other irregularity",
        }
        assert all(r["Chance of a seizure"].endswith("%") for r in rows)
        outcomes = client.get("/officer/export/outcomes.csv").text
        found = list(csv.DictReader(io.StringIO(outcomes.lstrip("\ufeff"))))
        assert {r["Item ID"] for r in found} >= set(todo[:3])
        report = client.get("/officer/report").text
    opened = int(report.split('id="opened">')[1].split("<")[0].strip().split()[0])
    found_n = int(report.split('id="found">')[1].split("<")[0].strip())
    assert opened >= 3 and found_n >= 2
    assert 'id="by-selection"' in report and "Model" in report


def test_a_cell_that_looks_like_a_formula_is_written_as_text() -> None:
    from serving.officer._reports import _cell

    assert _cell("=HYPERLINK(1)") == "'=HYPERLINK(1)" and _cell("-2") == "'-2"
    assert _cell(3.5) == 3.5 and _cell(None) == ""
