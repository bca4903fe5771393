"""``import`` of a file that is not UTF-8: a clear error naming the byte and the line (was a
UnicodeDecodeError traceback), and the mapping's ``source.encoding`` reads it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from parcelscreen.cli import main
from tests.training.test_importing import HEADER, MAPPING, ROWS


def _cp949_source(tmp_path: Path) -> Path:
    korean = list(ROWS[0])
    korean[0], korean[8] = "77", "김철수"  # another item; seller name, written as cp949 (not UTF-8)
    text = "\r\n".join(",".join(row) for row in [HEADER, ROWS[0], korean]) + "\r\n"
    source = tmp_path / "export.csv"
    source.write_bytes(text.encode("cp949"))
    return source


def _run(tmp_path: Path, source: Path, mapping_text: str) -> int:
    mapping = tmp_path / "map.toml"
    mapping.write_text(mapping_text, encoding="utf-8")
    return main(["import", str(source), "--mapping", str(mapping), "--out", str(tmp_path / "out")])


def test_a_file_that_is_not_utf8_is_named_with_its_byte_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _cp949_source(tmp_path)
    assert _run(tmp_path, source, MAPPING) == 2
    err = capsys.readouterr().err
    at = source.read_bytes().index("김".encode("cp949"))
    assert "not UTF-8 text" in err and f"at byte {at}, line 3" in err, err
    assert "source.encoding" in err and "Traceback" not in err


def test_the_mapping_names_the_encoding(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = _cp949_source(tmp_path)
    mapping = MAPPING.replace("[source]\n", '[source]\nencoding = "cp949"\n', 1)
    assert _run(tmp_path, source, mapping) == 0
    assert json.loads(capsys.readouterr().out)["quarantined"] == 0


def test_an_unknown_encoding_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mapping = MAPPING.replace("[source]\n", '[source]\nencoding = "klingon"\n', 1)
    assert _run(tmp_path, _cp949_source(tmp_path), mapping) == 2
    assert "source.encoding" in capsys.readouterr().err
