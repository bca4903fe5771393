"""Worklists by flight: express consignments (contract version 2) carry their master
transport document (master air waybill), and the worklist filters on it, typed in any case,
kept in the URL, named in the heading, offered in the filter's list and followed by the
export; postal items carry none."""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Iterator
from contextlib import closing
from typing import Any

import pytest

from tests.browser.officer_setup import officer_server, sign_in
from tests.conftest import Trained
from tests.serving.conftest import Server, parcel

FLIGHTS = ("176-12345675", "020-99887766")


def _express(i: int) -> dict[str, Any]:
    house = f"{4000000 + i}"
    return parcel(
        **{
            "contract_version": "2",
            "item_id": f"DHL:{house}",
            "express": {
                "carrier": "DHL",
                "house_consignment": house,
                "transport_document": FLIGHTS[i % 2],
            },
            # risky enough to be flagged: a gift of little value, as the officer setup makes them
            "category": "gift",
            "declared_value": 1.0,
            "lines": [{"description": "gift", "quantity": 1, "net_weight_kg": 0.04, "value": 1.0}],
        }
    )


@pytest.fixture(scope="module")
def osrv(trained: Trained, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    for server in officer_server(trained.registry, tmp_path_factory.mktemp("flights"), parcels=30):
        r = server.client("sorter").post(
            "/v1/parcels:score-batch", json={"declarations": [_express(i) for i in range(24)]}
        )
        assert r.status_code == 200, r.text
        assert all("error" not in d for d in r.json()["results"]), r.text
        yield server


def _flagged(osrv: Server, flight: str | None) -> set[str]:
    rows = osrv.service.state_db.execute(
        "SELECT item_id FROM officer_parcel WHERE flagged = 1 AND "
        + ("transport_document = ?" if flight else "transport_document IS NULL"),
        (flight,) if flight else (),
    )
    return {r[0] for r in rows}


def test_a_worklist_holds_the_parcels_of_one_flight(osrv: Server) -> None:
    first, second = (_flagged(osrv, f) for f in FLIGHTS)
    assert first and second and _flagged(osrv, None)  # postal items carry no document
    client, _ = sign_in(osrv.url, "olga")
    with closing(client):
        everything = client.get("/officer/queue", params={"status": ""}).text
        assert all(f'<option value="{f}">' in everything for f in FLIGHTS)  # the filter's list
        typed = " 176-12345675 ".lower()  # typed or pasted: case and spaces ignored
        page = client.get("/officer/queue", params={"status": "", "transport": typed}).text
        shown = set(re.findall(r'<tr data-item="([A-Z0-9:]+)"', page))
        assert shown == first
        assert "on master air waybill 176-12345675" in page
        assert 'name="transport" list="transports" value="176-12345675"' in page
        assert "flight 176-12345675" in page and "flight 020-99887766" not in page
        item = sorted(shown)[0]
        assert "transport%3D176-12345675" in page.split(f'data-item="{item}"')[1][:600]
        sheet = client.get(
            "/officer/export/worklist.csv", params={"status": "", "transport": FLIGHTS[1]}
        )
        rows = list(csv.DictReader(io.StringIO(sheet.text.lstrip("\ufeff"))))
        assert {r["Item ID"] for r in rows} == second
        # a master air waybill typed with a space for the dash, or without it
        for typed in ("176 12345675", "17612345675", " 176-1234 5675 "):
            page = client.get("/officer/queue", params={"status": "", "transport": typed}).text
            assert set(re.findall(r'<tr data-item="([A-Z0-9:]+)"', page)) == first, typed
            assert "on master air waybill 176-12345675" in page
        # not one the filter can read: said so, and no list pretending to be filtered
        for typed in ("176/1'--", "176 1234567"):
            bad = client.get("/officer/queue", params={"status": "", "transport": typed})
            assert bad.status_code == 200
            assert f"not a master air waybill number: {typed}" in html.unescape(bad.text).lower()
            assert "<tr data-item=" not in bad.text and "worklist.csv" not in bad.text
            sheet = client.get(
                "/officer/export/worklist.csv", params={"status": "", "transport": typed}
            )
            assert sheet.status_code == 400
