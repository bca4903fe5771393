"""Contract version 2: express consignments, party identification numbers, S10 countries.

Every case goes through both validators (record by record and vectorised) and must agree;
version 1 files (without the new columns) still read in every form.
"""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from data_contracts import (
    DECLARATION_CSV_COLUMNS,
    DECLARATION_SCHEMA,
    InspectionOutcome,
    ParcelDeclaration,
    iter_records,
    validate_one,
    validate_records,
    validate_table,
    write_records,
)
from tests.data_contracts.test_table_validate import CASES, _compare, _record
from tests.factories import declaration, outcome

EXPRESS = {
    "carrier": "DHL",
    "house_consignment": "1234567890",
    "transport_document": "176-12345675",
}
V2_EXPRESS = {"contract_version": "2", "item_id": "DHL:1234567890", "express": EXPRESS}


# (changes to the version 1 factory record, problem fields): each must agree in both validators
V2_CASES: list[tuple[dict[str, Any], set[str]]] = [
    (V2_EXPRESS, set()),
    ({**V2_EXPRESS, "express": {**EXPRESS, "transport_document": None}}, set()),
    ({"contract_version": "2"}, set()),  # a postal item in version 2
    ({"item_id": "DHL:1234567890", "express": EXPRESS}, {"item_id", "express"}),  # version 1
    ({"contract_version": "2", "item_id": "DHL:1234567890"}, {"express"}),  # details missing
    ({"contract_version": "2", "express": EXPRESS}, {"express"}),  # a postal ID with details
    ({**V2_EXPRESS, "item_id": "DHL:1234567891"}, {"express"}),  # ID and details disagree
    ({**V2_EXPRESS, "item_id": "DHLX1:12345"}, {"item_id"}),  # carrier code of 5
    ({**V2_EXPRESS, "item_id": "DHL:ABCDEF"}, {"item_id"}),  # house number without a digit
    ({**V2_EXPRESS, "item_id": "dhl:1234567890"}, {"item_id"}),  # lower case
    ({**V2_EXPRESS, "express": {**EXPRESS, "carrier": "D"}}, {"express.carrier"}),
    ({**V2_EXPRESS, "express": {**EXPRESS, "carrier": None}}, {"express.carrier"}),
    (
        {**V2_EXPRESS, "express": {**EXPRESS, "house_consignment": "ABC"}},
        {"express.house_consignment"},
    ),
    (
        {**V2_EXPRESS, "express": {**EXPRESS, "house_consignment": None}},
        {"express.house_consignment"},
    ),
    (
        {**V2_EXPRESS, "express": {**EXPRESS, "transport_document": "176 1234"}},
        {"express.transport_document"},
    ),
    ({**V2_EXPRESS, "express": {**EXPRESS, "carrier": " DHL "}}, set()),  # stripped: valid
    ({"contract_version": "2", "sender.name": None, "sender.id_number": "DE123456789012"}, set()),
    ({"contract_version": "2", "sender.id_number": "de 1234/56.7-8"}, set()),  # beside a name
    ({"sender.id_number": "DE123456789012"}, {"sender"}),  # version 1 has no id_number
    ({"contract_version": "2", "sender.name": None}, {"sender"}),  # neither name nor number
    ({"sender.name": None}, {"sender"}),
    ({"contract_version": "2", "recipient.id_number": "#1"}, {"recipient.id_number"}),
    ({"contract_version": "2", "recipient.id_number": "x" * 36}, {"recipient.id_number"}),
    ({"contract_version": "3"}, {"contract_version"}),
    (
        {"contract_version": "0", "item_id": "DHL:1234567890", "express": EXPRESS},
        {"contract_version"},
    ),  # not judged on a version it does not validly have
    ({"item_id": "RB123456785XX"}, {"item_id"}),  # no country XX
    ({"item_id": "RR123456785UK"}, {"item_id"}),  # UK is not ISO (GB is)
    ({"item_id": "RR123456785XK"}, set()),  # Kosovo, as the UPU uses it
    ({**V2_EXPRESS, "item_id": None}, {"item_id"}),
]


def _v2_record(changes: dict[str, Any], serial: int) -> dict[str, Any]:
    return _record(changes, serial)


@pytest.mark.parametrize(("changes", "fields"), V2_CASES)
def test_each_case_names_its_fields(changes: dict[str, Any], fields: set[str]) -> None:
    record = _v2_record(changes, 50_000_000)
    record["posted_at"] = record["posted_at"].isoformat()
    _, problems = validate_one(ParcelDeclaration, record, "#7")
    assert {p.field for p in problems if p.severity == "error"} == fields
    assert all(p.record.startswith("#7") for p in problems)


def test_both_validators_agree_on_version_2(tmp_path: Path) -> None:
    records = [_v2_record(changes, 50_000_000 + i) for i, (changes, _) in enumerate(V2_CASES)]
    rejected = _compare(records, tmp_path)
    assert rejected == sum(1 for _, fields in V2_CASES if fields)


@pytest.mark.parametrize("seed", [4, 5])
def test_random_mixtures_with_version_2_agree(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    pool = [changes for changes, _ in V2_CASES] + CASES[1:]
    records = []
    for i in range(300):
        changes: dict[str, Any] = {}
        for case in rng.sample(pool, rng.randint(0, 4)):
            changes.update(case)
        records.append(_record(changes, 60_000_000 + i))
    _compare(records, tmp_path)


def test_an_unknown_country_is_named_with_record_and_field(tmp_path: Path) -> None:
    record = _record({"item_id": "RB123456785XX"}, 1)
    path = tmp_path / "x.parquet"
    pq.write_table(pa.Table.from_pylist([record], schema=DECLARATION_SCHEMA), path)
    valid, problems = validate_table(pq.read_table(path))
    assert not valid[0]
    [problem] = problems
    assert (problem.record, problem.field) == ("row 1 (RB123456785XX)", "item_id")
    assert "'XX', which is not the ISO 3166-1 alpha-2 code" in problem.problem


def _version_1_parquet(path: Path, records: list[dict[str, Any]]) -> None:
    """A Parquet file as version 1 wrote it: no express column, no id_number in parties."""
    party = pa.struct([f for f in DECLARATION_SCHEMA.field("sender").type if f.name != "id_number"])
    fields = [
        pa.field(f.name, party) if f.name in ("sender", "recipient") else f
        for f in DECLARATION_SCHEMA
        if f.name != "express"
    ]
    pq.write_table(pa.Table.from_pylist(records, schema=pa.schema(fields)), path)


def test_version_1_parquet_still_reads(tmp_path: Path) -> None:
    path = tmp_path / "v1.parquet"
    _version_1_parquet(path, [_record({}, 1), _record({"currency": "EURO"}, 2)])
    report = validate_records(ParcelDeclaration, iter_records(path, "declaration"))
    assert report.rejected == [1] and len(report.valid) == 1
    valid, problems = validate_table(pq.read_table(path))
    assert valid.tolist() == [True, False]
    assert [(p.record, p.field) for p in problems] == [(e.record, e.field) for e in report.errors]


def test_version_1_csv_without_the_new_columns_still_reads(tmp_path: Path) -> None:
    path = tmp_path / "v1.csv"
    old = [
        c
        for c in DECLARATION_CSV_COLUMNS
        if not c.startswith("express_") and not c.endswith("_id_number")
    ]
    write_records([ParcelDeclaration.model_validate(declaration())], path, "declaration")
    with path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=old, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    report = validate_records(ParcelDeclaration, iter_records(path, "declaration"))
    assert not report.errors and report.valid[0][1].contract_version == "1"


@pytest.mark.parametrize("suffix", [".json", ".jsonl", ".csv", ".parquet"])
def test_express_and_id_numbers_round_trip_every_form(tmp_path: Path, suffix: str) -> None:
    models = [
        ParcelDeclaration.model_validate(r)
        for r in (
            _plain(_v2_record(V2_CASES[0][0], 1)),
            _plain(
                _v2_record(
                    {
                        "contract_version": "2",
                        "sender.name": None,
                        "sender.id_number": "DE123456789012",
                    },
                    2,
                )
            ),
            _plain(_record({}, 3)),
        )
    ]
    path = tmp_path / f"d{suffix}"
    write_records(models, path, "declaration")
    report = validate_records(ParcelDeclaration, iter_records(path, "declaration"))
    assert not report.errors
    assert [m for _, m in report.valid] == models
    assert report.valid[0][1].express is not None
    assert report.valid[0][1].express.transport_document == "176-12345675"


def _plain(record: dict[str, Any]) -> dict[str, Any]:
    record["posted_at"] = record["posted_at"].isoformat()
    return record


def test_a_version_1_record_dumps_as_before() -> None:
    """The fields version 2 added are not in a version 1 record's dump (so its input hash in
    the decision log is what it was)."""
    dumped = ParcelDeclaration.model_validate(declaration()).model_dump(mode="json")
    assert "express" not in dumped and "id_number" not in dumped["sender"]
    assert json.loads(json.dumps(dumped)) == {
        **declaration(),
        "posted_at": dumped["posted_at"],
        "sender": {**declaration()["sender"], "phone": None, "importer_ref": None},
        "recipient": dumped["recipient"],
        "lines": dumped["lines"],
    }


def test_an_outcome_names_an_express_consignment_in_either_version() -> None:
    for version in ("1", "2"):
        model, problems = validate_one(
            InspectionOutcome, outcome(item_id="DHL:1234567890", contract_version=version)
        )
        assert model is not None and not problems
    _, problems = validate_one(InspectionOutcome, outcome(item_id="DHL:ABC"))
    assert [p.field for p in problems] == ["item_id"]


def test_quality_warnings_spare_a_party_known_by_number() -> None:
    record = declaration(contract_version="2")
    record["sender"] = {"id_number": "DE123456789012", "country": "NL"}
    _, problems = validate_one(ParcelDeclaration, record)
    assert not [p for p in problems if p.field == "sender"]
    _, problems = validate_one(ParcelDeclaration, declaration(**{"sender.street": None}))
    assert [p.field for p in problems if p.severity == "warning"] == ["sender"]


@pytest.mark.parametrize(
    ("document", "warned"),
    [
        ("176-12345675", False),  # 1234567 mod 7 = 5
        ("17612345675", False),
        ("176-12345674", True),  # a mistyped check digit
        ("MAWB-XY-1", False),  # another kind of document: not judged
    ],
)
def test_a_master_air_waybill_check_digit_is_a_warning(document: str, warned: bool) -> None:
    record = declaration(**V2_EXPRESS)
    record["express"] = {**EXPRESS, "transport_document": document}
    model, problems = validate_one(ParcelDeclaration, record)
    assert model is not None  # never a rejection
    found = [p for p in problems if p.field == "express.transport_document"]
    assert bool(found) == warned
    assert all(p.severity == "warning" for p in found)
