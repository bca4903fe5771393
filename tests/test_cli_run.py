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
        [
            sys.executable,
            "-m",
            "parcelscreen",
            "run",
            "--workdir",
            str(tmp_path / "runs"),
            "--parcels",
            "60000",
            "--no-serve",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    runs = tmp_path / "runs"
    assert (runs / "registry" / "aliases.json").exists()
    summary = json.loads((runs / "screened" / "summary.json").read_text())
    assert summary["reconciled"] and summary["rows_read"] == summary["rows_scored"] > 1000
    history = sqlite3.connect(runs / "serving" / "state.sqlite")  # (reads the WAL too)
    (entities,) = history.execute("SELECT count(*) FROM history_entity").fetchone()
    # the inspection list reaches the officer: the run's decisions are in the record
    (listed,) = history.execute(
        "SELECT count(*) FROM officer_parcel WHERE batch_rank IS NOT NULL AND flagged = 1"
    ).fetchone()
    (account,) = history.execute(
        "SELECT role FROM officer_user WHERE username = 'demo-officer'"
    ).fetchone()
    history.close()
    assert entities > 1000
    assert summary["recorded"]["decisions_recorded"] == summary["rows_scored"]
    assert listed == summary["inspection_list"] > 0 and account == "officer"
    assert "user name: demo-officer" in done.stdout and "/officer" in done.stdout
    check = subprocess.run(
        [sys.executable, "-m", "parcelscreen", "state", "check"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env | {"PARCELSCREEN_DATA_DIR": str(runs / "serving")},
    )
    assert check.returncode == 0, check.stdout[-2000:] + check.stderr[-2000:]


def test_a_run_too_small_to_train_says_which_flag_to_raise(tmp_path: Path) -> None:
    """Reported by the officer review: `run --parcels 30000` at the default prevalence stopped
    at 'too few seizures' without saying what to change."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARCELSCREEN_")}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "parcelscreen",
            "run",
            "--workdir",
            str(tmp_path / "runs"),
            "--parcels",
            "2000",
            "--no-serve",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    assert "known seizures" in done.stderr
    assert "raise --parcels (200,000 by default) or --prevalence" in done.stderr
