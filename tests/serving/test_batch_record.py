"""A completed batch run is recorded in the record database as the service records its own
decisions: results, officer copies, decision-log records and entity-history increments, once
per item and run, so that the officer's worklists hold it and ``state check`` passes."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from screening import History, Pseudonymiser, SQLiteBackend, frame_from_table
from serving import Record, Settings, check_record
from serving.batch import BatchConfig, Capacity, screen
from serving.batch import _record as batch_record
from tests.browser.officer_setup import sign_in
from tests.serving.batch_fixtures import World, world
from tests.serving.conftest import Server, start_server


@pytest.fixture(scope="module")
def w(trained: Any, tmp_path_factory: pytest.TempPathFactory) -> World:
    return world(trained.registry, trained.data, tmp_path_factory.mktemp("batch"), trained.key)


def _settings(w: World, trained: Any, root: Path) -> Settings:
    return Settings(
        data_dir=root, registry=trained.registry, pseudonymisation_key=w.key, reload_seconds=0
    )


def _record_db(w: World, trained: Any, root: Path) -> Settings:
    """A record database whose history holds the simulated days before the manifest."""
    settings = _settings(w, trained, root)
    past = pq.read_table(trained.data / "declarations.parquet")
    backend = SQLiteBackend(settings.state_path)
    try:
        History(backend).observe_frame(
            frame_from_table(past.slice(0, past.num_rows - 2000), Pseudonymiser(w.key))
        )
    finally:
        backend.close()
    return settings


def _config(w: World, settings: Settings, out: Path, **kwargs: Any) -> BatchConfig:
    spec = w.spec(history=str(settings.state_path))
    return BatchConfig(
        w.manifest,
        out,
        spec,
        Capacity.parse("2%"),
        progress_bar=False,
        chunk_rows=700,
        record=settings,
        **kwargs,
    )


def _counts(settings: Settings) -> dict[str, int]:
    record = Record(settings)
    try:
        return {
            table: int(record.db.execute(f"SELECT count(*) FROM {table}")[0][0])
            for table in ("scored_result", "officer_parcel", "history_item")
        } | {
            "decisions": int(
                record.db.execute("SELECT count(*) FROM decision_log WHERE kind = 'decision'")[0][0]
            )
        }
    finally:
        record.close()


def _check(settings: Settings) -> None:
    record = Record(settings)
    try:
        report = check_record(record)
    finally:
        record.close()
    assert report.ok, report.problems


@pytest.fixture(scope="module")
def recorded(
    w: World, trained: Any, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Settings, dict[str, Any]]:
    root = tmp_path_factory.mktemp("record")
    settings = _record_db(w, trained, root / "state")
    summary = screen(_config(w, settings, root / "out"))
    return settings, summary


def test_a_completed_run_is_in_the_record_database(
    recorded: tuple[Settings, dict[str, Any]],
) -> None:
    settings, summary = recorded
    scored = summary["rows_scored"]
    assert summary["recorded"]["decisions_recorded"] == scored == 2000
    counts = _counts(settings)
    history_before = counts["history_item"] - scored
    assert counts["scored_result"] == counts["officer_parcel"] == counts["decisions"] == scored
    assert history_before > 0
    _check(settings)
    record = Record(settings)
    try:
        listed = record.db.execute(
            "SELECT item_id, decision, flagged, batch_rank, selection_reason FROM "
            "officer_parcel WHERE batch_rank IS NOT NULL ORDER BY batch_rank"
        )
        rid = f"batch-{summary['recorded']['run_id']}"
        (logged,) = record.db.execute(
            "SELECT count(*) FROM decision_log WHERE request_id = ? AND kind = 'decision'", (rid,)
        )
    finally:
        record.close()
    assert len(listed) == summary["inspection_list"] == 40  # 2% of 2000
    assert all(d == "inspect" and f == 1 for _, d, f, _, _ in listed)
    assert [r for _, _, _, r, _ in listed] == list(range(1, 41))
    assert {s for *_, s in listed} <= {"model", "random_control"}
    assert logged[0] == scored


def test_a_repeated_or_resumed_run_records_nothing_twice(
    w: World, trained: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _record_db(w, trained, tmp_path / "state")
    real = batch_record._record_slice
    calls = {"n": 0}

    def fails_on_the_second_slice(*args: Any, **kwargs: Any) -> int:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("disk went away")
        return real(*args, **kwargs)

    monkeypatch.setattr(batch_record, "_record_slice", fails_on_the_second_slice)
    with pytest.raises(OSError):
        screen(_config(w, settings, tmp_path / "out"))
    half = _counts(settings)
    assert 0 < half["decisions"] < 2000
    _check(settings)  # what was recorded is whole: one transaction per slice
    monkeypatch.setattr(batch_record, "_record_slice", real)
    resumed = screen(_config(w, settings, tmp_path / "out"))  # the run resumes: all chunks done
    assert resumed["recorded"]["already_recorded"] == half["decisions"]
    full = _counts(settings)
    assert full["decisions"] == full["scored_result"] == 2000
    again = screen(_config(w, settings, tmp_path / "again", fresh=True))  # the same run again
    assert again["recorded"]["decisions_recorded"] == 0
    assert _counts(settings) == full
    _check(settings)


def test_batch_decisions_reach_the_officers_manifest_worklist(
    recorded: tuple[Settings, dict[str, Any]], trained: Any
) -> None:
    from serving.officer import UserStore

    settings, summary = recorded
    run = summary["recorded"]["run_id"]
    server: Server
    for server in start_server(settings.model_copy(update={"capacity": 0.02})):
        UserStore(server.service.state_db).add("olga", "correct horse battery", "officer")
        client, _ = sign_in(server.url, "olga")
        with closing(client):
            page = client.get(
                "/officer/queue", params={"manifest": run, "sort": "rank", "status": ""}
            )
            assert page.status_code == 200
            items = [
                line.split('data-item="')[1].split('"')[0]
                for line in page.text.splitlines()
                if "<tr data-item=" in line
            ]
            assert len(items) >= 40
            assert "manifest.parquet" in page.text
            first = client.get(f"/officer/parcels/{items[0]}")
            assert first.status_code == 200 and "<svg" in first.text
            default = client.get("/officer/queue")  # open parcels of any day: these too
            assert items[0] in default.text


def test_the_screen_command_records_or_says_where_it_looked(
    w: World,
    trained: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import json

    from parcelscreen.cli import main

    manifest = tmp_path / "m.parquet"
    table = pq.read_table(w.manifest).slice(0, 300)
    pq.write_table(table, manifest)
    latest = max(table.column("posted_at").to_pylist()).isoformat()
    monkeypatch.setenv("PARCELSCREEN_PSEUDONYMISATION_KEY", w.key)
    monkeypatch.delenv("PARCELSCREEN_STATE_DB", raising=False)
    monkeypatch.setenv("PARCELSCREEN_DATA_DIR", str(tmp_path / "nowhere"))
    argv = [
        "screen",
        str(manifest),
        "--model",
        str(w.bundle),
        "--out",
        str(tmp_path / "out"),
        "--as-of",
        latest,
    ]
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert f"no record database at {tmp_path / 'nowhere' / 'state.sqlite'}" in error
    assert "PARCELSCREEN_DATA_DIR" in error and "--no-record" in error
    assert not (tmp_path / "nowhere").exists()  # nothing created
    settings = _record_db(w, trained, tmp_path / "state")
    monkeypatch.setenv("PARCELSCREEN_DATA_DIR", str(settings.data_dir))
    assert main(argv) == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["recorded"]["decisions_recorded"] == summary["rows_scored"] == 300
    assert summary["recorded"]["record_database"] == str(settings.state_path)
    _check(settings)
