import io
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from data_contracts import (
    DECLARATION_SCHEMA,
    FormError,
    InspectionOutcome,
    ParcelDeclaration,
    iter_csv,
    iter_records,
    validate_records,
    write_records,
)
from tests.factories import declaration, outcome


def _declarations() -> list[ParcelDeclaration]:
    single_line = declaration(
        item_id="CP000000080DE",
        origin_country="DE",
        lines=[declaration()["lines"][0]],
        postal_charges=None,
    )
    unicode_names = declaration(item_id="EE000000005FR", **{"sender.name": 'Zoë Ñúñez, "Ltd"'})
    records = [declaration(), single_line, unicode_names]
    return [ParcelDeclaration.model_validate(r) for r in records]


@pytest.mark.parametrize("suffix", [".json", ".jsonl", ".csv", ".parquet"])
def test_declarations_round_trip(tmp_path: Path, suffix: str) -> None:
    models = _declarations()
    path = tmp_path / f"d{suffix}"
    write_records(models, path, "declaration")
    report = validate_records(ParcelDeclaration, iter_records(path, "declaration"))
    assert report.errors == []
    assert [m for _, m in report.valid] == models


@pytest.mark.parametrize("suffix", [".json", ".jsonl", ".csv", ".parquet"])
def test_outcomes_round_trip(tmp_path: Path, suffix: str) -> None:
    models = [
        InspectionOutcome.model_validate(outcome()),
        InspectionOutcome.model_validate(
            outcome(result="clean", substance=None, quantity_g=None, officer_ref=None)
        ),
    ]
    path = tmp_path / f"o{suffix}"
    write_records(models, path, "outcome")
    report = validate_records(InspectionOutcome, iter_records(path, "outcome"))
    assert report.errors == []
    assert [m for _, m in report.valid] == models


def test_parquet_nests_lines(tmp_path: Path) -> None:
    path = tmp_path / "d.parquet"
    write_records(_declarations(), path, "declaration")
    table = pq.read_table(path)
    assert table.schema.equals(DECLARATION_SCHEMA)
    assert table.column("lines").to_pylist()[0][1]["hs_code"] == "490900"


def test_csv_is_one_row_per_line(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    write_records(_declarations(), path, "declaration")
    assert len(path.read_text().splitlines()) == 1 + 2 + 1 + 2


def test_csv_rows_of_one_item_must_agree(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    write_records(_declarations()[:1], path, "declaration")
    lines = path.read_text().splitlines()
    lines[2] = lines[2].replace("gift", "documents")
    path.write_text("\n".join(lines) + "\n")
    records = list(iter_records(path, "declaration"))
    assert len(records) == 1
    problem = records[0].unreadable
    assert problem is not None
    assert problem.field == "category"
    assert "differs between rows" in problem.problem
    assert problem.record == "lines 2-3 (RR123456785NL)"


def test_csv_non_contiguous_item_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    models = _declarations()[:2]
    write_records(models, path, "declaration")
    header, a1, a2, b1 = path.read_text().splitlines()
    path.write_text("\n".join([header, a1, b1, a2]) + "\n")
    records = list(iter_records(path, "declaration"))
    assert len(records) == 3
    assert records[2].unreadable is not None
    assert "contiguous" in records[2].unreadable.problem


def test_csv_missing_columns_is_a_form_error() -> None:
    with pytest.raises(FormError, match="lacks columns"):
        list(iter_csv(io.StringIO("item_id,category\nRR123456785NL,gift\n"), "declaration"))


def test_jsonl_bad_line_is_reported_not_dropped(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps(declaration()) + "\n{not json\n" + json.dumps(declaration()) + "\n")
    report = validate_records(ParcelDeclaration, iter_records(path, "declaration"))
    assert report.records == 3
    assert report.rejected == [1]
    assert report.errors[0].record == "line 2"


def test_unknown_extension(tmp_path: Path) -> None:
    with pytest.raises(FormError, match="unknown form"):
        list(iter_records(tmp_path / "d.xml", "declaration"))


@pytest.mark.parametrize(
    ("suffix", "label"),
    [
        (".json", "#1 (CP000000080DE)"),  # one record of a list
        (".jsonl", "line 2 (CP000000080DE)"),  # one line
    ],
)
def test_a_key_named_twice_makes_its_record_unreadable(
    tmp_path: Path, suffix: str, label: str
) -> None:
    """Python keeps the last value of a repeated key, other readers the first: neither is
    read, and the problem names the record, the key and where it is."""
    first, second, third = (m.model_dump(mode="json") for m in _declarations())
    texts = [json.dumps(r) for r in (first, second, third)]
    texts[1] = texts[1].replace('"sender": {', '"sender": {"country": "XX", ', 1)
    path = tmp_path / f"d{suffix}"
    path.write_text("[" + ", ".join(texts) + "]" if suffix == ".json" else "\n".join(texts))
    report = validate_records(ParcelDeclaration, iter_records(path, "declaration"))
    assert [i for i, _ in report.valid] == [0, 2] and report.rejected == [1]
    (problem,) = report.errors
    assert (problem.record, problem.field) == (label, "sender.country")
    assert "'country' appears more than once in one object" in problem.problem
    assert problem.got is None  # neither value shown: either may be personal data


@pytest.mark.parametrize(("suffix", "label"), [(".json", "#1"), (".jsonl", "line 2")])
def test_a_record_whose_item_id_is_named_twice_is_named_by_position_only(
    tmp_path: Path, suffix: str, label: str
) -> None:
    """Neither value of a repeated item ID is read, so neither names the record."""
    first, second = (m.model_dump(mode="json") for m in _declarations()[:2])
    texts = [json.dumps(r) for r in (first, second)]
    texts[1] = texts[1].replace("{", '{"item_id": "RR000000000XX", ', 1)
    path = tmp_path / f"d{suffix}"
    path.write_text("[" + ", ".join(texts) + "]" if suffix == ".json" else "\n".join(texts))
    report = validate_records(ParcelDeclaration, iter_records(path, "declaration"))
    (problem,) = report.errors
    assert (problem.record, problem.field) == (label, "item_id")
    assert second["item_id"] not in problem.record
