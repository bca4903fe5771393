"""What a reviewer walking the officer's path found (partner hits out of reach, the flight
filter, the upload's message, a claim overridden without a word, headings, filters), each
seen through the officer's own signed-in client."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import closing

import pytest

from screening.exchange import FollowUps, Hit
from tests.browser.officer_setup import csrf_of, officer_server, sign_in
from tests.conftest import Trained
from tests.serving.conftest import Server

REF = "be:00112233445566778899aabb"


@pytest.fixture(scope="module")
def osrv(trained: Trained, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from officer_server(
        trained.registry,
        tmp_path_factory.mktemp("officer_rev"),
        parcels=30,
        batch_from=trained.data,
    )


def _flagged(osrv: Server) -> list[str]:
    rows = osrv.service.state_db.execute(
        "SELECT item_id FROM officer_parcel WHERE flagged = 1 ORDER BY probability DESC"
    )
    return [r[0] for r in rows]


def test_partner_hit_reachable_from_parcel_and_worklist(osrv: Server) -> None:
    item, other = _flagged(osrv)[:2]
    hit = Hit("be", REF, "2026-04", "opioids", "1-10 g", "A", "1", "H0", "recipient", "address", 0)
    reason = "The recipient's address matches a seizure reported by partner be"
    FollowUps(osrv.service.state_db).record_hits(item, [hit], reason, {})
    olga, _ = sign_in(osrv.url, "olga")
    with closing(olga):
        page = olga.get(f"/officer/parcels/{item}").text
        assert 'id="partner-hit"' in page and "Partner hit" in page
        assert f'href="/officer/parcels/{item}/exchange"' in page
        assert "partner-hit" not in olga.get(f"/officer/parcels/{other}").text
        queue = olga.get("/officer/queue").text
        row = re.search(rf'<tr data-item="{item}".*?</tr>', queue, re.S)
        assert row and f"/officer/parcels/{item}/exchange" in row[0]
        plain = re.search(rf'<tr data-item="{other}".*?</tr>', queue, re.S)
        assert plain and "/exchange" not in plain[0]


def test_exchange_page_of_unknown_item_is_404_and_unlogged(osrv: Server) -> None:
    before = len(osrv.service.audit.records())
    olga, _ = sign_in(osrv.url, "olga")
    with closing(olga):
        page = olga.get("/officer/parcels/NOPE123/exchange")
        assert page.status_code == 404
        assert olga.get("/officer/parcels/NOPE123").status_code == 404
    kinds = [r["kind"] for r in osrv.service.audit.records()[before:]]
    assert "exchange_hit_viewed" not in kinds


def test_model_page_without_history_says_so_and_does_not_alarm(osrv: Server) -> None:
    olga, _ = sign_in(osrv.url, "olga")
    with closing(olga):
        page = olga.get("/officer/model").text
    assert "Drift alarm" not in page
    assert "Too little history to measure drift yet, so no alarm" in page


def test_an_outcome_over_another_officers_claim_says_it_releases_it(osrv: Server) -> None:
    first, second = _flagged(osrv)[2:4]
    olga, _ = sign_in(osrv.url, "olga")
    ada, _ = sign_in(osrv.url, "ada")
    with closing(olga), closing(ada):
        for item in (first, second):
            page = olga.get(f"/officer/parcels/{item}").text
            r = olga.post(
                f"/officer/parcels/{item}/claim",
                data={"csrf": csrf_of(page), "action": "claim", "w": ""},
            )
            assert r.status_code == 303
        own = olga.get(f"/officer/parcels/{first}").text
        assert "recording an outcome releases their claim" not in own  # her own claim
        page = ada.get(f"/officer/parcels/{first}").text
        assert "Claimed by olga: recording an outcome releases their claim." in page
        r = ada.post(
            f"/officer/parcels/{first}/outcome",
            data={"csrf": csrf_of(page), "outcome": "clean", "then": "stay", "w": ""},
        )
        assert r.status_code == 303
        after = ada.get(r.headers["location"]).text
        assert "olga&#39;s claim was released." in after
        page = ada.get(f"/officer/parcels/{second}").text
        r = ada.post(
            f"/officer/parcels/{second}/quick",
            data={"csrf": csrf_of(page), "outcome": "released", "then": "queue", "w": ""},
        )
        assert r.status_code == 303
        assert "olga&#39;s claim was released." in ada.get(r.headers["location"]).text
        # her own claim: nothing to say
        page = olga.get(f"/officer/parcels/{_flagged(osrv)[4]}").text
        item = _flagged(osrv)[4]
        olga.post(
            f"/officer/parcels/{item}/claim",
            data={"csrf": csrf_of(page), "action": "claim", "w": ""},
        )
        r = olga.post(
            f"/officer/parcels/{item}/outcome",
            data={"csrf": csrf_of(page), "outcome": "clean", "then": "stay", "w": ""},
        )
        assert "claim was released" not in olga.get(r.headers["location"]).text


def test_headings_and_office_filter(osrv: Server) -> None:
    db = osrv.service.state_db
    ((unselected,),) = db.execute(
        "SELECT item_id FROM scored_result WHERE json_extract("
        "summary, '$.selection_reason') IS NULL LIMIT 1"
    )
    ((selected, office),) = db.execute(
        "SELECT p.item_id, p.origin_post FROM officer_parcel p JOIN scored_result r ON "
        "r.item_id = p.item_id WHERE p.flagged = 1 AND "
        "json_extract(r.summary, '$.selection_reason') IS NOT NULL LIMIT 1"
    )
    olga, _ = sign_in(osrv.url, "olga")
    with closing(olga):
        page = olga.get(f"/officer/parcels/{unselected}").text
        assert "What raised or lowered its risk" in page and "Why it was flagged" not in page
        assert "Why it was flagged" in olga.get(f"/officer/parcels/{selected}").text
        exact = olga.get("/officer/queue", params={"status": "", "office": office}).text
        rows = set(re.findall(r'<tr data-item="([^"]+)"', exact))
        assert selected in rows
        for typed in (office.lower(), office.upper(), f" {office.swapcase()} "):
            page = olga.get("/officer/queue", params={"status": "", "office": typed}).text
            assert set(re.findall(r'<tr data-item="([^"]+)"', page)) == rows, typed


def test_every_page_names_its_icon(osrv: Server) -> None:
    """A page without an icon link makes the browser fetch /favicon.ico: a 404 in the
    console of every page (headless Chromium does not fetch it, so it is checked here)."""
    item = _flagged(osrv)[0]
    olga, _ = sign_in(osrv.url, "olga")
    with closing(olga):
        for path in (
            "/officer/login",
            "/officer/queue",
            f"/officer/parcels/{item}",
            "/officer/model",
            "/officer/report",
            "/officer/parcels/NOPE123",
        ):
            assert '<link rel="icon" href="data:,">' in olga.get(path).text, path
