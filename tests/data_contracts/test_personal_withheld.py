"""A problem never repeats personal data: values under a party, values of unknown keys, raw
lines that failed to parse and spilled CSV fields are described by kind and size only. The
record, the field and the problem still say what to fix."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa

from data_contracts import (
    DECLARATION_SCHEMA,
    ParcelDeclaration,
    Problem,
    iter_records,
    validate_records,
    write_records,
)
from data_contracts._table_validate import validate_table
from tests.factories import declaration

MARK = "Secretname"  # in every personal value below; no problem may contain it


def _problems(path: Path) -> list[Problem]:
    return validate_records(ParcelDeclaration, iter_records(path, "declaration")).problems


def _text(problems: list[Problem]) -> str:
    return "\n".join(f"{p}|{p.as_dict()}" for p in problems)


def _bad_records() -> list[dict[str, Any]]:
    too_long = declaration()
    too_long["sender"]["name"] = f"Alice {MARK} " + "x" * 300
    long_phone = declaration()
    long_phone["recipient"]["phone"] = f"+41 79 123 45 67 (Alice {MARK}, mobile)"
    wrong_type = declaration()
    wrong_type["sender"]["street"] = {"line1": f"{MARK}weg 7"}
    unknown_key = declaration()
    unknown_key["recipient"]["nickname"] = f"Bobby {MARK}"
    flat_keys = declaration()
    flat_keys["sender_name"] = f"Alice {MARK}"  # a producer's flat CSV-style key
    city_as_country = declaration()
    city_as_country["sender"]["country"] = f"{MARK}thur"
    return [too_long, long_phone, wrong_type, unknown_key, flat_keys, city_as_country]


def test_json_lines_problems_withhold_party_values(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    lines = [json.dumps(r) for r in _bad_records()]
    lines.append('{"sender": {"name": "Alice ' + MARK + '", "street": "Geheimweg 7"}, "item_')
    path.write_text("\n".join(lines) + "\n")
    problems = _problems(path)
    assert [(p.record.split(" ")[0:2], p.field) for p in problems] == [
        (["line", "1"], "sender.name"),
        (["line", "2"], "recipient.phone"),
        (["line", "3"], "sender.street"),
        (["line", "4"], "recipient.(unknown field)"),
        (["line", "5"], "sender_name"),
        (["line", "6"], "sender.country"),
        (["line", "7"], "(record)"),
    ]
    assert MARK not in _text(problems)
    by_field = {p.field: p for p in problems}
    assert by_field["sender.name"].got == "text of 317 characters, withheld (personal data)"
    assert by_field["sender.name"].problem == "String should have at most 300 characters"
    assert by_field["sender.country"].problem == "expected an ISO 3166-1 alpha-2 country code"
    assert by_field["sender.street"].got == "dict of 1, withheld (personal data)"
    assert by_field["sender_name"].got == "text of 16 characters, withheld (unknown field)"
    assert by_field["(record)"].problem.startswith("not valid JSON")


def test_values_outside_the_parties_are_still_shown(tmp_path: Path) -> None:
    record = declaration()
    record["origin_country"] = "XY"
    record["gross_weight_kg"] = "heavy"
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps(record) + "\n")
    got = {p.field: p.got for p in _problems(path)}
    assert got == {"origin_country": "'XY'", "gross_weight_kg": "'heavy'"}


def test_a_name_put_in_a_code_field_is_not_repeated(tmp_path: Path) -> None:
    """A code field (country, currency) holding what is not a code, such as a name pasted
    into the wrong column, gets its kind and size, not the value; a wrong code is shown."""
    record = declaration()
    record["origin_country"] = "Tess de Groot"
    record["currency"] = "EUR"
    record["destination_country"] = "X1"
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps(record) + "\n")
    got = {p.field: p.got for p in _problems(path)}
    assert (
        got["origin_country"]
        == "text of 13 characters, withheld (not a code, may hold personal data)"
    )
    assert got["destination_country"] == "'X1'"
    assert "Tess" not in json.dumps(got)


def test_the_parquet_path_withholds_as_the_model_does() -> None:
    records = _bad_records()[:2] + [_bad_records()[5]]
    for r in records:
        r["posted_at"] = ParcelDeclaration.model_validate(declaration()).posted_at
    valid, problems = validate_table(pa.Table.from_pylist(records, schema=DECLARATION_SCHEMA))
    assert not valid.any()
    assert [p.field for p in problems] == ["sender.name", "recipient.phone", "sender.country"]
    assert MARK not in _text(problems)
    assert problems[0].got == "text of 317 characters, withheld (personal data)"


def test_csv_rows_of_one_item_must_agree_on_the_parties(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    write_records([ParcelDeclaration.model_validate(declaration())], path, "declaration")
    header, first, second = path.read_text().splitlines()
    path.write_text("\n".join([header, first, second.replace("Mary Smith", f"Mary {MARK}")]) + "\n")
    (problem,) = _problems(path)
    assert (problem.field, problem.problem) == (
        "recipient.name",
        "differs between rows of one item (line 3)",
    )
    assert MARK not in _text([problem])


def test_csv_fields_past_the_header_on_any_row_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    write_records([ParcelDeclaration.model_validate(declaration())], path, "declaration")
    header, first, second = path.read_text().splitlines()
    path.write_text("\n".join([header, first, second + f",{MARK} spilled"]) + "\n")
    (problem,) = _problems(path)
    assert (problem.field, problem.problem) == ("(row)", "more fields than the header (line 3)")
    assert problem.got == "list of 1, withheld (may hold personal data)"
