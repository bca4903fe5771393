"""The halt switch (human oversight) holds for batch runs: a run that would record its
decisions where model-based selection is halted is refused before it scores, one halted while
it screens records nothing more, and once selection is resumed the same run records the rest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from serving import Record, Settings
from serving._audit import Entry
from serving.batch import BatchConfig, Capacity, HaltedError, screen
from serving.batch import _run as batch_run
from serving.batch._finalise import finalise
from tests.serving.batch_fixtures import World, world

REASON = "drift alarm on the Dutch lane"


@pytest.fixture(scope="module")
def w(trained: Any, tmp_path_factory: pytest.TempPathFactory) -> World:
    return world(trained.registry, trained.data, tmp_path_factory.mktemp("batch"), trained.key)


def _settings(w: World, trained: Any, root: Path) -> Settings:
    settings = Settings(
        data_dir=root, registry=trained.registry, pseudonymisation_key=w.key, reload_seconds=0
    )
    Record(settings).close()  # the service's record database
    return settings


def _switch(settings: Settings, halted: bool) -> None:
    """Halt or resume as the service does: the shared flag and its record, one commit."""
    record = Record(settings)
    try:
        with record.db.transaction():
            record.state.set_flag("halted", "1" if halted else "0")
            record.audit.append(
                Entry(
                    "halt" if halted else "resume",
                    request_id="r",
                    caller="officer:ada",
                    detail={"reason": REASON},
                )
            )
    finally:
        record.close()


def _decisions(settings: Settings) -> int:
    record = Record(settings)
    try:
        found = record.db.execute("SELECT count(*) FROM decision_log WHERE kind = 'decision'")
        return int(found[0][0])
    finally:
        record.close()


def _config(w: World, settings: Settings, out: Path, manifest: Path) -> BatchConfig:
    return BatchConfig(
        manifest,
        out,
        w.spec(history=str(settings.state_path)),
        Capacity.parse("2%"),
        progress_bar=False,
        chunk_rows=200,
        record=settings,
    )


def _manifest(w: World, tmp_path: Path, rows: int = 400) -> Path:
    manifest = tmp_path / "m.parquet"
    pq.write_table(pq.read_table(w.manifest).slice(0, rows), manifest)
    return manifest


def test_a_run_is_refused_while_selection_is_halted(w: World, trained: Any, tmp_path: Path) -> None:
    settings = _settings(w, trained, tmp_path / "state")
    _switch(settings, halted=True)
    out = tmp_path / "out"
    with pytest.raises(HaltedError) as refused:
        screen(_config(w, settings, out, _manifest(w, tmp_path)))
    message = str(refused.value)
    assert "model-based selection is halted (by officer:ada" in message and REASON in message
    assert str(settings.state_path) in message and "resume" in message
    assert not out.exists() and _decisions(settings) == 0  # refused before it scored
    _switch(settings, halted=False)
    summary = screen(_config(w, settings, out, _manifest(w, tmp_path)))
    assert summary["recorded"]["decisions_recorded"] == summary["rows_scored"] == 400


def test_a_halt_while_a_run_screens_stops_its_recording_until_resumed(
    w: World, trained: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(w, trained, tmp_path / "state")

    def halted_meanwhile(*args: Any, **kwargs: Any) -> Any:
        _switch(settings, halted=True)  # an administrator halts while the run screens
        return finalise(*args, **kwargs)

    monkeypatch.setattr(batch_run, "finalise", halted_meanwhile)
    out, manifest = tmp_path / "out", _manifest(w, tmp_path)
    with pytest.raises(HaltedError) as refused:
        screen(_config(w, settings, out, manifest))
    assert f"this run's files are kept in {out}" in str(refused.value)
    assert _decisions(settings) == 0 and (out / "inspection_list.parquet").is_file()
    monkeypatch.setattr(batch_run, "finalise", finalise)
    _switch(settings, halted=False)
    summary = screen(_config(w, settings, out, manifest))  # resumes from its files
    assert summary["recorded"]["decisions_recorded"] == 400 == _decisions(settings)
    assert json.loads((out / "summary.json").read_text())["recorded"]["already_recorded"] == 0


def test_the_screen_command_says_selection_is_halted(
    w: World,
    trained: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from parcelscreen.cli import main

    settings = _settings(w, trained, tmp_path / "state")
    _switch(settings, halted=True)
    manifest = _manifest(w, tmp_path, rows=50)
    latest = max(pq.read_table(manifest).column("posted_at").to_pylist()).isoformat()
    monkeypatch.setenv("PARCELSCREEN_PSEUDONYMISATION_KEY", w.key)
    monkeypatch.delenv("PARCELSCREEN_STATE_DB", raising=False)
    monkeypatch.setenv("PARCELSCREEN_DATA_DIR", str(settings.data_dir))
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
    assert "\nerror: model-based selection is halted (by officer:ada" in error and REASON in error
    assert "Traceback" not in error and _decisions(settings) == 0
