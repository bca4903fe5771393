"""Exchange tokens: the OPRF against RFC 9497, threshold custody, quota, epochs, variants."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from screening import ScreeningError
from screening.exchange import (
    Custodian,
    DirectTokens,
    QuotaExceeded,
    TokenClient,
    blind,
    create_custodians,
    deal_epoch,
    direct,
    evaluate,
    finalize,
    match_supported,
    party_tokens,
    party_variants,
    split_key,
)

SK = bytes.fromhex("5ebcea5ee37023ccb9fc2d2019f9d7737be85591ae8652ffa9ef0f4d37063b0e")
BLIND = bytes.fromhex("64d37aed22a27f5191de1c1d69fadb899d8862b58eb4220029e036ec4c1f6706")
NOW = datetime(2026, 3, 10, 12, tzinfo=UTC)
PARTY = {
    "name": "Thijs Hendriks",
    "street": "Stationsweg 56",
    "city": "Utrecht",
    "postcode": "8976 CF",
    "country": "NL",
}


def test_rfc9497_ristretto255_sha512_vectors() -> None:
    for data, blinded_hex, evaluated_hex, output_hex in (
        (
            b"\x00",
            "609a0ae68c15a3cf6903766461307e5c8bb2f95e7e6550e1ffa2dc99e412803c",
            "7ec6578ae5120958eb2db1745758ff379e77cb64fe77b0b2d8cc917ea0869c7e",
            "527759c3d9366f277d8c6020418d96bb393ba2afb20ff90df23fb7708264e2f3ab9135e3bd69955851"
            "de4b1f9fe8a0973396719b7912ba9ee8aa7d0b5e24bcf6",
        ),
        (
            bytes.fromhex("5a" * 17),
            "da27ef466870f5f15296299850aa088629945a17d1f5b7f5ff043f76b3c06418",
            "b4cbf5a4f1eeda5a63ce7b77c7d23f461db3fcab0dd28e4e17cecb5c90d02c25",
            "f4a74c9c592497375e796aa837e907b1a045d34306a749db9f34221f7e750cb4f2a6413a6bf6fa5e19"
            "ba6348eb673934a722a7ede2e7621306d18951e7cf2c73",
        ),
    ):
        r, blinded = blind(data, BLIND)
        assert blinded.hex() == blinded_hex
        evaluated = evaluate(SK, blinded)
        assert evaluated.hex() == evaluated_hex
        assert finalize(data, r, evaluated).hex() == output_hex


def test_blinded_requests_are_unlinkable_and_bad_elements_refused() -> None:
    _, first = blind(b"same input")
    _, second = blind(b"same input")
    assert first != second  # the custodian cannot tell two requests for one input apart
    with pytest.raises(ScreeningError, match="not a valid ristretto255 element"):
        evaluate(SK, b"\x01" * 32)


@pytest.fixture
def custodians(tmp_path: Path) -> tuple[list[Custodian], list[dict[str, Any]]]:
    seen: list[dict[str, Any]] = []
    folders = create_custodians(
        tmp_path / "custody",
        ["c1", "c2", "c3"],
        threshold=2,
        requesters={"nl": 50, "be": 50, "fr": 50},
    )
    group = [Custodian(f, on_request=seen.append) for f in folders]
    deal_epoch(group, 2, "2026Q1", "2099-03-31")
    return group, seen


def test_any_two_of_three_custodians_give_the_same_tokens(custodians: Any) -> None:
    group, seen = custodians
    inputs = ["a\x1fb", "c\x1fd"]
    tokens = {
        tuple(TokenClient(pair, 2, "nl").tokens(inputs, "2026Q1"))
        for pair in ([group[0], group[1]], [group[1], group[2]], [group[2], group[0]])
    }
    assert len(tokens) == 1
    (found,) = tokens
    assert found[0] != found[1] and all(t.startswith("2026Q1:") for t in found)
    # one share alone is not the key: its "token" differs
    (index, share) = split_key(SK, 2, 3)[0]
    assert index == 1 and direct(share, b"x") != direct(SK, b"x")
    # every request is logged at the custodian and reported (for the decision log)
    assert {r["requester"] for r in seen} == {"nl"} and all(r["elements"] == 2 for r in seen)
    assert len(group[0].requests()) == 2


def test_quota_refuses_and_logs(custodians: Any) -> None:
    group, seen = custodians
    client = TokenClient(group, 2, "be")
    client.tokens([f"v{i}" for i in range(40)], "2026Q1")
    with pytest.raises(QuotaExceeded, match="quota: be may have 50 elements"):
        client.tokens([f"w{i}" for i in range(20)], "2026Q1")
    refused = [r for r in group[0].requests() if r["refused"]]
    assert len(refused) == 1 and refused[0]["requester"] == "be"
    assert any(r["refused"] for r in seen)
    TokenClient(group, 2, "fr").tokens(["v1"], "2026Q1")  # another requester has its own quota


def test_unknown_requester_is_refused_and_logged(custodians: Any) -> None:
    group, seen = custodians
    with pytest.raises(ScreeningError, match="xx is not a requester this custodian knows"):
        TokenClient(group, 2, "xx").tokens(["v1"], "2026Q1")
    assert [r["requester"] for r in group[0].requests() if r["refused"]] == ["xx"]
    assert seen[-1]["requester"] == "xx" and seen[-1]["refused"]
    group[0].allow("xx", 1)  # the custodian's own decision, in its own folder
    assert group[0].requesters["xx"] == 1
    assert oct((group[0].folder / "requesters.json").stat().st_mode & 0o777) == "0o600"


def test_destroyed_epoch_computes_nothing_and_keys_file_keeps_no_share(custodians: Any) -> None:
    group, _ = custodians
    client = TokenClient(group, 2, "nl")
    client.tokens(["v"], "2026Q1")
    assert [c.expire(date(2099, 4, 2)) for c in group] == [["2026Q1"]] * 3
    for c in group:
        assert c.epochs["2026Q1"].share is None
        assert c.live(date(2099, 4, 2)) == []
    with pytest.raises(ScreeningError, match="epoch 2026Q1 has no key here"):
        client.tokens(["v"], "2026Q1")


def test_variants_never_a_bare_name_and_one_typo_keeps_a_token() -> None:
    variants = party_variants("recipient", PARTY)
    assert set(variants) == {"name", "address", "name_street", "phonetic_street"}
    for text in variants.values():  # each names a place besides any name
        assert "8976cf" in text or "stationsweg" in text
    assert party_variants("sender", {"name": "Anna Smith", "country": "GB"}) == {}
    # name and postcode only: the postcode less one character each, so one typo still matches
    alone = party_variants("sender", {"name": "Anna Smith", "postcode": "AB12", "country": "GB"})
    assert sorted(alone) == ["name", "name~0", "name~1", "name~2", "name~3"]
    client0 = DirectTokens({"E": SK})
    (a,) = party_tokens(
        client0, [{"sender": {"name": "Anna Smith", "postcode": "AB12", "country": "GB"}}], "E"
    )

    def kinds_shared(postcode: str) -> list[tuple[str, str]]:
        (b,) = party_tokens(
            client0,
            [{"sender": {"name": "Anna Smith", "postcode": postcode, "country": "GB"}}],
            "E",
        )
        return [(x["kind"], y["kind"]) for x in a for y in b if x["token"] == y["token"]]

    for mistyped in ("AB13", "A12", "AB123", "BA12", "AB21"):
        assert match_supported(kinds_shared(mistyped)), mistyped
    # two edits apart (AB12 less B, XA12 less X; AB12 and AB34): no match, token shared or not
    for far in ("XA12", "AB34"):
        assert not match_supported(kinds_shared(far)), far
    assert kinds_shared("XA12")
    client = DirectTokens({"E": SK})
    (original,) = party_tokens(client, [{"recipient": PARTY}], "E")
    typos = [
        {**PARTY, "name": "Thijs Hendricks"},
        {**PARTY, "street": "Stationweg 56"},
        {**PARTY, "postcode": "8967 CF"},
        {**PARTY, "name": "Hendriks, Thijs"},
    ]
    for typo in typos:
        (found,) = party_tokens(client, [{"recipient": typo}], "E")
        shared = {t["token"] for t in found} & {t["token"] for t in original}
        assert shared, typo
    other = {**PARTY, "name": "Anouk Bos", "street": "Prinsengracht 249", "postcode": "3890 DC"}
    (found,) = party_tokens(client, [{"recipient": other}], "E")
    assert not {t["token"] for t in found} & {t["token"] for t in original}


def test_a_party_known_by_its_identification_number_gets_a_token_of_it() -> None:
    """Contract version 2: a trader known only by its EORI has a variant, and the same number
    written another way (spaces, dashes, case) under another name matches it."""
    only = party_variants("sender", {"id_number": "DE 1234-5678", "country": "DE"})
    assert list(only) == ["id_number"]
    assert "DE12345678" in only["id_number"]
    client = DirectTokens({"E": SK})
    (a,) = party_tokens(client, [{"sender": {"id_number": "DE 1234-5678", "country": "DE"}}], "E")
    (b,) = party_tokens(
        client,
        [{"sender": {"name": "Muster GmbH", "id_number": "de12345678", "country": "DE"}}],
        "E",
    )
    (c,) = party_tokens(client, [{"sender": {"id_number": "DE12345679", "country": "DE"}}], "E")
    assert {t["token"] for t in a} & {t["token"] for t in b}
    assert not {t["token"] for t in a} & {t["token"] for t in c}
