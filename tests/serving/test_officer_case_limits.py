"""The case record's fields have limits: a longer value is refused with the limit named, and
nothing saved; never cut silently (a real server, real accounts)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing

import pytest

from serving.officer._worklist import QueueFilter, Worklists
from tests.browser.officer_setup import csrf_of, officer_server, sign_in
from tests.conftest import Trained
from tests.serving.conftest import Server


@pytest.fixture(scope="module")
def osrv(trained: Trained, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from officer_server(trained.registry, tmp_path_factory.mktemp("case"), parcels=10)


def test_case_notes_over_the_limit_are_refused_naming_it_and_nothing_is_saved(
    osrv: Server,
) -> None:
    item = Worklists(osrv.service.state_db).item_ids(QueueFilter(status="open"))[0]
    page = f"/officer/parcels/{item}"
    client, _ = sign_in(osrv.url, "olga")
    with closing(client):
        csrf = csrf_of(client.get(page).text)
        r = client.post(
            f"{page}/case", data={"csrf": csrf, "seal": "BAG-1", "notes": "x" * 100_000}
        )
        assert r.status_code == 422
        assert "Notes: at most 2,000 characters; this has 100,000." in r.text
        r = client.post(f"{page}/case", data={"csrf": csrf, "seal": "B" * 41})
        assert r.status_code == 422 and "Seal or bag number: at most 40 characters" in r.text
        r = client.post(f"{page}/case", data={"csrf": csrf, "seal": "BAG-1", "notes": "y" * 2000})
        assert r.status_code == 303  # at the limit: kept whole
    records = [r for r in osrv.service.audit.records("case_record") if r["item_id"] == item]
    assert len(records) == 1


def test_outcome_notes_over_the_limit_are_refused_and_no_outcome_is_recorded(
    osrv: Server,
) -> None:
    item = Worklists(osrv.service.state_db).item_ids(QueueFilter(status="open"))[1]
    page = f"/officer/parcels/{item}"
    client, _ = sign_in(osrv.url, "olga")
    with closing(client):
        r = client.post(
            f"{page}/outcome",
            data={
                "csrf": csrf_of(client.get(page).text),
                "inspected": "yes",
                "result": "clean",
                "notes": "n" * 100_000,
            },
        )
        assert r.status_code == 422
        assert "Notes: at most 2,000 characters; this has 100,000." in r.text
    assert not [o for o in osrv.service.state.outcomes() if o["item_id"] == item]
