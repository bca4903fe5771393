"""Each feature is declared once (name, kind, officer group, words) and computed from that
declaration per row and per column; a feature without a group cannot be declared."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest

from screening import (
    CALENDAR_FEATURES,
    FEATURES,
    GROUPS,
    GROWING_FEATURES,
    HISTORY_FEATURES,
    LABELS,
    PARCEL_FEATURES,
    DeclarationError,
    EntityStats,
    Feature,
    FeatureSpec,
    group_of,
)
from screening._declare import GROUP_LABELS, check_groups, declared
from screening._features import DECLARED
from screening.exchange import EXCHANGE_FEATURES
from screening.explain import SENTENCES, check_sentences
from screening.history import HISTORY, STATS, HistoryFeature


def test_the_model_reads_the_declared_features_in_declaration_order() -> None:
    names = [f.name for f in FEATURES]
    assert FeatureSpec().names == names == [*PARCEL_FEATURES, *HISTORY_FEATURES]
    assert len(set(names)) == len(names)


def test_every_feature_has_a_declared_group_with_a_label_and_words() -> None:
    # every feature a model may read: the default model's, then the partner-seizure ones
    assert [f.name for f in DECLARED] == [*FeatureSpec().names, *EXCHANGE_FEATURES]
    assert FeatureSpec().with_exchange().names == [f.name for f in DECLARED]
    for feature in DECLARED:
        assert group_of(feature.name) == feature.group
        assert LABELS[feature.group] and feature.group in SENTENCES and feature.words
    # the groups partition the features: each feature is in exactly its own group
    grouped = list(itertools.chain.from_iterable(GROUPS.values()))
    assert sorted(grouped) == sorted(f.name for f in DECLARED)
    assert all(GROUPS[group] for group in LABELS)
    assert GROUPS["partner_seizures"] == EXCHANGE_FEATURES


def test_a_feature_without_a_group_cannot_be_declared() -> None:
    with pytest.raises(DeclarationError, match="parcel_colour: no officer group"):
        Feature("parcel_colour", "code", "", "colour of the wrapping")
    with pytest.raises(DeclarationError, match="officer group 'wrapping' is not one of"):
        Feature("parcel_colour", "code", "wrapping", "colour of the wrapping")
    with pytest.raises(DeclarationError, match="kind 'colour' is not one of"):
        Feature("parcel_colour", "colour", "contents", "colour of the wrapping")
    with pytest.raises(DeclarationError, match="no words"):
        Feature("parcel_colour", "code", "contents", " ")


def test_a_history_feature_without_a_group_cannot_be_declared() -> None:
    with pytest.raises(DeclarationError, match="sender_prev_parcels: no officer group"):
        HistoryFeature("sender_prev_parcels", "growing", "", "earlier parcels", "sender", "parcels")
    with pytest.raises(DeclarationError, match="statistic 'weight'"):
        HistoryFeature("sender_weight", "growing", "sender_history", "w", "sender", "weight")


def test_a_declaration_list_lacking_a_group_is_refused() -> None:
    without_route = [f for f in FEATURES if f.group != "route"]
    with pytest.raises(DeclarationError, match="officer groups with no feature: route"):
        check_groups(without_route)
    check_groups(DECLARED)  # the real declarations pass
    with pytest.raises(DeclarationError, match="officer groups with no feature: partner_sei"):
        check_groups(FEATURES)  # the default model's features leave the partners' group
    with pytest.raises(DeclarationError, match="domestic: declared twice"):
        declared([*FEATURES, FEATURES[PARCEL_FEATURES.index("domestic")]])


def test_reason_words_for_every_group_and_no_other() -> None:
    lacking = {g: t for g, t in SENTENCES.items() if g != "weight"}
    with pytest.raises(DeclarationError, match="no template for weight"):
        check_sentences(lacking)
    with pytest.raises(DeclarationError, match="templates for no group: colour"):
        check_sentences({**SENTENCES, "colour": SENTENCES["weight"]})
    assert set(SENTENCES) == set(GROUP_LABELS)


def test_an_undeclared_feature_has_no_group() -> None:
    """No silent fallback: a name no feature has is an error, not "contents"."""
    with pytest.raises(DeclarationError, match="'parcel_colour' is not declared"):
        group_of("parcel_colour")


def test_drift_monitoring_reads_the_kinds() -> None:
    assert {"hour_utc", "weekday"} == CALENDAR_FEATURES
    assert "office_seizure_share" in HISTORY_FEATURES and "office_seizure_share" not in (
        GROWING_FEATURES
    )
    assert set(HISTORY_FEATURES) - {"office_seizure_share"} == GROWING_FEATURES


_STATS = [
    EntityStats(),
    EntityStats(parcels=1, first_us=5_000_000, last_us=5_000_000, partners=1),
    EntityStats(parcels=7, first_us=1, last_us=86_400_000_000 * 3, seizures=2, clean=3, partners=4),
    EntityStats(parcels=2, first_us=10, last_us=20, seizures=0, clean=5),
]


@pytest.mark.parametrize("stat", sorted(STATS))
def test_each_statistic_per_row_equals_per_column(stat: str) -> None:
    now = np.array([86_400_000_000 * 9 + 17, 6_000_000, 86_400_000_000 * 4, 30])
    rows = [STATS[stat].row(s, int(t)) for s, t in zip(_STATS, now, strict=True)]
    columns = {
        f.name: np.array([getattr(s, f.name) for s in _STATS], dtype=np.int64)
        for f in dataclasses.fields(EntityStats)
    }
    got = np.asarray(STATS[stat].column(columns, now), dtype=np.float64)
    np.testing.assert_array_equal(got, np.array(rows, dtype=np.float64))


def test_history_features_are_the_declared_statistics() -> None:
    assert [f.name for f in HISTORY] == list(HISTORY_FEATURES)
    for f in HISTORY:
        assert f.group == f"{f.entity}_history" and f.name.startswith(f.entity)
