"""Drift alarms reach ``/metrics`` and the officer's banner only when they fire (issue 18).

A real service over a record database whose entity history holds the simulated period before
the days scored, and a real model. The last weeks of simulated days are scored over HTTP in posting
order, each day's results then dated to a day before now (a weekday at 6 hours ago: the current
day, compared with the same weekday of the four weeks before). A steady day rings nothing; a
day whose parcels all come from a country the model never saw (a new vendor country) rings in
both places, and once that day is past the banner goes again. Results are dated in the order
they were scored, as the service writes them (the monitor finds a window's bounds by it).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from screening import History, Pseudonymiser, SQLiteBackend, frame_from_table
from serving import Settings
from serving.officer import UserStore
from tests.browser.officer_setup import PASSWORD, sign_in
from tests.conftest import Trained
from tests.serving.conftest import Server, make_settings, start_server

WEEKS = 4
NEW_COUNTRY = "NZ"


def _jsonable(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [json.loads(json.dumps(r, default=lambda o: o.isoformat())) for r in rows]


@pytest.fixture(scope="module")
def days(trained: Trained) -> list[list[dict[str, Any]]]:
    """The last ``7 * WEEKS + 6`` full simulated days, each in posting order (the current day,
    the four weeks before it and the shifted day are chosen among them)."""
    table = pq.read_table(trained.data / "declarations.parquet").sort_by("posted_at")
    rows = _jsonable(table.slice(_first_row(table)).to_pylist())
    by_day: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_day.setdefault(row["posted_at"][:10], []).append(row)
    return list(by_day.values())[:-1]


def _first_row(table: pa.Table) -> int:
    """The first row of the last ``7 * WEEKS + 7`` posting days (UTC) of ``table``."""
    posted = table.column("posted_at").to_pylist()
    last = posted[-1].astimezone(UTC).date()
    start = datetime.combine(last - timedelta(days=7 * WEEKS + 6), datetime.min.time(), UTC)
    return next(i for i, t in enumerate(posted) if t >= start)


def _settings(trained: Trained, root: Path) -> Settings:
    """A record database whose history holds the period before the scored days."""
    settings = make_settings(
        root,
        trained.registry,
        max_batch=500,
        max_body_bytes=4_000_000,
        pseudonymisation_key=trained.key,
    )
    table = pq.read_table(trained.data / "declarations.parquet").sort_by("posted_at")
    backend = SQLiteBackend(settings.state_path)
    try:
        History(backend).observe_frame(
            frame_from_table(table.slice(0, _first_row(table)), Pseudonymiser(trained.key))
        )
    finally:
        backend.close()
    return settings


@pytest.fixture(scope="module")
def served(trained: Trained, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    for server in start_server(_settings(trained, tmp_path_factory.mktemp("alarms"))):
        UserStore(server.service.state_db).add("olga", PASSWORD, "officer", officer_ref="NL-C-OLGA")
        yield server


def _score_day(server: Server, parcels: list[dict[str, Any]], at: datetime) -> list[str]:
    """Score the parcels over HTTP; date their results ``at`` (a time of that day)."""
    for start in range(0, len(parcels), 500):
        body = {"declarations": parcels[start : start + 500]}
        r = server.client("sorter").post("/v1/parcels:score-batch", json=body)
        assert r.status_code == 200, r.text
    ids = [p["item_id"] for p in parcels]
    _date(server, ids, at)
    return ids


def _date(server: Server, ids: list[str], at: datetime) -> None:
    server.service.state_db.execute(
        f"UPDATE scored_result SET scored_at = ? WHERE item_id IN ({', '.join('?' * len(ids))})",
        (at.isoformat(), *ids),
    )
    server.service.alarms.forget()


def _gauges(server: Server) -> dict[str, float]:
    r = server.client("monitor").get("/metrics")
    assert r.status_code == 200, r.text
    found = re.findall(r"^(parcelscreen_drift_\w+(?:\{[^}]*\})?) (\S+)$", r.text, re.M)
    return {name: float(value) for name, value in found}


def _banner(server: Server) -> str | None:
    client, response = sign_in(server.url, "olga")
    try:
        page = client.get("/officer/queue")
        assert page.status_code == 200
        found = re.search(
            r'<div class="notice alarm" role="alert" id="alarm-1">(.*?)</div>', page.text, re.S
        )
        return found[1] if found else None
    finally:
        client.close()


def _model_page(server: Server) -> str:
    """The model page's drift state (the paragraph that says whether it alarms)."""
    client, response = sign_in(server.url, "olga")
    try:
        page = client.get("/officer/model")
        assert page.status_code == 200
        found = re.search(
            r'<p class="notice[^"]*" id="drift(?:-state)?" role="status">(.*?)</p>', page.text, re.S
        )
        assert found, "no drift state on the model page"
        return found[1]
    finally:
        client.close()


@pytest.fixture(scope="module")
def now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture(scope="module")
def steady(served: Server, days: list[list[dict[str, Any]]], now: datetime) -> list[str]:
    """Every day up to the current one scored and dated (day ``k`` before the current day at
    ``k`` days and 6 hours ago); the current day's item IDs. The current day is the last
    weekday before the last day (the simulated weekends are quiet: too few to compare)."""
    current = max(k for k in range(len(days) - 1) if len(days[k]) >= 400)
    assert current >= 7 * WEEKS
    ids: list[str] = []
    for k, parcels in enumerate(days[: current + 1]):
        ids = _score_day(served, parcels, now - timedelta(days=current - k, hours=6))
    return ids


def test_a_steady_day_rings_nothing(served: Server, steady: list[str]) -> None:
    gauges = _gauges(served)
    assert gauges["parcelscreen_drift_measured"] == 1
    assert gauges['parcelscreen_drift_window_rows{window="current"}'] == len(steady)
    assert gauges['parcelscreen_drift_window_rows{window="reference"}'] >= WEEKS * 200
    assert gauges["parcelscreen_drift_alarms"] == 0, gauges
    assert not [name for name in gauges if name.startswith("parcelscreen_drift_alarm{")]
    assert _banner(served) is None
    state = _model_page(served)  # the model page agrees with the banner
    assert state.startswith("No drift alarm"), state


def test_a_new_vendor_country_rings_until_its_day_is_past(
    served: Server, steady: list[str], days: list[list[dict[str, Any]]], now: datetime
) -> None:
    # the steady day moves out of the window (27 hours ago: compared with nothing)
    _date(served, steady, now - timedelta(hours=27))
    shifted = [
        p | {"origin_country": NEW_COUNTRY, "sender": p["sender"] | {"country": NEW_COUNTRY}}
        for p in days[-1]
    ]
    ids = _score_day(served, shifted, now - timedelta(hours=3))
    gauges = _gauges(served)
    assert gauges["parcelscreen_drift_alarms"] >= 1, gauges
    assert gauges['parcelscreen_drift_alarm{feature="origin_code"}'] > 0.05
    banner = _banner(served)
    assert banner is not None and "origin" in banner.lower(), banner
    assert _model_page(served).startswith("Drift alarm")
    # the shifted day is past (25 hours ago): no parcel of the last 24 hours to compare
    _date(served, ids, now - timedelta(hours=25))
    gauges = _gauges(served)
    assert gauges["parcelscreen_drift_measured"] == 0
    assert gauges["parcelscreen_drift_alarms"] == 0
    assert _banner(served) is None
    assert _model_page(served).startswith("Too little history to measure drift yet, so no alarm")
