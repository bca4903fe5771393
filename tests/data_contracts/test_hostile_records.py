"""Hostile records: the work and the answer stay small, absurd values are refused, and the
posting window applies only where a caller asks for it (scoring, not historical data)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from data_contracts import (
    MAX_PROBLEMS_PER_RECORD,
    ParcelDeclaration,
    PostingWindow,
    validate_declarations,
    validate_one,
)
from tests.factories import declaration

MARK = "Secretname"


def _with_keys(where: str, count: int) -> dict[str, Any]:
    record = declaration()
    target = {"": record, "sender": record["sender"], "lines[0]": record["lines"][0]}[where]
    for k in range(count):
        target[f"{MARK}{k}"] = k
    return record


@pytest.mark.parametrize("where", ["", "sender", "lines[0]"])  # top level, a party, a line
def test_a_record_with_many_unknown_keys_stops_early(
    where: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Counted, not timed: pydantic never sees the record (it would build a problem of every
    key) and only the listed keys are built into problems."""
    import data_contracts._validate as validate_module

    record = _with_keys(where, 120_000)
    built, parsed_by_pydantic = [0], [0]
    unknown_field = getattr(validate_module, "unknown_field")  # noqa: B009 - not exported

    def counted(*args: Any) -> Any:
        built[0] += 1
        return unknown_field(*args)

    def refused(*args: Any, **kwargs: Any) -> Any:
        parsed_by_pydantic[0] += 1
        raise AssertionError("the record went to pydantic")

    monkeypatch.setattr(validate_module, "unknown_field", counted)
    monkeypatch.setattr(ParcelDeclaration, "model_validate", refused)
    parsed, problems = validate_one(ParcelDeclaration, record, "#0")
    assert parsed_by_pydantic == [0] and built == [MAX_PROBLEMS_PER_RECORD]
    assert parsed is None
    assert len(problems) == MAX_PROBLEMS_PER_RECORD + 1
    assert problems[-1].field == "(record)"
    assert problems[-1].problem.startswith(f"{120_000 - MAX_PROBLEMS_PER_RECORD} more unknown")
    assert MARK not in str([p.as_dict() for p in problems])


def test_a_few_unknown_keys_are_each_named_without_their_names() -> None:
    record = _with_keys("sender", 2)
    record["sender_name"] = "Jan de Vries"  # a name the contract uses (a CSV column): shown
    record["recipent"] = {}  # a typo of a field: the field is suggested, the key not repeated
    _, problems = validate_one(ParcelDeclaration, record, "#0")
    assert [(p.field, p.expected) for p in problems] == [
        ("sender.(unknown field)", None),
        ("sender.(unknown field)", None),
        ("sender_name", None),
        ("(unknown field)", "'recipient'"),
    ]
    assert "its name, 8 characters, is not repeated" in problems[3].problem
    assert all(p.got and "withheld" in p.got for p in problems)
    assert MARK not in str([p.as_dict() for p in problems])


def test_problems_are_capped_per_record_with_a_count_of_the_rest() -> None:
    bad_line = {"description": "x", "quantity": 0, "net_weight_kg": -1.0, "value": -1.0}
    record = declaration(lines=[bad_line] * 200, currency="XXX")
    _, problems = validate_one(ParcelDeclaration, record, "#0")
    assert len(problems) == MAX_PROBLEMS_PER_RECORD + 1
    assert [p.field for p in problems[:2]] == ["currency", "lines[0].quantity"]
    assert problems[-1].field == "(record)"
    assert problems[-1].problem.startswith(f"{1 + 600 - MAX_PROBLEMS_PER_RECORD} more problems")
    # warnings of a valid record are capped the same way (200 lines without an HS code)
    fine = {"description": "socks", "quantity": 1, "net_weight_kg": 0.001, "value": 0.05}
    parsed, warnings = validate_one(ParcelDeclaration, declaration(lines=[fine] * 200), "#0")
    assert parsed is not None and len(warnings) == MAX_PROBLEMS_PER_RECORD + 1
    assert warnings[-1].severity == "warning"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"gross_weight_kg": 1e308}, "gross_weight_kg"),  # scored 'inspect' before
        ({"gross_weight_kg": 1000.001}, "gross_weight_kg"),  # over 1,000 kg
        ({"declared_value": 1e308}, "declared_value"),
        ({"declared_value": 1.1e10}, "declared_value"),  # over 1e10 units of any currency
        ({"postal_charges": 1e308}, "postal_charges"),
        ({"lines.0.net_weight_kg": 1e308}, "lines[0].net_weight_kg"),
        ({"lines.0.value": 1e308}, "lines[0].value"),
        ({"lines.0.quantity": 1_000_001}, "lines[0].quantity"),
    ],
)
def test_absurd_weights_values_and_quantities_are_refused(
    changes: dict[str, Any], field: str
) -> None:
    parsed, problems = validate_one(ParcelDeclaration, declaration(**changes), "#0")
    assert parsed is None
    assert [(p.field, p.problem.split(" to ")[0]) for p in problems] == [
        (field, "Input should be less than or equal")
    ]


@pytest.mark.parametrize(
    "posted_at",
    [
        "0001-01-02T00:00:00Z",
        "0001-01-01T00:30:00+01:00",
        "9999-12-31T23:59:59-01:00",
        "2026-09-08T00:00:00Z",
        "2026-12-12T00:00:00Z",
    ],
)
def test_the_posting_window_refuses_implausible_times(posted_at: str) -> None:
    window = PostingWindow(datetime.fromisoformat("2026-12-07T12:00:00+00:00"))
    record = declaration(posted_at=posted_at)
    parsed, problems = validate_one(ParcelDeclaration, record, "#0", window)
    assert parsed is None
    assert [p.field for p in problems] == ["posted_at"]
    assert problems[0].problem.startswith("posting time outside the plausible window")
    # historical data (training, the simulator, ``parcelscreen validate``): no window
    assert validate_one(ParcelDeclaration, record, "#0")[0] is not None


def test_the_window_keeps_times_inside_it() -> None:
    window = PostingWindow(datetime.fromisoformat("2026-12-07T12:00:00+00:00"))
    for posted_at in ("2026-09-08T12:00:00Z", "2026-12-09T12:00:00Z", "2026-12-07T13:00:00+01:00"):
        assert (
            validate_one(ParcelDeclaration, declaration(posted_at=posted_at), "#0", window)[0]
            is not None
        )


def test_an_item_id_that_is_not_one_is_never_repeated() -> None:
    report = validate_declarations(
        [declaration(item_id=f"Alice {MARK}, Geheimweg 7"), declaration(item_id="RR123456784NL")]
    )
    assert [(p.record, p.field) for p in report.errors] == [
        ("#0", "item_id"),
        ("#1 (RR123456784NL)", "item_id"),
    ]
    assert MARK not in str([p.as_dict() for p in report.errors])
    assert (
        report.errors[0].got == "text of 29 characters, withheld (not an item ID, may hold "
        "personal data)"
    )
    assert report.errors[1].got == "'RR123456784NL'"  # the shape of an ID: shown
    # a label built by a caller from the raw value loses it too
    _, problems = validate_one(ParcelDeclaration, declaration(item_id=MARK), f"#3 ({MARK})")
    assert [p.record for p in problems] == ["#3"]
