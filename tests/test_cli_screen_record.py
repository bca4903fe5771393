"""``parcelscreen screen`` with the record in PostgreSQL (``PARCELSCREEN_DATABASE_URL``): the
run takes its history snapshot from the record there (not from an empty local state.sqlite),
records its decisions there and names it (without a password); the registry is
``PARCELSCREEN_REGISTRY`` unless ``--registry`` says otherwise; the history commands name the
real backend. Real PostgreSQL on 127.0.0.1 (skipped where none runs)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from parcelscreen.cli import main
from screening import History, Pseudonymiser, SQLiteBackend, frame_from_table
from serving import Record, Settings
from tests.pg_record import drop_schema, fresh_schema
from tests.serving.batch_fixtures import MANIFEST_ROWS, SECRET, World, world


@pytest.fixture(scope="module")
def w(trained: Any, tmp_path_factory: pytest.TempPathFactory) -> World:
    return world(trained.registry, trained.data, tmp_path_factory.mktemp("batch"), trained.key)


def _past(trained: Any, w: World) -> Any:
    past = pq.read_table(trained.data / "declarations.parquet")
    return frame_from_table(past.slice(0, past.num_rows - MANIFEST_ROWS), Pseudonymiser(w.key))


def _scores(out: Path) -> dict[str, float]:
    table = pq.read_table(out / "results.parquet", columns=["item_id", "probability"])
    return dict(
        zip(
            table.column("item_id").to_pylist(),
            table.column("probability").to_pylist(),
            strict=True,
        )
    )


def test_screen_snapshots_and_records_in_postgres(
    w: World,
    trained: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pg = fresh_schema()
    try:
        monkeypatch.chdir(tmp_path)  # runs/registry here does not exist
        for name, value in {
            "DATABASE_URL": pg["database_url"],
            "DATABASE_SCHEMA": pg["database_schema"],
            "DATA_DIR": str(tmp_path / "data"),
            "SECRET_KEY": SECRET,
            "PSEUDONYMISATION_KEY": w.key,
            "REGISTRY": str(trained.registry),
        }.items():
            monkeypatch.setenv(f"PARCELSCREEN_{name}", value)
        (tmp_path / "data").mkdir()
        settings = Settings()
        record = Record(settings, must_exist=True)
        try:
            History(record.history_backend).observe_frame(_past(trained, w))
        finally:
            record.close()
        local = SQLiteBackend(tmp_path / "history.sqlite")  # the same history, in SQLite
        try:
            History(local).observe_frame(_past(trained, w))
        finally:
            local.close()
        posted = pq.read_table(w.manifest, columns=["posted_at"]).column("posted_at")
        as_of = pc.max(posted).as_py().isoformat()
        common = [str(w.manifest), "--as-of", as_of, "--capacity", "2%"]

        assert (
            main(["screen", *common, "--out", "same", "--no-record", "--history", "history.sqlite"])
            == 0
        )
        capsys.readouterr()
        assert main(["screen", *common, "--out", "pg"]) == 0
        summary = json.loads(capsys.readouterr().out)
        assert summary["rows_scored"] > 0
        where = summary["recorded"]["record_database"]
        assert pg["database_schema"] in where and "state.sqlite" not in where
        assert summary["recorded"]["decisions_recorded"] == summary["rows_scored"]
        assert _scores(tmp_path / "pg") == _scores(tmp_path / "same")  # the PostgreSQL history
        assert not list((tmp_path / "pg").glob("*.sqlite"))  # its scratch copy is gone
        assert not (tmp_path / "data" / "state.sqlite").exists()
        record = Record(settings, must_exist=True)
        try:
            rows = record.db.execute("SELECT count(*) FROM scored_result")[0][0]
        finally:
            record.close()
        assert int(rows) == summary["rows_scored"]

        assert main(["history", "prune", "--dry-run"]) == 0
        assert json.loads(capsys.readouterr().out)["backend"] == "postgresql"
    finally:
        drop_schema(pg["database_schema"])


def test_record_name_hides_the_password() -> None:
    settings = Settings(
        database_url="postgresql://ps:hunter2@db.example:5432/rec", database_schema="rec_a"
    )
    assert settings.record_name == "postgresql://ps@db.example:5432/rec (schema rec_a)"
    assert "hunter2" not in settings.record_name


def test_screen_names_a_missing_registry(
    w: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "screen",
            str(w.manifest),
            "--out",
            str(tmp_path / "o"),
            "--no-record",
            "--registry",
            str(tmp_path / "nosuchreg"),
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "nosuchreg" in err and "does not exist" in err


def test_train_publishes_to_the_registry_setting(
    sim_data: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PARCELSCREEN_REGISTRY", str(tmp_path / "env-registry"))
    assert main(["train", "--data", str(sim_data), "--skip-validation"]) == 0
    bundle = Path(json.loads(capsys.readouterr().out)["bundle"])
    assert bundle.is_relative_to(tmp_path / "env-registry")
    assert not (tmp_path / "runs").exists()  # not the default beside it
