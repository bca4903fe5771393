"""The officer's view of a partner hit and the four-eyes follow-up request (issue 21)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from screening.exchange import FollowUps, Hit
from serving._partner_hits import record_partner_hits
from tests.browser.officer_setup import csrf_of, officer_server, sign_in
from tests.conftest import Trained
from tests.serving.conftest import Server

ITEM = "RR123456785NL"
REF = "be:0123456789abcdef01234567"


@pytest.fixture(scope="module")
def osrv(trained: Trained, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from officer_server(trained.registry, tmp_path_factory.mktemp("officer_x"), parcels=5)


def test_hit_page_request_and_approval(osrv: Server, tmp_path: Path) -> None:
    hit = Hit(
        "be",
        REF,
        "2026-03",
        "stimulants",
        "10-100 g",
        "B",
        "2",
        "H1",
        "recipient",
        "address",
        0,
        ("recipient address", "recipient name_street"),
    )
    FollowUps(osrv.service.state_db).record_hits(
        ITEM,
        [hit],
        "The recipient's address "
        "matches a seizure reported by partner be in "
        "2026-03, reliability B2",
        {},
    )
    olga, _ = sign_in(osrv.url, "olga")
    with closing(olga):
        page = olga.get(f"/officer/parcels/{ITEM}/exchange")
        assert page.status_code == 200
        for shown in (
            "be",
            "2026-03",
            "stimulants",
            "10-100 g",
            "B2",
            "H1",
            "reported by partner be in 2026-03, reliability B2",
        ):
            assert shown in page.text, shown
        assert not re.search(r"[0-9a-f]{32}", page.text)  # no token anywhere on the page
        # one row per partner reference, naming every variant of the parcel that matched it
        assert page.text.count('class="variants"') == 1
        assert "the recipient&#39;s address; the recipient&#39;s name and street" in page.text
        scored = osrv.service.state_db.execute("SELECT item_id FROM officer_parcel LIMIT 1")
        empty = olga.get(f"/officer/parcels/{scored[0][0]}/exchange")
        assert "No partner hit" in empty.text
        assert olga.get("/officer/parcels/CP000000000NL/exchange").status_code == 404
        prepared = olga.post(
            f"/officer/parcels/{ITEM}/exchange/prepare",
            data={"csrf": csrf_of(page.text), "source": "be", "ref": REF},
        )
        assert prepared.status_code == 303
        page = olga.get(f"/officer/parcels/{ITEM}/exchange")
        assert f"Your reference: {REF}" in page.text and "Handling code: H1" in page.text
        assert "Awaiting approval" in page.text
        # the officer who prepared it is not offered the approval (four eyes) ...
        assert "/approve" not in page.text and "another officer must approve it" in page.text
        (request_id,) = re.findall(r'id="request-(\d+)"', page.text)
        # ... nor a second request on the same partner reference
        again = olga.post(
            f"/officer/parcels/{ITEM}/exchange/prepare",
            data={"csrf": csrf_of(page.text), "source": "be", "ref": REF},
        )
        assert again.status_code == 400 and "is already awaiting approval" in again.text
        own = olga.post(
            f"/officer/exchange/requests/{request_id}/approve", data={"csrf": csrf_of(page.text)}
        )
        assert own.status_code == 409 and "another officer must approve" in own.text
        forged = olga.post(
            f"/officer/exchange/requests/{request_id}/approve", data={"csrf": "forged"}
        )
        assert forged.status_code == 403
    ada, _ = sign_in(osrv.url, "ada")
    with closing(ada):
        page = ada.get(f"/officer/parcels/{ITEM}/exchange")
        assert f"/officer/exchange/requests/{request_id}/approve" in page.text
        done = ada.post(
            f"/officer/exchange/requests/{request_id}/approve", data={"csrf": csrf_of(page.text)}
        )
        assert done.status_code == 303
        assert "Approved by officer:ada" in ada.get(f"/officer/parcels/{ITEM}/exchange").text
    records = [r for r in osrv.service.audit.records() if r["kind"].startswith("exchange")]
    kinds = [r["kind"] for r in records]
    # an officer's views of a parcel's hits within the hour are one record (reloads and the
    # page after a prepare write nothing more), as the explanation's views
    viewed = [(r["caller"], r["item_id"]) for r in records if r["kind"] == "exchange_hit_viewed"]
    assert viewed.count(("officer:olga", ITEM)) == 1 and viewed.count(("officer:ada", ITEM)) == 1
    assert kinds.count("exchange_request_prepared") == 1
    assert kinds.count("exchange_request_approved") == 1
    assert osrv.service.audit.verify().ok


def test_the_parcel_page_log_lists_the_match_and_the_requests(osrv: Server) -> None:
    """A scored parcel's partner match, follow-up request and approval are lines of the
    decision log on the parcel's own page, in words, with no token."""
    db = osrv.service.state_db
    ((item,),) = db.execute("SELECT item_id FROM officer_parcel ORDER BY item_id LIMIT 1")
    ref = "be:fedcba9876543210fedcba98"
    hit = Hit("be", ref, "2026-04", "cannabis", "1-10 g", "B", "2", "H1", "sender", "address", 0)
    with db.transaction():
        for entry in record_partner_hits(db, [(item, "rid-match", "key:sorter")], [[hit]]):
            osrv.service.audit.append(entry)
    olga, _ = sign_in(osrv.url, "olga")
    with closing(olga):
        page = olga.get(f"/officer/parcels/{item}/exchange")
        olga.post(
            f"/officer/parcels/{item}/exchange/prepare",
            data={"csrf": csrf_of(page.text), "source": "be", "ref": ref},
        )
        (request_id,) = re.findall(
            r'id="request-(\d+)"', olga.get(f"/officer/parcels/{item}/exchange").text
        )
    ada, _ = sign_in(osrv.url, "ada")
    with closing(ada):
        page = ada.get(f"/officer/parcels/{item}/exchange")
        ada.post(
            f"/officer/exchange/requests/{request_id}/approve", data={"csrf": csrf_of(page.text)}
        )
        parcel = ada.get(f"/officer/parcels/{item}")
    assert parcel.status_code == 200
    log = parcel.text.split('id="decision-log"')[1].split("</table>")[0]
    assert "Partner seizure matched" in log and f"Reference {ref} reported by be" in log
    assert "Follow-up request prepared" in log and "Follow-up request approved" in log
    assert f"Request {request_id} to be about reference {ref}" in log
    assert not re.search(r"[0-9a-f]{32}", log)


def test_a_hit_on_a_parcel_the_model_let_pass_has_a_worklist(osrv: Server) -> None:
    """A partner hit on a parcel the model passed is listed nowhere among flagged parcels;
    the partner-hit worklist lists it, whatever the model decided."""
    db = osrv.service.state_db
    item = "RR900000005NL"  # a scored parcel's officer copy, as the model passed it
    columns = [r[1] for r in db.execute("PRAGMA table_info(officer_parcel)") if r[1] != "rowid"]
    copied = ", ".join(
        {"item_id": "?", "decision": "'pass'", "flagged": "0", "band": "'low'"}.get(c, c)
        for c in columns
    )
    db.execute(
        f"INSERT INTO officer_parcel ({', '.join(columns)}) SELECT {copied} "
        "FROM officer_parcel LIMIT 1",
        (item,),
    )
    hit = Hit("be", REF, "2026-03", "cannabis", "1-10 g", "B", "2", "H1", "sender", "address", 0)
    FollowUps(db).record_hits(item, [hit], "The sender's address matches a seizure", {})
    olga, _ = sign_in(osrv.url, "olga")
    with closing(olga):
        assert item not in olga.get("/officer/queue?status=").text  # flagged parcels only
        listed = olga.get("/officer/queue?status=&hits=1")
        assert listed.status_code == 200 and item in listed.text
        assert "with a partner&#39;s seizure hit" in listed.text
        assert 'name="hits" value="1" checked' in listed.text
