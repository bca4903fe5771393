"""``import``: a foreign export through a mapping file to contract files, a quarantine and a
coverage report; bad mappings refused naming key and problem."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from data_contracts import DECLARATION_SCHEMA, validate_table
from parcelscreen.cli import main
from screening import FX_TO_EUR
from training.importing import MappingError, import_source, load_mapping

HEADER = [
    "ref",
    "day",
    "office",
    "mode",
    "cat",
    "grams",
    "usd",
    "cur",
    "seller",
    "buyer",
    "from",
    "hs",
    "verdict",
]
ROWS = [
    ["1", "2026-03-01 10:00", "A1", "M", "G", "1500", "20", "USD", "s1", "b1", "CN", "4202", "Y"],
    [
        "2",
        "2026-03-02 11:30",
        "A1",
        "X",
        "S",
        "250",
        "3.5",
        "USD",
        "s2",
        "b2",
        "US",
        "420211",
        "N",
    ],  # unknown mode code "X": no translation, no default -> quarantine
    [
        "3",
        "2026-03-02 12:00",
        "A2",
        "M",
        "S",
        "250",
        "3.5",
        "GBP",
        "s3",
        "b3",
        "US",
        "8517",
        "N",
    ],  # currency column says GBP: converted through the reference rates
    ["4", "2026-03-03 09:00", "A2", "M", "S", "300", "9", "USD", "", "b4", "ZZ", "8517", "N"],
    # no seller (a default applies) and an invented country code: the contract quarantines
    ["5", "not a date", "A2", "M", "G", "300", "9", "USD", "s5", "b5", "DE", "8517", "N"],
    ["6", "2026-03-03 09:30", "A2", "M", "G", "300", "9", "USD", "s6", "b6", "DE", "8517", "?"],
    # a label value the mapping does not list
    ["1", "2026-03-04 09:30", "A2", "M", "G", "300", "9", "USD", "s7", "b7", "DE", "8517", "N"],
    # the item ID of row 1 again
    ["8", "2026-03-04 10:30", "A2", "M", "G", "900", "9", "ISK", "s8", "b8", "DE", "8517", "N"],
    # ISK has no reference rate: the value cannot be converted
]

MAPPING = """
[source]
name = "test export"
attribution = "made up for the test"

[fields]
item_id = { column = "ref", s10_service = { column = "mode", codes = "mode" }, s10_country = "NL" }
posted_at = { column = "day", format = "%Y-%m-%d %H:%M", zone = "Europe/Amsterdam" }
origin_post = { column = "office", prefix = "office " }
origin_country = { column = "from" }
destination_country = "NL"
category = { column = "cat", codes = "category" }
gross_weight_kg = { column = "grams", unit = "g" }
declared_value = { column = "usd", currency_column = "cur" }
currency = "EUR"
"sender.name" = { column = "seller", default = "unknown seller" }
"sender.country" = { column = "from" }
"recipient.name" = { column = "buyer" }
"recipient.country" = "NL"
"line.description" = "not given"
"line.quantity" = 1
"line.net_weight_kg" = { column = "grams", unit = "g" }
"line.value" = { column = "usd", currency_column = "cur" }
"line.hs_code" = { column = "hs", pad = 6 }

[codes.mode]
M = "CP"

[codes.category]
G = "gift"
S = "sale_of_goods"

[label]
column = "verdict"
name = "Made-up finding"
seized = ["Y"]
clean = ["N"]
delay_days = 3
"""


def _write(tmp_path: Path, mapping: str = MAPPING) -> tuple[Path, Path]:
    source = tmp_path / "export.csv"
    with source.open("w", newline="") as handle:
        csv.writer(handle).writerows([HEADER, *ROWS])
    path = tmp_path / "map.toml"
    path.write_text(mapping)
    return source, path


def test_rows_map_or_go_to_quarantine_with_column_and_reason(tmp_path: Path) -> None:
    source, path = _write(tmp_path)
    report = import_source(source, load_mapping(path), tmp_path / "out")
    out = tmp_path / "out"
    table = pq.read_table(out / "declarations.parquet")
    valid, problems = validate_table(table)
    assert valid.all() and not problems  # every imported record passes the contract
    assert (report.rows, report.imported, report.quarantined) == (8, 2, 6)
    first, third = table.to_pylist()
    assert first["item_id"].startswith("CP") and first["item_id"].endswith("NL")
    assert first["gross_weight_kg"] == pytest.approx(1.5)  # grams to kg
    assert first["declared_value"] == pytest.approx(20 * FX_TO_EUR["USD"])  # USD to EUR
    assert third["declared_value"] == pytest.approx(3.5 * FX_TO_EUR["GBP"])
    assert first["posted_at"].isoformat() == "2026-03-01T09:00:00+00:00"  # CET is UTC+1
    assert first["category"] == "gift" and first["origin_post"] == "office A1"
    assert first["lines"][0]["hs_code"] == "004202"
    quarantined = list(csv.DictReader((out / "quarantine.csv").read_text().splitlines()))
    by_row = {int(q["row"]): q for q in quarantined}
    assert by_row[2]["column"] == "mode" and "no translation in [codes.mode]" in by_row[2]["reason"]
    assert by_row[4]["column"] == "from" and "ISO 3166" in by_row[4]["reason"]
    assert by_row[5]["column"] == "day" and "format" in by_row[5]["reason"]
    assert by_row[6]["column"] == "verdict" and "'?'" in by_row[6]["reason"]
    assert by_row[7]["field"] == "item_id" and "repeats row 1" in by_row[7]["reason"]
    assert by_row[8]["column"] == "cur" and "no reference rate" in by_row[8]["reason"]
    assert "withheld" in next(q["value"] for q in quarantined if q["field"] == "sender.country")
    outcomes = pq.read_table(out / "outcomes.parquet").to_pylist()
    assert [(o["result"], o["inspected"], o["selection_probability"]) for o in outcomes] == [
        ("seized", True, None),
        ("clean", True, None),
    ]
    assert (outcomes[0]["recorded_at"] - first["posted_at"]).days == 3
    coverage = json.loads((out / "import-report.json").read_text())
    assert coverage["codes"]["mode"]["untranslated"] == {"X": 1}
    assert coverage["fields"]["sender.name"] == {"from": "seller", "given": 2, "empty": 0}
    assert coverage["labels"] == {"seized": 1, "clean": 1}
    provenance = json.loads((out / "provenance.json").read_text())
    assert provenance["label"] == "Made-up finding" and provenance["selection"] == "unknown"


def test_the_same_export_as_json_lines_or_parquet_imports_the_same(tmp_path: Path) -> None:
    source, path = _write(tmp_path)
    mapping = load_mapping(path)
    rows = [dict(zip(HEADER, r, strict=True)) for r in ROWS]
    for row in rows:  # JSON and Parquet carry numbers as numbers
        row["grams"] = float(row["grams"])  # type: ignore[assignment]
    jsonl = tmp_path / "export.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in rows))
    parquet = tmp_path / "export.parquet"
    pq.write_table(pa.Table.from_pylist(rows), parquet)
    tables = [
        pq.read_table(d / "declarations.parquet")
        for d in (tmp_path / "a", tmp_path / "b", tmp_path / "c")
        if import_source({"a": source, "b": jsonl, "c": parquet}[d.name], mapping, d)
    ]
    assert tables[0].equals(tables[1]) and tables[0].equals(tables[2])


@pytest.mark.parametrize(
    ("change", "key", "problem"),
    [
        # a misspelt field name: the nearest contract field is suggested
        (('"sender.name" =', '"sender.nmae" ='), "fields.sender.nmae", "sender.name"),
        # an option the field kind does not have
        (('unit = "g" }\nd', 'unti = "g" }\nd'), "fields.gross_weight_kg.unti", "unknown key"),
        (('unit = "g" }\nd', 'unit = "oz" }\nd'), "fields.gross_weight_kg.unit", "g, kg, lb"),
        # a currency the features have no reference rate for
        (('currency = "EUR"', 'currency = "ISK"'), "fields.currency", "no reference rate for ISK"),
        (('currency = "EUR"', 'currency = "XYZ"'), "fields.currency", "ISO 4217"),
        (("Europe/Amsterdam", "Europe/Atlantis"), "fields.posted_at.zone", "unknown time zone"),
        # the contract requires a field the mapping leaves out
        (('destination_country = "NL"\n', ""), "fields.destination_country", "requires it"),
        (('codes = "category"', 'codes = "kinds"'), "fields.category.codes", "[codes.NAME]"),
        (('G = "gift"', 'G = "present"'), "fields.category", "present is not a category"),
        (('seized = ["Y"]', "seized = []"), "label", "seized"),
        (('clean = ["N"]', 'clean = ["Y"]'), "label.clean", "also listed as seized"),
        (
            ('column = "seller",', 'column = "seller", value = "x",'),
            "fields.sender.name",
            "exactly one of column",
        ),
        (("[source]", "[sauce]"), "sauce", "did you mean 'source'"),
        (("[source]", "[source"), "not valid TOML", ""),
    ],
)
def test_a_bad_mapping_is_refused_naming_key_and_problem(
    tmp_path: Path, change: tuple[str, str], key: str, problem: str
) -> None:
    assert change[0] in MAPPING
    _, path = _write(tmp_path, MAPPING.replace(*change))
    with pytest.raises(MappingError) as caught:
        load_mapping(path)
    assert key in str(caught.value) and problem in str(caught.value)


def test_a_column_the_source_lacks_is_named_with_its_columns(tmp_path: Path) -> None:
    source, path = _write(tmp_path, MAPPING.replace('column = "buyer"', 'column = "buyer_id"'))
    with pytest.raises(
        MappingError,
        match=r"fields\.recipient\.name: column 'buyer_id' is not "
        r"in export\.csv; its columns: ref, day",
    ):
        import_source(source, load_mapping(path), None)


def test_cli_check_reads_the_first_rows_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, path = _write(tmp_path)
    code = main(["import", str(source), "--mapping", str(path), "--check", "--rows", "3"])
    out, err = capsys.readouterr()
    assert code == 0 and json.loads(out)["rows"] == 3 and "3 rows read, 2 imported" in err
    assert "column mode -> field item_id: code 'X' has no translation" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export.csv", "map.toml"]
    code = main(["import", str(source), "--mapping", str(path), "--out", str(tmp_path / "o")])
    assert code == 0 and (tmp_path / "o" / "quarantine.csv").exists()


def test_cli_bad_mapping_is_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, path = _write(tmp_path, MAPPING.replace('unit = "g" }\nd', 'unit = "oz" }\nd'))
    code = main(["import", str(source), "--mapping", str(path), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and err.startswith("error: ")
    assert "fields.gross_weight_kg.unit: expected one of g, kg, lb, got 'oz'" in err
    assert DECLARATION_SCHEMA  # the contract the mapping targets


def test_a_row_with_a_carrier_is_an_express_consignment_named_by_its_trader_ids(
    tmp_path: Path,
) -> None:
    mapping = MAPPING.replace(
        '"sender.name" = { column = "seller", default = "unknown seller" }',
        '"sender.id_number" = { column = "seller", default = "NONE" }',
    )
    mapping = mapping.replace(
        '"recipient.name" = { column = "buyer" }',
        '"recipient.id_number" = { column = "buyer" }\n'
        '"express.carrier" = { column = "office", codes = "carrier", '
        'missing = ["A1"] }\n'
        '"express.house_consignment" = { column = "ref" }',
    )
    # no label: declarations only
    mapping = mapping.split("[label]")[0] + '[codes.carrier]\nA2 = "DHL"\n'
    source, path = _write(tmp_path, mapping)
    report = import_source(source, load_mapping(path), tmp_path / "out")
    rows = pq.read_table(tmp_path / "out" / "declarations.parquet").to_pylist()
    postal, express = rows[0], rows[1]  # office A1 means no carrier: a postal item
    assert postal["item_id"].endswith("NL") and postal["express"] is None
    assert express["item_id"] == "DHL:3" and express["express"]["carrier"] == "DHL"
    assert express["contract_version"] == "2" and express["sender"]["id_number"] == "s3"
    assert express["sender"]["name"] is None and report.codes["carrier"]["untranslated"] == {}
