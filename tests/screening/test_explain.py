import numpy as np
import pytest

from screening import (
    GROUPS,
    LABELS,
    DeclarationError,
    FeatureSpec,
    group_contributions,
    group_of,
    reasons,
)


@pytest.mark.parametrize(
    ("feature", "group"),
    [
        ("value_per_gram_eur", "declared_value"),
        ("sender_prev_seizures", "sender_history"),
        ("sender_address_prev_parcels", "sender_address_history"),  # longest prefix wins
        ("recipient_address_distinct_senders", "recipient_address_history"),
        ("category_gift", "category"),
        ("office_seizure_share", "office_history"),
    ],
)
def test_group_of(feature: str, group: str) -> None:
    assert group_of(feature) == group


def test_every_feature_has_a_group_with_a_label() -> None:
    spec = FeatureSpec()
    # the partner-seizure group is read only by a model trained with partners' indicators
    assert {group_of(n) for n in spec.names} == set(GROUPS) - {"partner_seizures"}
    assert {group_of(n) for n in spec.with_exchange().names} == set(GROUPS) == set(LABELS)
    with pytest.raises(DeclarationError, match="not declared"):  # no fallback group
        group_of("parcel_colour")


def _row(spec: FeatureSpec, **values: float) -> np.ndarray:
    row = np.zeros(len(spec.names))
    for name, value in values.items():
        row[spec.names.index(name)] = value
    return row


def test_groups_sum_to_the_margin_and_reasons_rank_by_size() -> None:
    spec = FeatureSpec(
        origins=["NL", "US"], destinations=["AU", "US"], chapter_value_per_gram={"09": 0.05}
    )
    features = _row(
        spec,
        value_eur=0.4,
        gross_weight_g=350,
        value_per_gram_eur=0.4 / 350,
        hs_chapter=9,
        category_gift=1,
        origin_code=1,
        destination_code=1,
        lines=1,
        quantity=1,
    )
    contribs = np.zeros(len(spec.names) + 1)
    contribs[spec.names.index("value_per_gram_eur")] = 1.5
    contribs[spec.names.index("value_eur")] = 0.5
    contribs[spec.names.index("category_gift")] = -0.3
    contribs[spec.names.index("origin_code")] = 0.8
    contribs[-1] = -6.0
    grouped = group_contributions(contribs, spec.names)
    assert sum(grouped.values()) + contribs[-1] == pytest.approx(contribs.sum())
    found = reasons(contribs, features, spec, top=3)
    assert [r.group for r in found] == ["declared_value", "route", "category"]
    assert found[0].contribution == pytest.approx(2.0)
    assert "0.40 EUR for 0.350 kg" in found[0].sentence
    assert "far below the usual value" in found[0].sentence
    assert found[0].sentence.endswith("the model counts this as raising the risk.")
    assert found[1].sentence == "Sent from NL to AU: the model counts this as raising the risk."
    # a gift is a known risk signal: where the model lowers the risk, the reason says so
    assert found[2].sentence == (
        "Despite declared category gift, the model counts this as lowering the risk."
    )


@pytest.mark.parametrize(
    ("values", "says", "never"),
    [
        (
            {"value_eur": np.nan, "gross_weight_g": 350, "value_per_gram_eur": np.nan},
            "in a currency with no reference rate to EUR for 0.350 kg",
            "usual",
        ),
        (
            {"value_eur": 12.5, "gross_weight_g": 0, "value_per_gram_eur": np.nan},
            "12.50 EUR for 0.000 kg (no value per kg to compare)",
            "usual",
        ),
    ],
)
def test_no_comparison_is_stated_where_none_can_be_made(
    values: dict[str, float], says: str, never: str
) -> None:
    spec = FeatureSpec(chapter_value_per_gram={"09": 0.05})
    features = _row(spec, hs_chapter=9, lines=1, quantity=1, **values)
    contribs = np.zeros(len(spec.names) + 1)
    contribs[spec.names.index("value_per_gram_eur")] = 1.0
    (found,) = reasons(contribs, features, spec, top=1)
    assert says in found.sentence and never not in found.sentence
    assert "unknown" not in found.sentence
