"""An older release's separate decision log and history files merge into the record
database; until they do, the service and the commands refuse to run beside them."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from parcelscreen.cli import main
from screening import EntityStats, SQLiteBackend
from serving import DecisionLog, Entry


def _older_release(folder: Path) -> None:
    """What a release before the record database left: three files."""
    folder.mkdir(parents=True, exist_ok=True)
    log = DecisionLog(folder / "audit.sqlite")
    log.append(Entry("decision", request_id="r1", item_id="RR000000015NL", score=0.1))
    log.append(Entry("outcome", request_id="r2", item_id="RR000000015NL"))
    log.close()
    history = SQLiteBackend(folder / "history.sqlite")
    history.put("sender", "tok", EntityStats(parcels=3, first_us=1, last_us=2))
    history.close()
    sqlite3.connect(folder / "state.sqlite").close()


def test_commands_refuse_to_run_beside_an_older_release_s_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _older_release(tmp_path)
    monkeypatch.setenv("PARCELSCREEN_DATA_DIR", str(tmp_path))
    assert main(["audit", "verify"]) == 2
    assert "parcelscreen db upgrade" in capsys.readouterr().err
    assert main(["serve", "--port", "0"]) == 2
    assert "parcelscreen db upgrade" in capsys.readouterr().err


def test_db_upgrade_merges_the_chain_and_the_history_and_keeps_the_old_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _older_release(tmp_path)
    monkeypatch.setenv("PARCELSCREEN_DATA_DIR", str(tmp_path))
    assert main(["db", "upgrade"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["rows"]["decision_log"] == 2 and result["rows"]["history_entity"] == 1
    assert not (tmp_path / "audit.sqlite").exists()
    assert (tmp_path / "audit.sqlite.merged").exists()
    assert (tmp_path / "history.sqlite.merged").exists()
    log = DecisionLog(tmp_path / "state.sqlite")
    try:
        assert log.verify().ok  # the old chain goes on, with the upgrade's own record
        assert [r["kind"] for r in log.records()] == ["decision", "outcome", "store_upgrade"]
    finally:
        log.close()
    backend = SQLiteBackend(tmp_path / "state.sqlite")
    assert backend.get("sender", "tok") == EntityStats(3, 1, 2, 0, 0, 0)
    backend.close()
    assert main(["audit", "verify"]) == 0  # no longer refused
    assert main(["db", "upgrade"]) == 0  # nothing left to do
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["merged"] == []


def test_db_upgrade_refuses_to_merge_two_chains(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _older_release(tmp_path)
    DecisionLog(tmp_path / "state.sqlite").append(Entry("halt", caller="admin"))
    monkeypatch.setenv("PARCELSCREEN_DATA_DIR", str(tmp_path))
    assert main(["db", "upgrade"]) == 2
    assert "already holds decision_log rows" in capsys.readouterr().err
    assert (tmp_path / "audit.sqlite").exists()  # nothing renamed
