"""Hostile requests to the API (issue 16): an answer is never much larger than its request,
a declaration posted at an implausible time is refused before it is scored or recorded, and
absurd numbers are refused with the field named."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import Trained
from tests.serving.conftest import Server, make_settings, parcel, start_server


@pytest.fixture(scope="module")
def hostile_server(trained: Trained, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server with the production limits: 2 MB bodies, 500 declarations a batch, the
    default posting window (90 days back, 2 ahead)."""
    settings = make_settings(
        tmp_path_factory.mktemp("hostile"),
        trained.registry,
        max_batch=500,
        max_body_bytes=2_000_000,
        posted_days_back=90,
        posted_days_ahead=2,
    )
    yield from start_server(settings)


def _now(**delta: float) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).isoformat()


def _problems(body: dict[str, Any]) -> list[dict[str, Any]]:
    return list(body["error"]["problems"])


def test_many_unknown_keys_draw_a_small_and_quick_422(
    hostile_server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Quick by count, not by clock (five at once cut scoring 850/s to 47/s when every key
    was built into a problem): pydantic never sees the records, and only the 20 listed keys
    of each are built into problems."""
    import data_contracts._validate as validate_module
    from data_contracts import ParcelDeclaration

    record = parcel(posted_at=_now())
    record.update({f"k{n:06d}": n for n in range(120_000)})
    body = json.dumps(record, separators=(",", ":")).encode()
    assert 1_500_000 < len(body) < 2_000_000
    client = hostile_server.client()
    built, parsed = [0], [0]
    unknown_field = getattr(validate_module, "unknown_field")  # noqa: B009 - not exported
    model_validate = ParcelDeclaration.model_validate

    def counted_field(*args: Any) -> Any:
        built[0] += 1
        return unknown_field(*args)

    def counted_parse(*args: Any, **kwargs: Any) -> Any:
        parsed[0] += 1
        return model_validate(*args, **kwargs)

    monkeypatch.setattr(validate_module, "unknown_field", counted_field)
    monkeypatch.setattr(ParcelDeclaration, "model_validate", counted_parse)

    def post(_: int) -> tuple[int, int, dict[str, Any]]:
        r = client.post(
            "/v1/parcels:score", content=body, headers={"content-type": "application/json"}
        )
        return r.status_code, len(r.content), r.json()

    with ThreadPoolExecutor(5) as pool:  # five at once
        answers = list(pool.map(post, range(5)))
    for status, size, answer in answers:
        assert status == 422
        assert size < 10_000, f"a 422 of {size} bytes for a body of {len(body)}"
        problems = _problems(answer)
        assert len(problems) == 21 and problems[-1]["field"] == "(record)"
        assert problems[-1]["problem"].startswith("119980 more unknown fields not listed")
    assert parsed == [0] and built == [5 * 20], (parsed, built)
    ok = client.post("/v1/parcels:score", json=parcel(posted_at=_now()))
    assert ok.status_code == 200


def test_a_batch_of_invalid_declarations_answers_less_than_it_reads(hostile_server: Server) -> None:
    bad_line = {"description": "x", "quantity": 0, "net_weight_kg": -1.0, "value": -1.0}
    batch = [parcel(posted_at=_now(), lines=[bad_line] * 10) for _ in range(500)]
    body = json.dumps({"declarations": batch}).encode()
    r = hostile_server.client().post(
        "/v1/parcels:score-batch", content=body, headers={"content-type": "application/json"}
    )
    assert r.status_code == 200
    answer = r.json()
    assert (answer["scored"], answer["errors"]) == (0, 500)
    assert len(r.content) < len(body), f"{len(body)} bytes in, {len(r.content)} out"
    listed = sum(len(e["error"]["problems"]) for e in answer["results"])
    omitted = sum(e["error"].get("problems_omitted", 0) for e in answer["results"])
    assert listed == 100
    assert omitted == answer["problems_omitted"] == 500 * 21 - 100  # 20 + a count, each


@pytest.mark.parametrize("posted_at", ["0001-01-02T00:00:00Z", "9999-12-31T23:59:59Z"])
def test_an_implausible_posting_time_is_refused_and_never_recorded(
    hostile_server: Server, posted_at: str
) -> None:
    sender = {
        "name": "Wim Window",
        "street": "Damrak 9",
        "city": "Amsterdam",
        "postcode": "1012 LG",
        "country": "NL",
    }
    odd = parcel(posted_at=posted_at, sender=sender)
    r = hostile_server.client().post("/v1/parcels:score", json=odd)
    assert r.status_code == 422
    (problem,) = _problems(r.json())
    assert problem["field"] == "posted_at"
    assert problem["problem"].startswith("posting time outside the plausible window")
    officer = hostile_server.client("officer")
    assert officer.get(f"/v1/parcels/{odd['item_id']}/explanation").status_code == 404
    # the same sender's next, ordinary parcel is scored as usual
    next_one = parcel(posted_at=_now(), sender=sender)
    assert hostile_server.client().post("/v1/parcels:score", json=next_one).status_code == 200


def test_every_scoring_route_applies_the_window(hostile_server: Server) -> None:
    good, late = parcel(posted_at=_now(hours=-1)), parcel(posted_at=_now(days=3))
    r = hostile_server.client().post("/v1/parcels:score-batch", json={"declarations": [good, late]})
    first, second = r.json()["results"]
    assert "error" not in first
    assert [p["field"] for p in second["error"]["problems"]] == ["posted_at"]
    officer = hostile_server.client("officer")
    assert officer.get(f"/v1/parcels/{late['item_id']}/explanation").status_code == 404
    infer = {
        "inputs": [
            {
                "name": "declaration",
                "datatype": "BYTES",
                "shape": [1],
                "data": [json.dumps(parcel(posted_at=_now(days=-91)))],
            }
        ]
    }
    r = hostile_server.client().post("/v2/models/parcelscreen-xgboost/infer", json=infer)
    assert r.status_code == 422
    assert [p["field"] for p in _problems(r.json())] == ["posted_at"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"gross_weight_kg": 1e308}, "gross_weight_kg"),  # scored 'inspect' before
        ({"declared_value": 1e308}, "declared_value"),
        ({"lines.0.net_weight_kg": 5000.0}, "lines[0].net_weight_kg"),
    ],
)
def test_absurd_numbers_are_422_naming_the_field(
    hostile_server: Server, changes: dict[str, Any], field: str
) -> None:
    r = hostile_server.client().post("/v1/parcels:score", json=parcel(posted_at=_now(), **changes))
    assert r.status_code == 422
    assert [p["field"] for p in _problems(r.json())] == [field]


def _twice(body: dict[str, Any], inside: str, key: str, value: Any) -> bytes:
    """``body`` as JSON with ``key`` named once more (first) in the object opened by
    ``inside`` (``{`` for the outermost)."""
    text = json.dumps(body)
    return text.replace(inside, inside + f"{json.dumps(key)}: {json.dumps(value)}, ", 1).encode()


@pytest.mark.parametrize(
    ("route", "inside", "key", "record", "field"),
    [
        # the hot path: the declaration's own item ID twice
        ("/v1/parcels:score", "{", "item_id", "#0", "item_id"),
        # a nested object: the sender's country twice
        ("/v1/parcels:score", '"sender": {', "country", "#0", "sender.country"),
        # a batch: its second declaration named, by position and item ID
        ("/v1/parcels:score-batch", '"recipient": {', "country", "#1", "recipient.country"),
    ],
)
def test_a_key_named_twice_is_refused_naming_record_and_key(
    hostile_server: Server, route: str, inside: str, key: str, record: str, field: str
) -> None:
    """json keeps the last value of a repeated key, other readers the first: refused."""
    first, second = parcel(posted_at=_now()), parcel(posted_at=_now())
    if route.endswith("batch"):
        text = json.dumps(first) + ", " + _twice(second, inside, key, "FR").decode()
        body, item = ('{"declarations": [' + text + "]}").encode(), second["item_id"]
    else:
        body, item = _twice(first, inside, key, "FR"), first["item_id"]
    r = hostile_server.client().post(
        route, content=body, headers={"content-type": "application/json"}
    )
    assert r.status_code == 422, r.text
    (problem,) = _problems(r.json())
    # named by its item ID, unless the item ID is the repeated key (neither value is read)
    assert problem["record"] == (record if key == "item_id" else f"{record} ({item})")
    assert problem["field"] == field
    assert r.json()["error"]["message"].count("appears more than once") == 1  # said once
    assert f"{key!r} appears more than once in one object" in problem["problem"]
    assert "FR" not in json.dumps(problem)  # neither value is repeated
    for sent in (first, second):
        assert hostile_server.service.state.get_result(sent["item_id"]) is None


def test_an_outcome_with_a_key_named_twice_is_refused(hostile_server: Server) -> None:
    from tests.factories import outcome

    item = parcel()["item_id"]
    body = _twice(outcome(item_id=item, recorded_at=_now()), "{", "result", "clean")
    r = hostile_server.client("officer").post(
        "/v1/outcomes", content=body, headers={"content-type": "application/json"}
    )
    assert r.status_code == 422, r.text
    (problem,) = _problems(r.json())
    assert (problem["record"], problem["field"]) == (f"#0 ({item})", "result")
    assert not [o for o in hostile_server.service.state.outcomes() if o["item_id"] == item]


def test_a_declaration_string_with_a_key_named_twice_is_refused_by_the_infer_route(
    hostile_server: Server,
) -> None:
    """The Open Inference Protocol carries declarations as JSON strings: one that names a key
    twice is refused as a body is, naming where, showing neither value, recording nothing."""
    sent = parcel(posted_at=_now())
    declaration = _twice(sent, "{", "gross_weight_kg", 0.2).decode()
    infer = {
        "inputs": [
            {"name": "declaration", "datatype": "BYTES", "shape": [1], "data": [declaration]}
        ]
    }
    r = hostile_server.client().post("/v2/models/parcelscreen-xgboost/infer", json=infer)
    assert r.status_code == 422, r.text
    (problem,) = _problems(r.json())
    assert problem["field"] == "inputs[0].data[0].gross_weight_kg"
    assert "appears more than once" in problem["problem"] and "0.2" not in json.dumps(problem)
    assert hostile_server.service.state.get_result(sent["item_id"]) is None


@pytest.mark.parametrize("route", ["/v1/parcels:score", "/v1/parcels:score-batch"])
def test_a_compressed_body_is_415_not_a_decode_error(hostile_server: Server, route: str) -> None:
    """gzip is not inflated (a small body can inflate to gigabytes), and the answer says why
    rather than "'utf-8' codec can't decode byte 0x8b"."""
    import gzip

    sent = parcel(posted_at=_now())
    body = json.dumps(sent if route.endswith("score") else {"declarations": [sent]}).encode()
    r = hostile_server.client().post(
        route,
        content=gzip.compress(body),
        headers={"content-type": "application/json", "content-encoding": "gzip"},
    )
    assert r.status_code == 415, r.text
    error = r.json()["error"]
    assert error["code"] == "unsupported_encoding" and "'gzip'" in error["message"]
    assert hostile_server.service.state.get_result(sent["item_id"]) is None


def test_an_explanation_asked_for_a_name_does_not_repeat_it(hostile_server: Server) -> None:
    """A name put where an item ID belongs is personal data: the 404 does not echo it."""
    officer = hostile_server.client("officer")
    r = officer.get("/v1/parcels/Tess%20de%20Groot/explanation")
    assert r.status_code == 404 and "Tess" not in r.text and "not an item ID" in r.text
    r = officer.get("/v1/parcels/RB123456785NL/explanation")  # an item ID is named
    assert r.status_code == 404 and "RB123456785NL" in r.text
