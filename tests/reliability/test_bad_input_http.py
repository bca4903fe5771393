"""The bad-input corpus through the HTTP API: each case gets a clear error or is handled.

Never a 500, never a silent drop: an error names the field or the reason, and a batch
answers one result per declaration sent (scored + errors == sent).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.serving.conftest import Server, parcel

SCORE, BATCH = "/v1/parcels:score", "/v1/parcels:score-batch"


def _body(**changes: Any) -> bytes:
    return json.dumps(parcel(**changes)).encode()


def _raw(decl: dict[str, Any], field: str, literal: str) -> bytes:
    """A declaration whose ``field`` holds a literal JSON text (NaN, 1e999...)."""
    text = json.dumps(decl | {field: "__LITERAL__"})
    return text.replace('"__LITERAL__"', literal).encode()


def _nested(depth: int) -> bytes:
    return ("[" * depth + "]" * depth).encode()


# (case, body, status, text expected in the error message or problems)
REJECTED = [
    # over the 64 kB limit of the test settings, with a Content-Length header
    ("oversized", b"{" + b" " * 70_000 + b"}", 413, "larger than the limit"),
    # nested deeper than the parser's recursion limit
    ("deeply nested", _nested(30_000), 422, "nested too deeply"),
    # nested within the limit, but not a declaration
    ("nested object", json.dumps({"a": json.loads(_nested(200))}).encode(), 422, "item_id"),
    ("empty body", b"", 422, "empty"),
    ("JSON null", b"null", 422, "JSON object"),
    ("JSON array", b"[]", 422, "JSON object"),
    ("not JSON", b"item_id=RR1", 422, "not valid JSON"),
    ("invalid UTF-8", b'{"item_id": "\xff\xfe"}', 422, "not valid JSON"),
    # wrong types
    ("item_id a number", _body(item_id=123456785), 422, "item_id"),
    ("lines a string", _body(lines="green tea"), 422, "lines"),
    ("value a word", _body(declared_value="twelve"), 422, "declared_value"),
    ("sender a list", _body(sender=["Jan"]), 422, "sender"),
    ("quantity huge", _body(**{"lines.0.quantity": 10**400}), 422, "quantity"),
    # NaN and infinity as numbers: not JSON at all
    ("NaN number", _raw(parcel(), "declared_value", "NaN"), 422, "NaN"),
    ("Infinity number", _raw(parcel(), "declared_value", "Infinity"), 422, "Infinity"),
    ("-Infinity number", _raw(parcel(), "gross_weight_kg", "-Infinity"), 422, "Infinity"),
    ("overflow number", _raw(parcel(), "declared_value", "1e999"), 422, "out of range"),
    # NaN and infinity as strings: valid JSON, refused by the contract
    ("NaN string", _body(declared_value="NaN"), 422, "finite"),
    ("inf string", _body(gross_weight_kg="inf"), 422, "finite"),
    ("Infinity string", _body(**{"lines.0.value": "Infinity"}), 422, "finite"),
    # a lone surrogate cannot be encoded, so it cannot be hashed or pseudonymised
    ("lone surrogate", _body(**{"sender.name": "\ud800Jan"}), 422, "sender.name"),
]


@pytest.mark.parametrize(
    ("body", "status", "says"), [c[1:] for c in REJECTED], ids=[c[0] for c in REJECTED]
)
def test_bad_body_gets_a_clear_error(
    reliable_server: Server, body: bytes, status: int, says: str
) -> None:
    r = reliable_server.client().post(
        SCORE, content=body, headers={"content-type": "application/json"}
    )
    assert r.status_code == status, r.text[:300]
    error = r.json()["error"]
    assert error["code"] in ("invalid_input", "payload_too_large")
    assert says.lower() in json.dumps(error, ensure_ascii=False).lower(), error


def test_oversized_chunked_body_without_length_gets_413(reliable_server: Server) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(100):
            yield b" " * 1000

    r = reliable_server.client().post(SCORE, content=chunks())
    assert r.status_code == 413
    assert "larger than the limit" in r.json()["error"]["message"]


UNICODE = [
    ("combining marks", "Jose\u0301 Mu\u0308ller"),
    ("right-to-left", "\u0645\u062d\u0645\u062f \u0639\u0644\u064a"),
    ("RTL override", "\u202eredneS\u202c"),
    ("zero-width", "Jan\u200b de\u200c Vries\u200d\ufeff"),
    ("only zero-width", "\u200b\u200c"),
    ("emoji", "Jan \U0001f4e6"),
    ("NUL inside", "Jan\x00Vries"),
    ("CJK", "\u738b\u5c0f\u660e"),
]


@pytest.mark.parametrize("name", [c[1] for c in UNICODE], ids=[c[0] for c in UNICODE])
def test_unicode_names_and_addresses_are_scored(reliable_server: Server, name: str) -> None:
    decl = parcel(**{"sender.name": name, "recipient.street": name, "recipient.city": name})
    r = reliable_server.client().post(SCORE, content=json.dumps(decl).encode())
    assert r.status_code == 200, r.text[:300]
    assert r.json()["item_id"] == decl["item_id"]
    # the same text sent as raw UTF-8 rather than \u escapes, and behind a UTF-8 BOM
    raw = json.dumps(parcel(**{"sender.name": name}), ensure_ascii=False).encode()
    for body in (raw, b"\xef\xbb\xbf" + raw):
        assert reliable_server.client().post(SCORE, content=body).status_code == 200


def test_batch_answers_every_declaration_in_order(reliable_server: Server) -> None:
    sent: list[Any] = [
        parcel(),
        parcel(declared_value="NaN"),
        parcel(lines="green tea"),
        parcel(**{"sender.name": "Jose\u0301 \u200b\u202e"}),
        {"not": "a declaration"},
        "a string",
        parcel(**{"sender.name": "\ud800"}),
    ]
    r = reliable_server.client().post(BATCH, content=json.dumps({"declarations": sent}).encode())
    assert r.status_code == 200, r.text[:300]
    body = r.json()
    results = body["results"]
    assert len(results) == len(sent)
    assert body["scored"] + body["errors"] == len(sent)
    ok = ["error" not in x for x in results]
    assert ok == [True, False, False, True, False, False, False]
    assert results[0]["item_id"] == sent[0]["item_id"]
    assert results[3]["item_id"] == sent[3]["item_id"]
    assert "#1" in results[1]["error"]["problems"][0]["record"]


INFER = [
    # features as strings that parse to NaN or infinity
    ("NaN strings", ["NaN"], 422),
    ("inf strings", ["inf"], 422),
    ("a word", ["abc"], 422),
    ("booleans", [True], 422),
    # an integer too large for a float, a float too large for FP32
    ("huge integer", [10**400], 422),
    ("over FP32", [1e300], 422),
    # row-major nested lists are accepted, as the protocol's clients send them
    ("nested lists", [[1.0]], 200),
]


@pytest.mark.parametrize(("fill", "status"), [c[1:] for c in INFER], ids=[c[0] for c in INFER])
def test_infer_features_refuses_non_numbers(
    reliable_server: Server, fill: list[Any], status: int
) -> None:
    meta = reliable_server.client().get("/v2/models/champion").json()
    k = len(meta["parameters"]["feature_names"])
    body = {"inputs": [{"name": "features", "datatype": "FP32", "shape": [1, k], "data": fill * k}]}
    r = reliable_server.client().post("/v2/models/champion/infer", json=body)
    assert r.status_code == status, r.text[:300]
    if status != 200:
        assert r.json()["error"]["problems"][0]["field"].startswith("inputs[0]")
