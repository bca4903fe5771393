"""Batch screening: the three forms, quarantine with reasons, reconciliation, the list."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from data_contracts import DECLARATION_CSV_COLUMNS, DECLARATION_SCHEMA, flatten_declaration
from screening import History, Pseudonymiser, ScoringEngine, decision_key, drift_report
from serving.batch import (
    BatchConfig,
    Capacity,
    ManifestError,
    ResumeError,
    engine_for,
    screen,
)
from serving.batch._finalise import drift
from serving.batch._score import score_chunk
from serving.batch._state import ChunkDone
from tests.serving.batch_fixtures import (
    SECRET,
    World,
    records,
    world,
    write_csv,
    write_jsonl,
)


@pytest.fixture(scope="module")
def w(trained: Any, tmp_path_factory: pytest.TempPathFactory) -> World:
    return world(trained.registry, trained.data, tmp_path_factory.mktemp("batch"), trained.key)


def run(w: World, manifest: Path, out: Path, capacity: str = "2%", **kwargs: Any) -> dict[str, Any]:
    config = BatchConfig(
        manifest,
        out,
        w.spec(),
        Capacity.parse(capacity),
        progress_bar=False,
        **{"chunk_rows": 500} | kwargs,
    )
    return screen(config)


def head(w: World, n: int) -> pa.Table:
    return pq.read_table(w.manifest).slice(0, n)


def test_each_form_gives_the_same_results(w: World, tmp_path: Path) -> None:
    table = head(w, 300)
    pq.write_table(table, tmp_path / "m.parquet")
    outs = {}
    for manifest in (
        tmp_path / "m.parquet",
        write_csv(table, tmp_path / "m.csv"),
        write_jsonl(table, tmp_path / "m.jsonl"),
    ):
        summary = run(w, manifest, tmp_path / manifest.suffix[1:], chunk_rows=128)
        assert (summary["rows_read"], summary["rows_scored"]) == (300, 300)
        assert summary["reconciled"]
        outs[manifest.suffix] = pq.read_table(tmp_path / manifest.suffix[1:] / "results.parquet")
    base = outs[".parquet"]
    assert base.column("row").to_pylist() == list(range(1, 301))
    for other in (outs[".csv"], outs[".jsonl"]):
        assert other.column("item_id").equals(base.column("item_id"))
        np.testing.assert_allclose(
            other.column("probability").to_numpy(),
            base.column("probability").to_numpy(),
            rtol=1e-12,
        )
        assert other.column("decision").equals(base.column("decision"))


def _bad_csv(w: World, path: Path) -> tuple[Path, dict[int, str]]:
    """20 records, 4 broken by value, 1 embedded newline (valid), 1 line of broken quoting."""
    recs = records(head(w, 20))
    recs[2]["gross_weight_kg"] = "heavy"  # wrong type
    recs[5]["item_id"] = (
        recs[5]["item_id"][:9]
        + str((int(recs[5]["item_id"][9]) + 1) % 10)
        + recs[5]["item_id"][10:]
    )  # bad S10 check digit
    recs[8]["gross_weight_kg"] = -1.5  # negative weight
    recs[11]["origin_country"] = "XY"  # unknown country
    recs[14]["lines"][0]["description"] = "green\ntea"  # embedded newline: valid
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=DECLARATION_CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for i, rec in enumerate(recs):
        if i == 17:
            buffer.write('RR000000000XX,"broken"quote,x\r\n')  # broken CSV quoting
        writer.writerows(flatten_declaration(rec))
    path.write_text("\ufeff" + buffer.getvalue(), encoding="utf-8", newline="")  # BOM, CRLF
    # record numbers (1-based; the broken line is record 18) -> field quarantined
    return path, {
        3: "gross_weight_kg",
        6: "item_id",
        9: "gross_weight_kg",
        12: "origin_country",
        18: "(row)",
    }


def test_bad_rows_are_quarantined_with_reasons_and_counted(w: World, tmp_path: Path) -> None:
    manifest, expected = _bad_csv(w, tmp_path / "bad.csv")
    summary = run(w, manifest, tmp_path / "out", chunk_rows=7)
    assert summary["rows_read"] == 21
    assert summary["rows_quarantined"] == 5 and summary["rows_scored"] == 16
    assert summary["reconciled"]
    quarantine = pq.read_table(tmp_path / "out" / "quarantine.parquet").to_pylist()
    assert {q["row"]: q["field"] for q in quarantine} == expected
    reasons = {q["row"]: q["reason"] for q in quarantine}
    assert "valid number" in reasons[3]
    assert "check digit" in reasons[6]
    assert "greater than or equal to 0" in reasons[9]
    assert "ISO 3166" in reasons[12]
    assert "broken CSV quoting" in reasons[18]
    assert all(q["item_id"] for q in quarantine if q["row"] != 18)
    assert (tmp_path / "out" / "quarantine.csv").read_text().count("\n") >= 6
    results = pq.read_table(tmp_path / "out" / "results.parquet")
    assert 15 in results.column("row").to_pylist()  # the embedded newline was scored


def test_parquet_bad_rows_are_quarantined(w: World, tmp_path: Path) -> None:
    rows = head(w, 50).to_pylist()
    rows[0]["gross_weight_kg"] = -2.0  # negative weight
    rows[1]["item_id"] = "RR123"  # malformed S10
    rows[2]["sender"]["country"] = "QQ"  # unknown country
    rows[3]["lines"] = []  # no content line
    rows[4]["category"] = None  # missing
    pq.write_table(pa.Table.from_pylist(rows, schema=DECLARATION_SCHEMA), tmp_path / "m.parquet")
    summary = run(w, tmp_path / "m.parquet", tmp_path / "out", chunk_rows=20)
    assert (summary["rows_read"], summary["rows_scored"], summary["rows_quarantined"]) == (
        50,
        45,
        5,
    )
    quarantine = pq.read_table(tmp_path / "out" / "quarantine.parquet").to_pylist()
    assert [(q["row"], q["field"]) for q in quarantine] == [
        (1, "gross_weight_kg"),
        (2, "item_id"),
        (3, "sender.country"),
        (4, "lines"),
        (5, "category"),
    ]
    # not the shape of an item ID: not repeated (such a field may hold a name)
    assert quarantine[1]["item_id"] is None and quarantine[0]["item_id"] == rows[0]["item_id"]


@pytest.mark.parametrize(
    "content",
    [
        "",  # empty file
        ",".join(DECLARATION_CSV_COLUMNS) + "\n",  # header only
        "\ufeff" + ",".join(DECLARATION_CSV_COLUMNS) + "\r\n",  # header only, BOM and CRLF
    ],
)
def test_empty_manifests_reconcile_to_zero(w: World, tmp_path: Path, content: str) -> None:
    (tmp_path / "m.csv").write_text(content, encoding="utf-8")
    summary = run(w, tmp_path / "m.csv", tmp_path / "out")
    assert (summary["rows_read"], summary["rows_scored"], summary["reconciled"]) == (0, 0, True)
    assert pq.read_table(tmp_path / "out" / "results.parquet").num_rows == 0


def test_semicolon_delimiter_is_a_clear_error(w: World, tmp_path: Path) -> None:
    (tmp_path / "m.csv").write_text(";".join(DECLARATION_CSV_COLUMNS) + "\n", encoding="utf-8")
    with pytest.raises(ManifestError, match="semicolons"):
        run(w, tmp_path / "m.csv", tmp_path / "out")


def test_parquet_of_another_schema_is_a_clear_error(w: World, tmp_path: Path) -> None:
    table = head(w, 5)
    table = table.set_column(9, "gross_weight_kg", table.column(9).cast(pa.string()))
    pq.write_table(table, tmp_path / "m.parquet")
    with pytest.raises(ManifestError, match="gross_weight_kg is string, expected double"):
        run(w, tmp_path / "m.parquet", tmp_path / "out")


@pytest.mark.parametrize(("capacity", "slots"), [("2%", 40), ("75", 75), ("0", 0)])
def test_inspection_list_fills_the_capacity(
    w: World, tmp_path: Path, capacity: str, slots: int
) -> None:
    summary = run(w, w.manifest, tmp_path / "out", capacity=capacity)
    ranked = pq.read_table(tmp_path / "out" / "inspection_list.parquet").to_pylist()
    assert len(ranked) == slots == summary["inspection_list"]
    assert [r["rank"] for r in ranked] == list(range(1, slots + 1))
    model = [r for r in ranked if r["selection"] == "model"]
    random = [r for r in ranked if r["selection"] == "random_control"]
    assert len(random) <= round(slots * 0.1) and len(model) + len(random) == slots
    probs = [r["probability"] for r in model]
    assert probs == sorted(probs, reverse=True)
    assert all(r["selection_probability"] < 1 for r in random)
    assert len({r["item_id"] for r in ranked}) == slots


def test_results_carry_reasons_for_flagged_items_only(w: World, tmp_path: Path) -> None:
    run(w, w.manifest, tmp_path / "out", csv=True)
    results = pq.read_table(tmp_path / "out" / "results.parquet").to_pylist()
    assert len(results) == 2000
    for r in results:
        assert (r["reasons"] is None) == (r["decision"] == "pass")
        assert r["model_version"] == w.version
    flagged = next(r for r in results if r["reasons"])
    assert 1 <= len(flagged["reasons"]) <= 5 and flagged["reasons"][0]["sentence"]
    assert (tmp_path / "out" / "results.csv").exists()


def test_explain_all_explains_every_row(w: World, tmp_path: Path) -> None:
    pq.write_table(head(w, 40), tmp_path / "m.parquet")
    run(w, tmp_path / "m.parquet", tmp_path / "out", explain_all=True)
    results = pq.read_table(tmp_path / "out" / "results.parquet").to_pylist()
    assert all(r["reasons"] and len(r["reasons"]) > 5 for r in results)


def test_drift_psi_from_chunk_counts_matches_drift_report(w: World) -> None:
    engine = engine_for(w.spec())
    table = pq.read_table(w.manifest)
    frame = engine.frame(table)
    matrix = engine.features(frame, record=False)
    _, prob = engine.model.probability(matrix)
    expected = drift_report(engine.model.reference, prob, matrix, engine.model.spec.names)
    done = []
    for i, start in enumerate(range(0, 2000, 700)):
        part = table.slice(start, 700)
        results, counts = score_chunk(engine, part, np.arange(part.num_rows))
        done.append(ChunkDone(i, start + 1, part.num_rows, part.num_rows, 0, 0, counts))
    got = drift(engine.model.reference, done)
    assert got["score_psi"] == pytest.approx(expected["score_psi"], abs=1e-12)
    for name, value in expected["feature_psi"].items():
        assert got["feature_psi"][name] == pytest.approx(value, abs=1e-12)


def test_a_chunk_draws_as_the_service_engine_of_the_same_secret(w: World) -> None:
    """One decision key (screening.decision_key of the server secret), held by the engine:
    a batch chunk's random-control picks are the service engine's, item for item."""
    spec = w.spec(capacity=0.2, random_share=0.5)
    engine = engine_for(spec)
    assert engine.decision_key == decision_key(SECRET)
    table = head(w, 1500)
    results, _ = score_chunk(engine, table, np.arange(table.num_rows))
    model = engine.model
    policy, pseudonymiser = engine.policy, Pseudonymiser(w.key)
    service = ScoringEngine(model, History(), pseudonymiser, policy, decision_key(SECRET))
    scored = service.score_table(table, explain="none", record=False)
    reasons = results.column("selection_reason").to_pylist()
    assert reasons.count("random_control") > 50  # enough draws that another key would show
    assert reasons == [s.verdict.selection_reason for s in scored]
    assert results.column("decision").to_pylist() == [s.verdict.decision.value for s in scored]
    other = ScoringEngine(model, History(), pseudonymiser, policy, decision_key(SECRET + "!"))
    drawn = [s.verdict.selection_reason for s in other.score_table(table, "none", False)]
    assert drawn != reasons


def test_rerun_with_other_settings_is_refused(w: World, tmp_path: Path) -> None:
    pq.write_table(head(w, 30), tmp_path / "m.parquet")
    run(w, tmp_path / "m.parquet", tmp_path / "out")
    with pytest.raises(ResumeError, match="chunk_rows"):
        run(w, tmp_path / "m.parquet", tmp_path / "out", chunk_rows=10)
    assert run(w, tmp_path / "m.parquet", tmp_path / "out", chunk_rows=10, fresh=True)["reconciled"]
