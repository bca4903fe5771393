"""Point-in-time matching: an indicator counts only between when it was known and its
valid_until; features are 0 without a hit and rise with the evidence; the reason's words."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from screening.exchange import (
    EXCHANGE_FEATURES,
    Indicator,
    PartnerIndex,
    hit_features,
    hit_reason,
    match_supported,
)

TOKEN = "E1:" + "ab" * 16


def _us(day: str) -> int:
    return int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp() * 1_000_000)


def _indicator(source: str, reliability: str, valid_until: str = "2026-06-30") -> Indicator:
    return Indicator(
        ref=f"{source}:{'0' * 24}",
        tokens=[{"token": TOKEN, "role": "recipient", "kind": "address"}],
        month="2026-03",
        category="stimulants",
        quantity_band="10-100 g",
        reliability=reliability,
        accuracy="2",
        handling="H1",
        purpose="drug-trafficking-prevention",
        sharing_group="g",
        valid_until=valid_until,
        source=source,
    )


def test_point_in_time_and_expiry() -> None:
    index = PartnerIndex()
    index.add(_indicator("nl", "B"), _us("2026-03-20"))
    assert index.hits([(TOKEN, "address")], _us("2026-03-19")) == []  # before it was known: no leak
    assert len(index.hits([(TOKEN, "address")], _us("2026-03-21"))) == 1
    assert (
        len(index.hits([(TOKEN, "address")], _us("2026-06-30T23:00:00"))) == 1
    )  # its last valid day
    assert index.hits([(TOKEN, "address")], _us("2026-07-01")) == []  # expired
    assert index.hits([("E1:" + "cd" * 16, "address")], _us("2026-04-01")) == []


def test_features_rise_with_evidence_and_reason_words() -> None:
    at = _us("2026-04-01")
    assert hit_features([], at) == [0.0] * len(EXCHANGE_FEATURES)
    index = PartnerIndex()
    index.add(_indicator("nl", "C"), _us("2026-03-20"))
    one = hit_features(index.hits([(TOKEN, "address")], at), at)
    index.add(_indicator("de", "A"), _us("2026-03-30"))
    hits = index.hits([(TOKEN, "address")], at)
    two = hit_features(hits, at)
    assert all(b >= a for a, b in zip(one, two, strict=True)) and two[1] == 2.0
    assert all(v > 0 for v in one)
    # the words say what is true of the model in service: only a model with the exchange
    # features raises the score on a hit; otherwise the hit is reported, the score unchanged
    assert hit_reason(hits) == (
        "The recipient's address matches a seizure reported by partner de in 2026-03, "
        "reliability A2 (and 1 other partner); reported to the officer; the model in service "
        "does not score partner hits, so the score is unchanged"
    )
    assert hit_reason(hits, scored=True).endswith(  # never "raises" a score it may not raise
        "; the model in service reads partner hits: the parcel's reasons say how much this "
        "one weighed in its score"
    )
    street = [replace(h, kind="name_street") for h in hits]
    assert hit_reason(street).startswith("The recipient's name and street match a seizure")


def test_one_hit_per_partner_reference_naming_every_variant_matched() -> None:
    other = "E1:" + "cd" * 16
    name = "E1:" + "ef" * 16
    ind = _indicator("nl", "B")
    ind.tokens = [
        {"token": TOKEN, "role": "recipient", "kind": "address"},
        {"token": other, "role": "recipient", "kind": "phonetic_street"},
        {"token": name, "role": "sender", "kind": "name~2"},
    ]
    index = PartnerIndex()
    index.add(ind, _us("2026-03-20"))
    at = _us("2026-04-01")
    parcel = [(TOKEN, "address"), (other, "phonetic_street"), (name, "name~2")]
    (hit,) = index.hits(parcel, at)
    assert hit.kind == "address"
    assert hit.variants == ("recipient address", "recipient phonetic_street", "sender name")
    # the parcel's postcode less another character: the name is no part of the match
    (hit,) = index.hits([*parcel[:2], (name, "name~1")], at)
    assert hit.variants == ("recipient address", "recipient phonetic_street")
    # and alone it is none
    assert index.hits([(name, "name~1")], at) == []
    (hit,) = index.hits([(name, "name")], at)  # the parcel's whole postcode: one extra
    assert hit.kind == "name~2" and hit.variants == ("sender name",)


@pytest.mark.parametrize(
    ("pairs", "supported"),
    [
        ([("address", "address")], True),  # any variant but a postcode less one character
        ([("name", "name")], True),  # the same name and postcode
        ([("name~2", "name~2")], True),  # the third character changed
        ([("name", "name~3")], True),  # one postcode has a fourth character more
        ([("name~1", "name")], True),  # or one less
        ([("name~1", "name~2"), ("name~2", "name~1")], True),  # two neighbours swapped
        ([("name~1", "name~0")], False),  # 5351 and 1551 (both 551): two edits apart
        ([("name~0", "name~2"), ("name~2", "name~0")], False),  # not neighbours
        ([("name~1", "name~0"), ("name_street", "name_street")], True),  # another variant
        ([], False),  # nothing shared
    ],
)
def test_a_postcode_less_one_character_matches_only_one_typo(
    pairs: list[tuple[str, str]], supported: bool
) -> None:
    assert match_supported(pairs) is supported
