"""Express consignments (contract version 2) through the real service: scored over the API,
recorded with their outcome, and shown on the officer's parcel page by carrier and house
consignment number; a party's identification number never stored in clear."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from tests.browser.officer_setup import officer_server, sign_in
from tests.conftest import Trained
from tests.factories import outcome
from tests.serving.conftest import Server, parcel

SCORE = "/v1/parcels:score"
ID_NUMBER = "CN91350200MA8RXQ2K7Q"  # the sender's trader ID: personal data, never in clear
_houses = iter(range(4_400_000_000, 4_500_000_000))


def express(**changes: Any) -> dict[str, Any]:
    """A valid express consignment (version 2) with a fresh house consignment number, its
    sender known by trader ID only."""
    house = str(next(_houses))
    record = parcel(
        **{
            "contract_version": "2",
            "item_id": f"DHL:{house}",
            "express": {
                "carrier": "DHL",
                "house_consignment": house,
                "transport_document": "176-12345675",
            },
        }
        | changes
    )
    record["sender"] = {"id_number": ID_NUMBER, "country": record["sender"]["country"]}
    return record


@pytest.fixture(scope="module")
def osrv(trained: Trained, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from officer_server(trained.registry, tmp_path_factory.mktemp("express"), parcels=5)


def test_an_express_consignment_scores_through_the_api(osrv: Server) -> None:
    body = express()
    r = osrv.client().post(SCORE, json=body)
    assert r.status_code == 200, r.text
    assert r.json()["item_id"] == body["item_id"]
    assert 0 <= r.json()["probability"] <= 1
    explained = osrv.client("officer").get(f"/v1/parcels/{body['item_id']}/explanation")
    assert explained.status_code == 200, explained.text
    recorded = osrv.client("officer").post(
        "/v1/outcomes",
        json=outcome(
            item_id=body["item_id"],
            contract_version="2",
            result="clean",
            substance=None,
            quantity_g=None,
        ),
    )
    assert recorded.status_code in (200, 201), recorded.text


def test_a_batch_of_both_kinds_scores(osrv: Server) -> None:
    both = [express(), parcel(), express(), parcel(contract_version="2")]
    r = osrv.client().post("/v1/parcels:score-batch", json={"declarations": both})
    assert r.status_code == 200, r.text
    assert [x["item_id"] for x in r.json()["results"]] == [d["item_id"] for d in both]


def test_version_1_cannot_carry_an_express_consignment(osrv: Server) -> None:
    body = express(contract_version="1")
    r = osrv.client().post(SCORE, json=body)
    assert r.status_code == 422, r.text
    problems = r.json()["error"]["problems"]
    assert [p["field"] for p in problems] == ["item_id", "sender", "express"]
    assert "contract_version '2'" in problems[0]["problem"]
    assert ID_NUMBER not in r.text


def test_the_parcel_page_names_carrier_and_house_consignment(osrv: Server) -> None:
    body = express()
    assert osrv.client().post(SCORE, json=body).status_code == 200
    client, _ = sign_in(osrv.url, "olga")
    with closing(client):
        page = client.get(f"/officer/parcels/{body['item_id']}")
        assert page.status_code == 200, page.text
        assert '<dd id="carrier">DHL</dd>' in page.text
        house = body["express"]["house_consignment"]
        assert f'<dd id="house-consignment">{house}</dd>' in page.text
        assert "176-12345675" in page.text
        assert "Mail class" not in page.text  # no S10 class for an express consignment
        assert ID_NUMBER not in page.text
        found = client.get("/officer/find", params={"q": house}, follow_redirects=False)
        assert found.headers["location"].startswith(f"/officer/parcels/{body['item_id']}")


def test_the_identification_number_is_stored_nowhere_in_clear(osrv: Server) -> None:
    assert osrv.client().post(SCORE, json=express()).status_code == 200
    data_dir = Path(osrv.settings.data_dir)
    needle = ID_NUMBER.encode()
    for path in data_dir.rglob("*"):
        if path.is_file():
            assert needle not in path.read_bytes(), path
