from typing import Any

import pytest

import data_contracts
from data_contracts import (
    InspectionOutcome,
    ParcelDeclaration,
    validate_declarations,
    validate_one,
    validate_outcomes,
)
from tests.factories import declaration, outcome


def test_valid_declaration_has_no_error() -> None:
    parsed, problems = validate_one(ParcelDeclaration, declaration())
    assert parsed is not None
    assert [p for p in problems if p.severity == "error"] == []
    assert parsed.mail_class == "registered_letter"


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"item_id": "RR123456784NL"}, "item_id", "check digit"),  # bad S10 check digit
        ({"item_id": "XX1"}, "item_id", "expected 2 letters"),  # malformed S10
        ({"origin_country": "XY"}, "origin_country", "ISO 3166"),  # unknown country
        ({"sender.country": "UK"}, "sender.country", "ISO 3166"),  # UK is not ISO (GB is)
        ({"lines.0.origin_country": "ZZ"}, "lines[0].origin_country", "ISO 3166"),
        ({"currency": "EURO"}, "currency", "ISO 4217"),  # unknown currency
        ({"lines.0.hs_code": "0902"}, "lines[0].hs_code", "pattern"),  # HS code too short
        ({"lines.0.hs_code": "09022012345"}, "lines[0].hs_code", "pattern"),  # too long
        ({"lines.0.hs_code": "0902AB"}, "lines[0].hs_code", "pattern"),  # not digits
        ({"gross_weight_kg": -0.1}, "gross_weight_kg", "greater than or equal"),  # negative
        ({"declared_value": float("inf")}, "declared_value", "finite"),  # infinity
        ({"declared_value": float("nan")}, "declared_value", "finite"),  # NaN
        ({"lines.0.value": -1}, "lines[0].value", "greater than or equal"),
        ({"lines.0.quantity": 0}, "lines[0].quantity", "greater than or equal"),
        ({"lines": []}, "lines", "at least 1"),  # no content line
        ({"posted_at": "2026-03-02T09:15:00"}, "posted_at", "timezone"),  # naive time
        ({"category": "present"}, "category", "Input should be"),  # unknown category
        ({"sender.name": ""}, "sender.name", "at least 1"),  # empty name
        ({"contract_version": "0"}, "contract_version", "Input should be"),  # wrong version
        ({"colour": "red"}, "(unknown field)", "Extra inputs"),  # unknown: name not repeated
        ({"email": "a@b.ch"}, "email", "Extra inputs"),  # a name the contract uses is repeated
        ({"gross_weight_kg": "heavy"}, "gross_weight_kg", "valid number"),  # wrong type
    ],
)
def test_each_rule_rejects_bad_input(changes: dict[str, Any], field: str, reason: str) -> None:
    record = declaration(**changes)
    parsed, problems = validate_one(ParcelDeclaration, record, "#7 (x)")
    assert parsed is None
    errors = [p for p in problems if p.severity == "error"]
    assert [p.field for p in errors] == [field]
    assert reason in errors[0].problem
    assert errors[0].record == "#7 (x)"


def test_missing_field_is_named() -> None:
    record = declaration()
    del record["recipient"]["country"]
    _, problems = validate_one(ParcelDeclaration, record)
    assert [(p.field, p.problem, p.got) for p in problems] == [
        ("recipient.country", "field required", None)
    ]


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"declared_value": 50.0}, "declared_value", "do not add up"),  # lines sum 12.5
        ({"gross_weight_kg": 0.1}, "gross_weight_kg", "exceeds the gross"),  # lines 0.25 kg
        ({"lines.0.description": "Gift"}, "lines[0].description", "vague"),
        ({"lines.1.hs_code": None}, "lines[1].hs_code", "missing"),
        ({"recipient.street": None}, "recipient", "street missing"),
    ],
)
def test_quality_findings_are_warnings_not_rejections(
    changes: dict[str, Any], field: str, reason: str
) -> None:
    parsed, problems = validate_one(ParcelDeclaration, declaration(**changes))
    assert parsed is not None
    assert [(p.field, p.severity) for p in problems] == [(field, "warning")]
    assert reason in problems[0].problem


def test_zero_or_one_value_is_a_warning() -> None:
    record = declaration(declared_value=1.0, **{"lines.0.value": 1.0, "lines.1.value": 0.0})
    _, problems = validate_one(ParcelDeclaration, record)
    assert ("declared_value", "warning") in [(p.field, p.severity) for p in problems]


def test_batch_keeps_every_record() -> None:
    records = [declaration(), declaration(item_id="bad"), "not an object", declaration()]
    report = validate_declarations(records)
    assert [i for i, _ in report.valid] == [0, 3]
    assert report.rejected == [1, 2]
    assert report.records == 4
    assert {p.record for p in report.errors} == {"#1", "#2"}  # "bad" is no item ID: not shown


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"result": None}, "needs a result"),  # inspected without result
        ({"inspected": False}, "not inspected"),  # result without inspection
        ({"result": "clean"}, "only recorded for seized"),  # substance on a clean item
        ({"selection_probability": 0.0}, "greater than 0"),  # impossible propensity
        ({"selection_probability": 1.5}, "less than or equal to 1"),
        ({"selection_reason": "hunch"}, "Input should be"),
        ({"item_id": "RR123456784NL"}, "check digit"),
        ({"recorded_at": "2026-03-09 14:00"}, "timezone"),
    ],
)
def test_outcome_rules(changes: dict[str, Any], reason: str) -> None:
    parsed, problems = validate_one(InspectionOutcome, outcome(**changes))
    assert parsed is None
    assert reason in problems[0].problem


def test_outcome_not_inspected_is_valid() -> None:
    report = validate_outcomes(
        [outcome(inspected=False, result=None, substance=None, quantity_g=None)]
    )
    assert report.errors == []


def test_all_matches_public_names() -> None:
    public = {n for n in vars(data_contracts) if not n.startswith("_")}
    modules = {n for n in public if type(getattr(data_contracts, n)).__name__ == "module"}
    assert sorted(public - modules - {"annotations"}) == data_contracts.__all__
