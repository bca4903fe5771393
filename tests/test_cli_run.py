"""The README's main command, end to end on a small simulation (serving left out)."""

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_parcelscreen_run_simulates_trains_loads_history_and_screens(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARCELSCREEN_")}
    done = subprocess.run(
        [sys.executable, "-m", "parcelscreen", "run", "--workdir", str(tmp_path / "runs"),
         "--parcels", "60000", "--no-serve"],
        capture_output=True, text=True, timeout=600, env=env, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    runs = tmp_path / "runs"
    assert (runs / "registry" / "aliases.json").exists()
    summary = json.loads((runs / "screened" / "summary.json").read_text())
    assert summary["reconciled"] and summary["rows_read"] == summary["rows_scored"] > 1000
    history = sqlite3.connect(runs / "serving" / "state.sqlite")  # (reads the WAL too)
    (entities,) = history.execute("SELECT count(*) FROM history_entity").fetchone()
    history.close()
    assert entities > 1000
