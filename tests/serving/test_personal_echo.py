"""No personal data comes back from where a sender put it by mistake (issue 16): in the name
of an unknown key, in an item ID that is not one, or in a CSV row whose fields do not line up
with the header. A marker planted in each must appear in no 422 answer, no output of
``parcelscreen validate`` and no file of a ``screen`` run."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from data_contracts import DECLARATION_CSV_COLUMNS
from parcelscreen.cli import main
from serving.batch import BatchConfig, Capacity, screen
from tests.serving.batch_fixtures import World, records, world, write_csv
from tests.serving.conftest import Server, parcel

MARK = "Secretname"


@pytest.fixture(scope="module")
def w(trained: Any, tmp_path_factory: pytest.TempPathFactory) -> World:
    return world(trained.registry, trained.data, tmp_path_factory.mktemp("echo"), trained.key)


def _planted(record: dict[str, Any], case: str) -> dict[str, Any]:
    if case == "key":  # personal data as the name of keys the contract does not have
        record[f"Alice {MARK}"] = "x"
        record["sender"][f"{MARK}weg 7"] = 1
        record["lines"][0][f"phone of {MARK}"] = "+41"
    elif case == "item":  # a name in the item ID field
        record["item_id"] = f"Alice {MARK}"
    return record


def _misaligned_csv(w: World, path: Path) -> Path:
    """Four declarations: an unquoted comma spills a name past the header, a missing field
    shifts a name into the numbers, a name sits in the item ID, one is clean."""
    write_csv(pq.read_table(w.manifest).slice(0, 4), path)
    header, *rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    rows = [[cell.replace(",", " ") for cell in row] for row in rows]  # "Co., Ltd": unquoted below
    name, charges, item = (
        DECLARATION_CSV_COLUMNS.index(c) for c in ("sender_name", "postal_charges", "item_id")
    )
    items = list(dict.fromkeys(r[item] for r in rows))
    for row in rows:
        if row[item] == items[0]:
            row[name] = f"Alice {MARK}, Geheimweg 7"  # written unquoted below: one field more
        elif row[item] == items[1]:
            row[name] = f"Alice {MARK}"
            del row[charges]  # one field fewer: the name lands in postal_charges
        elif row[item] == items[2]:
            row[item] = f"Alice {MARK}"
    path.write_text(
        "\n".join([",".join(header)] + [",".join(r) for r in rows]) + "\n", encoding="utf-8"
    )
    return path


def test_no_422_answer_repeats_the_markers(server: Server) -> None:
    sorter, answers = server.client(), []
    for case in ("key", "item"):
        answers.append(sorter.post("/v1/parcels:score", json=_planted(parcel(), case)))
    batch = [_planted(parcel(), "key"), _planted(parcel(), "item"), parcel()]
    answers.append(sorter.post("/v1/parcels:score-batch", json={"declarations": batch}))
    infer = {
        "inputs": [
            {
                "name": "declaration",
                "datatype": "BYTES",
                "shape": [2],
                "data": [json.dumps(r) for r in batch[:2]],
            }
        ]
    }
    answers.append(sorter.post("/v2/models/parcelscreen-xgboost/infer", json=infer))
    assert [r.status_code for r in answers] == [422, 422, 200, 422]
    for answer in answers:
        assert MARK not in answer.text, answer.text
    problems = answers[0].json()["error"]["problems"]
    assert {p["field"] for p in problems} == {
        "(unknown field)",
        "sender.(unknown field)",
        "lines[0].(unknown field)",
    }
    assert answers[1].json()["error"]["problems"][0]["record"] == "#0"


def test_validate_prints_no_marker(
    tmp_path: Path, w: World, capsys: pytest.CaptureFixture[str]
) -> None:
    jsonl = tmp_path / "d.jsonl"
    recs = records(pq.read_table(w.manifest).slice(0, 3))
    cases = ("key", "item", "none")
    jsonl.write_text(
        "".join(json.dumps(_planted(r, c)) + "\n" for r, c in zip(recs, cases, strict=True))
    )
    manifest = _misaligned_csv(w, tmp_path / "d.csv")
    for path, rejected in ((jsonl, 2), (manifest, 3)):
        for fmt in ("text", "json"):
            assert main(["validate", str(path), "--format", fmt]) == 1
            out, err = capsys.readouterr()
            assert MARK not in out + err, out + err
            summary = json.loads(out)["summary"] if fmt == "json" else None
            assert summary is None or summary["rejected"] == rejected
    assert main(["validate", str(manifest)]) == 1
    out, _ = capsys.readouterr()
    assert "more fields than the header" in out and "fewer fields than the header" in out


@pytest.mark.parametrize("form", ["jsonl", "csv"])
def test_no_file_of_a_screen_run_holds_a_marker(tmp_path: Path, w: World, form: str) -> None:
    if form == "jsonl":
        manifest = tmp_path / "m.jsonl"
        recs = records(pq.read_table(w.manifest).slice(0, 6))
        planted = [
            _planted(r, "key") if i == 1 else _planted(r, "item") if i == 3 else r
            for i, r in enumerate(recs)
        ]
        manifest.write_text("".join(json.dumps(r) + "\n" for r in planted), encoding="utf-8")
        expected = (6, 2)
    else:
        manifest, expected = _misaligned_csv(w, tmp_path / "m.csv"), (4, 3)
    out = tmp_path / "out"
    summary = screen(
        BatchConfig(manifest, out, w.spec(), Capacity.parse("2%"), csv=True, progress_bar=False)
    )
    assert (summary["rows_read"], summary["rows_quarantined"]) == expected
    assert summary["reconciled"]
    quarantine = pq.read_table(out / "quarantine.parquet").to_pylist()
    assert quarantine and all(
        q["item_id"] is None or q["item_id"][:2].isalpha() for q in quarantine
    )
    written = [p for p in out.rglob("*") if p.is_file()]
    assert any(p.name == "quarantine.csv" for p in written)
    assert [p.name for p in written if MARK.encode() in p.read_bytes()] == []
