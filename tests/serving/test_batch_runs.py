"""What a batch run holds fixed from start to resume (the history snapshot, the keys), what
--fresh clears, and how padded Parquet values are scored."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from screening import History, Pseudonymiser, SQLiteBackend, frame_from_table
from serving.batch import BatchConfig, Capacity, ManifestError, ResumeError, screen
from serving.batch import _run as batch_run
from tests.serving.batch_fixtures import World, world, write_jsonl


@pytest.fixture(scope="module")
def w(trained: Any, tmp_path_factory: pytest.TempPathFactory) -> World:
    return world(trained.registry, trained.data, tmp_path_factory.mktemp("batch"), trained.key)


def _config(w: World, manifest: Path, out: Path, **kwargs: Any) -> BatchConfig:
    spec = kwargs.pop("spec", w.spec())
    return BatchConfig(
        manifest,
        out,
        spec,
        Capacity.parse("5%"),
        progress_bar=False,
        **{"chunk_rows": 200} | kwargs,
    )


def _observe(w: World, store: Path, table: pa.Table) -> None:
    backend = SQLiteBackend(store)
    try:
        History(backend).observe_frame(frame_from_table(table, Pseudonymiser(w.key)))
    finally:
        backend.close()


def _cut_journal(out: Path, keep: int) -> None:
    journal = out / "journal.jsonl"
    journal.write_text("".join(journal.read_text().splitlines(keepends=True)[:keep]))


def test_a_resumed_run_scores_against_the_history_of_its_start(
    w: World, trained: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    past = pq.read_table(trained.data / "declarations.parquet")
    store = tmp_path / "history.sqlite"
    _observe(w, store, past.slice(0, past.num_rows - 2000))
    manifest = tmp_path / "m.parquet"
    pq.write_table(pq.read_table(w.manifest).slice(0, 1000), manifest)
    spec = w.spec(history=str(store))
    whole = screen(_config(w, manifest, tmp_path / "whole", spec=spec))
    assert not list((tmp_path / "whole").glob("history-snapshot*"))  # gone once complete
    cut = tmp_path / "cut"
    real = batch_run.process_chunk

    def fails_at_chunk_3(spec: Any, chunk: Any, explain_all: bool) -> Any:
        if chunk.index == 3:
            raise RuntimeError("killed")
        return real(spec, chunk, explain_all)

    monkeypatch.setattr(batch_run, "process_chunk", fails_at_chunk_3)
    with pytest.raises(RuntimeError, match="killed"):
        screen(_config(w, manifest, cut, spec=spec))
    monkeypatch.undo()
    assert len(list(cut.glob("history-snapshot-*.sqlite"))) == 1  # kept for the resume
    _observe(w, store, pq.read_table(manifest))  # the service records these meanwhile
    resumed = screen(_config(w, manifest, cut, spec=spec))
    assert resumed["rows_scored"] == whole["rows_scored"] == 1000
    assert pq.read_table(cut / "results.parquet").equals(
        pq.read_table(tmp_path / "whole" / "results.parquet")
    )
    fresh = screen(_config(w, manifest, cut, spec=spec, fresh=True))  # same folder, anew:
    assert fresh["rows_scored"] == 1000  # the history as it is now, not the first copy's
    assert (
        not pq.read_table(cut / "results.parquet")
        .column("probability")
        .equals(pq.read_table(tmp_path / "whole" / "results.parquet").column("probability"))
    )


def test_a_missing_history_store_is_an_error_not_an_empty_store(w: World, tmp_path: Path) -> None:
    typo = tmp_path / "histroy.sqlite"
    with pytest.raises(ManifestError, match="histroy.sqlite: no such history store"):
        screen(_config(w, w.manifest, tmp_path / "out", spec=w.spec(history=str(typo))))
    assert not typo.exists()


def test_resuming_with_other_keys_is_refused(w: World, tmp_path: Path) -> None:
    manifest = tmp_path / "m.parquet"
    pq.write_table(pq.read_table(w.manifest).slice(0, 300), manifest)
    screen(_config(w, manifest, tmp_path / "out"))
    _cut_journal(tmp_path / "out", 1)
    other = replace(w.spec(), secret_key="another-secret-key-0123456789")
    with pytest.raises(ResumeError, match="keys"):
        screen(_config(w, manifest, tmp_path / "out", spec=other))
    run_file = (tmp_path / "out" / "run.json").read_text()
    assert w.key not in run_file and "another-secret" not in run_file


def test_fresh_clears_every_output_of_the_earlier_run(w: World, tmp_path: Path) -> None:
    manifest = tmp_path / "m.parquet"
    pq.write_table(pq.read_table(w.manifest).slice(0, 300), manifest)
    screen(_config(w, manifest, tmp_path / "out", csv=True))
    assert (tmp_path / "out" / "results.csv").is_file()
    pq.write_table(pq.read_table(w.manifest).slice(300, 100), manifest)
    screen(_config(w, manifest, tmp_path / "out", fresh=True))
    left = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert "results.csv" not in left and "inspection_list.csv" not in left
    assert pq.read_table(tmp_path / "out" / "results.parquet").num_rows == 100


def _padded(table: pa.Table) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = table.to_pylist()
    for row in rows:
        row["item_id"] = row["item_id"] + " "
        row["origin_country"] = " " + row["origin_country"]
        row["sender"]["country"] = row["sender"]["country"] + "  "
        row["lines"][0]["description"] = "\t" + row["lines"][0]["description"] + " "
    return rows


def test_padded_parquet_values_are_scored_trimmed_as_in_the_other_forms(
    w: World, tmp_path: Path
) -> None:
    table = pq.read_table(w.manifest).slice(0, 200)
    padded = pa.Table.from_pylist(_padded(table), schema=table.schema)
    pq.write_table(padded, tmp_path / "m.parquet")
    write_jsonl(padded, tmp_path / "m.jsonl")
    pq.write_table(table, tmp_path / "clean.parquet")
    out = {}
    for name in ("m.parquet", "m.jsonl", "clean.parquet"):
        summary = screen(_config(w, tmp_path / name, tmp_path / name.replace(".", "_")))
        assert summary["rows_scored"] == 200
        out[name] = pq.read_table(tmp_path / name.replace(".", "_") / "results.parquet")
    for name in ("m.parquet", "m.jsonl"):
        assert out[name].column("item_id").equals(out["clean.parquet"].column("item_id"))
        np.testing.assert_allclose(
            out[name].column("probability").to_numpy(),
            out["clean.parquet"].column("probability").to_numpy(),
        )


def test_csv_rows_without_an_item_id_are_records_of_their_own(w: World, tmp_path: Path) -> None:
    import csv

    from tests.serving.batch_fixtures import write_csv

    path = write_csv(pq.read_table(w.manifest).slice(0, 5), tmp_path / "m.csv")
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    firsts = [
        row for k, row in enumerate(rows) if not k or row["item_id"] != rows[k - 1]["item_id"]
    ]
    blank = [row | {"item_id": ""} for row in firsts[:3]]  # three items' rows, IDs lost
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows + blank)
    summary = screen(_config(w, path, tmp_path / "out"))
    assert (summary["rows_read"], summary["rows_scored"], summary["rows_quarantined"]) == (8, 5, 3)
    quarantine = pq.read_table(tmp_path / "out" / "quarantine.parquet").to_pylist()
    assert {q["field"] for q in quarantine} == {"item_id"}


def test_engines_of_one_bundle_share_its_loaded_model(w: World, tmp_path: Path) -> None:
    from serving.batch import engine_for

    store = tmp_path / "history.sqlite"
    SQLiteBackend(store).close()
    plain, with_history = w.spec(), w.spec(history=str(store))
    assert engine_for(plain) is not engine_for(with_history)  # histories of their own
    assert engine_for(plain).model is engine_for(with_history).model  # one bundle load
