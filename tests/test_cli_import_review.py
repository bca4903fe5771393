"""``import`` refusals an attacker review asked for: a quarantine cell that starts like a
formula is escaped, a CSV row with more fields than the header is quarantined, an --out
folder that holds files is not rewritten without --overwrite."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from parcelscreen.cli import main
from tests.training.test_importing import HEADER, MAPPING, ROWS

FORMULA = '=HYPERLINK("http://x.example","open")'


def _source(tmp_path: Path, rows: list[list[str]]) -> tuple[Path, Path]:
    source = tmp_path / "export.csv"
    with source.open("w", newline="") as handle:
        csv.writer(handle).writerows([HEADER, *rows])
    mapping = tmp_path / "map.toml"
    mapping.write_text(MAPPING)
    return source, mapping


def _quarantine(out: Path) -> dict[int, dict[str, str]]:
    rows = csv.DictReader((out / "quarantine.csv").read_text(encoding="utf-8").splitlines())
    return {int(q["row"]): q for q in rows}


def test_quarantine_cells_that_start_like_a_formula_are_escaped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = list(ROWS[0])
    bad[0], bad[4] = "-2", FORMULA  # item reference and category code (no translation)
    tabbed = list(ROWS[0])
    tabbed[0], tabbed[4] = "9", "\t@SUM(A1)"
    source, mapping = _source(tmp_path, [ROWS[0], bad, tabbed])
    out = tmp_path / "out"
    assert main(["import", str(source), "--mapping", str(mapping), "--out", str(out)]) == 0
    capsys.readouterr()
    rows = list(csv.DictReader((out / "quarantine.csv").read_text(encoding="utf-8").splitlines()))
    values = [(int(q["row"]), q["value"]) for q in rows]
    assert (2, "'" + FORMULA) in values and (3, "'@SUM(A1)") in values  # the value stripped
    assert (2, "'-2") in values  # the item reference
    for row in rows:
        for cell in row.values():
            assert cell[:1] not in ("=", "+", "-", "@", "\t", "\r"), row


def test_a_row_with_more_fields_than_the_header_is_quarantined_by_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, mapping = _source(tmp_path, [ROWS[0], [*ROWS[2], "stray", "values"]])
    out = tmp_path / "out"
    assert main(["import", str(source), "--mapping", str(mapping), "--out", str(out)]) == 0
    assert json.loads(capsys.readouterr().out)["quarantined"] == 1
    reason = _quarantine(out)[2]["reason"]
    assert reason == f"has {len(HEADER) + 2} fields, the header has {len(HEADER)}"


def test_an_out_folder_with_files_is_not_rewritten_without_overwrite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, mapping = _source(tmp_path, ROWS[:1])
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    args = ["import", str(source), "--mapping", str(mapping), "--out", str(out)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "holds files already" in err and "--overwrite" in err
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    assert main([*args, "--overwrite"]) == 0
    capsys.readouterr()
    assert (out / "declarations.parquet").exists() and (out / "notes.txt").exists()
