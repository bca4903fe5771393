"""The vectorised table validator agrees with the pydantic contract, record for record."""

from __future__ import annotations

import copy
import random
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from data_contracts import DECLARATION_SCHEMA, ParcelDeclaration, iter_records, validate_records
from data_contracts._table_validate import validate_table
from tests.factories import declaration

LINE = {"description": "socks", "quantity": 1, "net_weight_kg": 0.1, "value": 3.0}

# One change per case: (dotted path, value); None removes nothing, it sets a null.
CASES: list[dict[str, Any]] = [
    {},  # valid as it is
    {"item_id": "RR123456784NL"},  # bad check digit
    {"item_id": "XX1"},  # malformed S10
    {"item_id": "rr123456785NL"},  # lower-case service
    {"item_id": " RR123456785NL "},  # white space is stripped: valid
    {"item_id": "RR١٢٣٤٥٦٧٨٥NL"},  # Unicode digits pass the model's regex: valid
    {"item_id": ""},  # empty ID
    {"item_id": None},  # missing ID
    {"contract_version": "0"},  # wrong version
    {"contract_version": " 1"},  # version is not stripped
    {"contract_version": None},  # null version takes the default: valid
    {"posted_at": None},  # no time
    {"origin_post": " "},  # blank after stripping
    {"origin_post": "x" * 301},  # too long
    {"origin_post": None},
    {"origin_country": "XY"},  # unknown country
    {"origin_country": "\tNL\n"},  # stripped: valid
    {"destination_country": "UK"},  # UK is not ISO
    {"destination_country": None},
    {"sender": None},  # no sender at all
    {"sender.name": ""},
    {"sender.name": "\u00a0"},  # no-break space strips to nothing
    {"sender.name": "\u200b"},  # zero-width space is not white space: valid
    {"sender.name": None},
    {"sender.country": "ZZ"},
    {"sender.country": None},
    {"sender.postcode": "1" * 21},  # too long
    {"sender.postcode": " " + "1" * 20},  # 20 after stripping: valid
    {"sender.email": "a" * 255},
    {"sender.phone": "1" * 41},
    {"recipient.importer_ref": "r" * 41},
    {"recipient.street": "s" * 301},
    {"recipient.city": ""},  # optional text may be empty
    {"recipient.country": "XK"},  # Kosovo is accepted
    {"category": "present"},
    {"category": " gift"},  # enum values are not stripped
    {"category": None},
    {"gross_weight_kg": -0.1},  # negative weight
    {"gross_weight_kg": -0.0},  # negative zero is zero: valid
    {"gross_weight_kg": float("nan")},
    {"gross_weight_kg": None},
    {"declared_value": float("inf")},
    {"declared_value": None},
    {"currency": "EURO"},
    {"currency": "EUR "},  # stripped: valid
    {"currency": None},
    {"postal_charges": None},  # optional: valid
    {"postal_charges": -4.0},
    {"postal_charges": float("-inf")},
    {"lines": []},  # no content line
    {"lines": None},
    {"lines": [LINE] * 201},  # too many lines
    {"lines": [LINE] * 200},  # the most allowed: valid
    {"lines": [{**LINE, "quantity": 0}] * 201},  # too many: line errors are not reported
    {"lines": [LINE, None]},  # a null line
    {"lines.0.quantity": 0},
    {"lines.1.quantity": 1_000_001},
    {"lines.0.quantity": None},
    {"lines.0.description": None},
    {"lines.1.description": "  "},
    {"lines.0.net_weight_kg": -1.0},
    {"lines.0.net_weight_kg": None},
    {"lines.1.value": float("nan")},
    {"lines.1.value": None},
    {"lines.0.hs_code": "0902"},
    {"lines.0.hs_code": "09022012345"},
    {"lines.0.hs_code": "0902AB"},
    {"lines.0.hs_code": " 090220 "},  # stripped: valid
    {"lines.0.hs_code": "٠٩٠٢٢٠"},  # Unicode digits: valid
    {"lines.0.hs_code": ""},
    {"lines.0.hs_code": None},  # optional: valid
    {"lines.0.origin_country": "ZZ"},
    {"lines.1.origin_country": None},
    {"gross_weight_kg": -1.0, "currency": "XXX", "lines.1.quantity": 0},  # three at once
    {"gross_weight_kg": 1e308},  # a finite but absurd weight
    {"gross_weight_kg": 1000.0},  # the heaviest allowed: valid
    {"declared_value": 1.5e10},  # over the value ceiling
    {"postal_charges": 1e308},
    {"lines.0.net_weight_kg": 1000.5},
    {"lines.1.value": 1e12},
    # 3 problems on each of 30 lines: 20 listed, then one that counts the other 70
    {"lines": [{**LINE, "quantity": 0, "net_weight_kg": -1.0, "value": 1e11}] * 30},
]


def _record(changes: dict[str, Any], serial: int) -> dict[str, Any]:
    from data_contracts import make_s10

    record = declaration(item_id=make_s10("RR", serial, "NL"))
    record["posted_at"] = datetime.fromisoformat(record["posted_at"])
    for key, value in changes.items():
        target: Any = record
        *parents, last = key.split(".")
        for part in parents:
            target = target[int(part)] if part.isdigit() and target else (target or {}).get(part)
        if target is None or (isinstance(target, list) and int(last) >= len(target)):
            continue  # the parent was removed by another change of the mixture
        target[int(last) if last.isdigit() else last] = copy.deepcopy(value)
    return record


def _compare(records: list[dict[str, Any]], tmp_path: Path, first_row: int = 1) -> int:
    table = pa.Table.from_pylist(records, schema=DECLARATION_SCHEMA)
    path = tmp_path / "corpus.parquet"
    pq.write_table(table, path)
    report = validate_records(ParcelDeclaration, iter_records(path, "declaration"))
    valid, problems = validate_table(pq.read_table(path))
    assert sorted(np.flatnonzero(~valid).tolist()) == sorted(report.rejected)
    expected = sorted((p.record, p.field) for p in report.errors)
    assert sorted((p.record, p.field) for p in problems) == expected
    by_key = {(p.record, p.field): p for p in report.errors}
    for problem in problems:
        twin = by_key[(problem.record, problem.field)]
        assert (problem.problem, problem.got) == (twin.problem, twin.got)
    return len(report.rejected)


def test_each_case_agrees_with_the_model(tmp_path: Path) -> None:
    records = [_record(changes, 10_000_000 + i) for i, changes in enumerate(CASES)]
    rejected = _compare(records, tmp_path)
    assert 0 < rejected < len(CASES)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_mixtures_agree_with_the_model(tmp_path: Path, seed: int) -> None:
    # several faults in one record, mixed at random; a third of the records stay clean
    rng = random.Random(seed)
    records = []
    for i in range(300):
        changes: dict[str, Any] = {}
        if rng.random() > 0.33:
            for case in rng.sample(CASES[1:], rng.randint(1, 4)):
                changes.update(case)
        records.append(_record(changes, 20_000_000 + i))
    _compare(records, tmp_path)


def test_the_posting_window_agrees_with_the_model(tmp_path: Path) -> None:
    from data_contracts import PostingWindow

    window = PostingWindow(datetime.fromisoformat("2026-03-10T00:00:00+00:00"))
    times = [
        "0001-01-02T00:00:00+00:00",
        "9999-12-31T23:59:59+00:00",
        "2025-12-09T23:59:59+00:00",  # 90 days and a second before: refused
        "2025-12-10T00:00:00+00:00",  # 90 days before: valid
        "2026-03-12T00:00:00+00:00",  # 2 days after: valid
        "2026-03-12T00:00:01+00:00",  # a second more: refused
        "2026-03-02T09:15:00+01:00",
    ]
    records = [_record({}, 40_000_000 + i) for i in range(len(times))]
    for record, time in zip(records, times, strict=True):
        record["posted_at"] = datetime.fromisoformat(time)
    table = pa.Table.from_pylist(records, schema=DECLARATION_SCHEMA)
    path = tmp_path / "w.parquet"
    pq.write_table(table, path)
    report = validate_records(ParcelDeclaration, iter_records(path, "declaration"), window)
    valid, problems = validate_table(pq.read_table(path), window=window)
    assert sorted(report.rejected) == np.flatnonzero(~valid).tolist() == [0, 1, 2, 5]
    assert [(p.record, p.field, p.problem, p.got) for p in problems] == [
        (p.record, p.field, p.problem, p.got) for p in report.errors
    ]
    assert {p.field for p in problems} == {"posted_at"}
    assert "expected between 2025-12-10T00:00:00+00:00 and 2026-03-12" in problems[0].problem
    # without a window (training data, ``parcelscreen validate``) every time is accepted
    assert validate_table(pq.read_table(path))[0].all()


def test_empty_table_is_valid() -> None:
    valid, problems = validate_table(DECLARATION_SCHEMA.empty_table())
    assert valid.shape == (0,) and problems == []


def test_first_row_numbers_records_as_in_the_file() -> None:
    records = [_record({}, 30_000_000), _record({"currency": "EURO"}, 30_000_001)]
    valid, problems = validate_table(
        pa.Table.from_pylist(records, schema=DECLARATION_SCHEMA), first_row=101
    )
    assert valid.tolist() == [True, False]
    assert [(p.record, p.field) for p in problems] == [("row 102 (RR300000012NL)", "currency")]
