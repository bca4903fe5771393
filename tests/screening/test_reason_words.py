"""Reason words never contradict their direction: every template, over many parcels, both
directions. Each sentence ends with the model's direction and names no other; a fact whose
usual reading is the other way (earlier seizures where the model lowers the risk) starts with
"Despite"; no enumeration code (``sale_of_goods``) and no weight in grams reaches the words."""

from __future__ import annotations

import re

import numpy as np
import pytest

from screening import GROUPS, FeatureSpec, reasons
from screening.explain import SENTENCES, direction, sentence

SPEC = FeatureSpec(
    origins=["CA", "CN", "NL", "US"],
    destinations=["DE", "NL"],
    chapter_value_per_gram={"09": 0.05, "33": 0.2, "85": 0.4},
)
#: Words that state a direction; only the closing clause may hold one.
DIRECTION_WORDS = re.compile(
    r"\b(raise[sd]?|raising|lower(s|ed|ing)?|increas\w*|decreas\w*|"
    r"suspicious|harmless|safe|risky)\b",
    re.IGNORECASE,
)


def _parcels(n: int, seed: int = 7) -> list[dict[str, float]]:
    """Feature values as the model sees them, drawn wide: zeros, NaN, small and large counts,
    every category, mail class and cover word."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        v = dict.fromkeys(SPEC.names, 0.0)
        grams = float(rng.choice([0, 20, 350, 1200, 25_000]))
        value = float(rng.choice([0, 1, 4.5, 80, np.nan]))
        v.update(
            gross_weight_g=grams,
            value_eur=value,
            value_per_gram_eur=value / grams if grams else np.nan,
            value_placeholder=float(value in (0, 1)),
            line_value_gap=float(rng.choice([0, 0.5])),
            hs_chapter=float(rng.choice([9, 33, 85, 71, np.nan])),
            weight_vs_chapter=float(rng.choice([np.nan, -1.5, 0.0, 1.2])),
            net_over_gross_weight=float(rng.choice([0.5, 1.2])),
            lines=float(rng.integers(1, 4)),
            quantity=float(rng.integers(1, 9)),
            vague_description_share=float(rng.choice([0, 1])),
            missing_hs_share=float(rng.choice([0, 0.5])),
            foreign_origin_line_share=float(rng.choice([0, 1])),
            origin_code=float(rng.integers(0, 5)),
            destination_code=float(rng.integers(0, 3)),
            sender_address_missing=float(rng.integers(0, 4)),
            recipient_address_missing=float(rng.integers(0, 4)),
            hour_utc=float(rng.integers(0, 24)),
            weekday=float(rng.integers(0, 7)),
            office_prev_inspections=float(rng.choice([0, 3, 117])),
            office_seizure_share=float(rng.choice([np.nan, 0.0, 0.21, 0.9])),
        )
        for prefix in ("sender", "sender_address", "recipient", "recipient_address", "pair"):
            parcels = float(rng.choice([0, 1, 18, 300]))
            v[f"{prefix}_prev_parcels"] = parcels
            if f"{prefix}_prev_seizures" in v:
                v[f"{prefix}_prev_seizures"] = float(rng.integers(0, int(parcels) + 1))
            for name in (f"{prefix}_distinct_senders", f"{prefix}_prev_clean"):
                if name in v:
                    v[name] = float(rng.integers(0, 6))
        for family in ("category_", "mail_class_", "text_"):
            names = [k for k in v if k.startswith(family)]
            v[str(rng.choice(names))] = 1.0
        out.append(v)
    return out


def test_every_group_has_a_template() -> None:
    assert set(SENTENCES) == set(GROUPS)


@pytest.mark.parametrize("group", sorted(SENTENCES))
def test_no_reason_reads_against_its_direction(group: str) -> None:
    for values in _parcels(300):
        fact, usual = SENTENCES[group](values, SPEC)
        assert not DIRECTION_WORDS.search(fact), (group, fact)  # facts state no direction
        for up in (True, False):
            words = sentence(group, values, SPEC, up)
            assert words.endswith(f"{direction(up)}."), words
            opposite = direction(not up)
            assert opposite not in words, words
            rest = words.removesuffix(f"{direction(up)}.")
            assert not DIRECTION_WORDS.search(rest), words
            against = usual != 0 and (usual > 0) != up
            assert words.startswith("Despite ") == against, (usual, up, words)
            assert "_" not in words, words  # plain words, never an enumeration's code
            assert not re.search(r"\d g\b", words), words  # one weight unit: kg
            assert "unknown EUR" not in words and "nan" not in words.lower().split()


def test_reasons_follow_the_sign_of_their_contribution() -> None:
    rng = np.random.default_rng(11)
    for values in _parcels(200, seed=3):
        features = np.array([values[n] for n in SPEC.names])
        contribs = rng.normal(0, 0.5, len(SPEC.names) + 1)
        for r in reasons(contribs, features, SPEC, top=None):
            assert r.sentence.endswith(f"{direction(r.contribution > 0)}."), r


def test_earlier_seizures_read_as_risk_or_say_despite() -> None:
    values = _parcels(1)[0] | {"sender_prev_parcels": 18.0, "sender_prev_seizures": 12.0}
    up = sentence("sender_history", values, SPEC, True)
    down = sentence("sender_history", values, SPEC, False)
    assert up == (
        "18 earlier parcels for this sender, 12 of them seized: the model counts "
        "this as raising the risk."
    )
    assert down.startswith("Despite 18 earlier parcels for this sender, 12 of them seized")


def test_a_zero_contribution_reads_neither_way() -> None:
    values = _parcels(1)[0]
    features = np.array([values[n] for n in SPEC.names])
    contribs = np.zeros(len(SPEC.names) + 1)
    contribs[SPEC.names.index("origin_code")] = 0.7
    found = reasons(contribs, features, SPEC, top=None)
    assert found[0].group == "route" and found[0].sentence.endswith(f"{direction(True)}.")
    for r in found[1:]:
        assert r.contribution == 0.0
        assert r.sentence.endswith(f"{direction(None)}.") and "neither raising nor" in r.sentence
        assert "Despite" not in r.sentence, r.sentence


def test_a_count_of_one_reads_as_one_and_despite_leads_with_the_signal() -> None:
    values = _parcels(1)[0] | {
        "lines": 1.0,
        "quantity": 1.0,
        "vague_description_share": 1.0,
        "missing_hs_share": 0.0,
        "foreign_origin_line_share": 0.0,
    }
    assert sentence("contents", values, SPEC, False) == (
        "Despite a vague description (such as 'gift' or 'samples') in one content line "
        "(one piece), the model counts this as lowering the risk."
    )
    plain = values | {"vague_description_share": 0.0, "quantity": 3.0}
    assert sentence("contents", plain, SPEC, True) == (
        "One content line (3 pieces): the model counts this as raising the risk."
    )
    seized = values | {"sender_prev_parcels": 1.0, "sender_prev_seizures": 1.0}
    assert sentence("sender_history", seized, SPEC, False).startswith(
        "Despite one earlier parcel for this sender, seized, the model"
    )
    first = values | {"sender_prev_parcels": 0.0}
    assert sentence("sender_history", first, SPEC, False).startswith(
        "Despite the first parcel seen for this sender, the model"
    )


@pytest.mark.parametrize("group", sorted(SENTENCES))
def test_no_count_of_one_reads_oddly(group: str) -> None:
    for values in _parcels(300):
        for up in (True, False):
            words = sentence(group, values, SPEC, up)
            odd = r"\b1 \w+ \w+s\b|\b1 of them\b|Despite (\d+|one) (content line|piece)"
            assert not re.search(odd, words), words


@pytest.mark.parametrize(
    ("log_ratio", "says"),
    [
        (0.0, "about the usual weight for the declared goods"),  # not "1.0 times"
        (0.04, "about the usual weight for the declared goods"),  # 1.04 rounds to 1.0
        (-1.5, "22% of the usual weight for the declared goods"),  # lighter: a share
        (1.2, "3.3 times the usual weight for the declared goods"),  # heavier: a multiple
    ],
)
def test_the_weight_against_the_usual_reads_as_a_difference(log_ratio: float, says: str) -> None:
    values = _parcels(1)[0] | {"weight_vs_chapter": log_ratio, "gross_weight_g": 350.0}
    assert says in sentence("weight", values, SPEC, True)
