"""Kill a real batch run with SIGKILL mid-way, run it again: no item lost, none doubled."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from serving.batch import BatchConfig, Capacity, screen
from tests.serving.batch_fixtures import SECRET, World, world

_CLI = """
import argparse, os, sys, threading
from parcelscreen import _screen_cmd
hold = int(os.environ.get("HOLD_AT_FINISH", "0"))
if hold:  # the test's run: the writer stops before the hold-th chunk, to be killed there
    from serving.batch._state import RunState
    finish, finished = RunState.finish, []

    def held(self, *args, **kwargs):
        finished.append(1)
        if len(finished) == hold:
            threading.Event().wait()  # until the SIGKILL
        return finish(self, *args, **kwargs)

    RunState.finish = held
parser = argparse.ArgumentParser()
_screen_cmd.add_parser(parser.add_subparsers())
args = parser.parse_args(sys.argv[1:])
sys.exit(args.func(args))
"""


@pytest.fixture(scope="module")
def w(trained: Any, tmp_path_factory: pytest.TempPathFactory) -> World:
    return world(trained.registry, trained.data, tmp_path_factory.mktemp("batch"), trained.key)


def _command(w: World, out: Path) -> list[str]:
    latest = pq.read_table(w.manifest, columns=["posted_at"]).column("posted_at")
    as_of = max(latest.to_pylist()).isoformat()  # the simulated days lie in the past
    return [
        sys.executable,
        "-c",
        _CLI,
        "screen",
        str(w.manifest),
        "--out",
        str(out),
        "--model",
        str(w.bundle),
        "--chunk-rows",
        "100",
        "--as-of",
        as_of,
        "--no-record",
    ]


def _journal_lines(out: Path) -> int:
    path = out / "journal.jsonl"
    return path.read_text().count("\n") if path.exists() else 0


@pytest.mark.slow
def test_sigkill_then_resume_loses_and_doubles_nothing(w: World, tmp_path: Path) -> None:
    env = os.environ | {
        "PARCELSCREEN_PSEUDONYMISATION_KEY": w.key,
        "PARCELSCREEN_SECRET_KEY": SECRET,
    }
    out = tmp_path / "killed"
    # the run is held before its 4th chunk is written (whatever the machine's speed, it
    # cannot run past the kill), while its scoring threads may still be at work
    proc = subprocess.Popen(
        _command(w, out),
        env=env | {"HOLD_AT_FINISH": "4"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120  # only against a hang
    while _journal_lines(out) < 3 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    killed_at = _journal_lines(out)
    assert killed_at == 3, "the run was not killed mid-way"
    assert not (out / "summary.json").exists()

    again = subprocess.run(_command(w, out), env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert "resuming" in again.stderr

    clean = tmp_path / "clean"
    config = BatchConfig(
        w.manifest, clean, w.spec(), Capacity(share=0.02), chunk_rows=100, progress_bar=False
    )
    summary = screen(config)
    resumed = pq.read_table(out / "results.parquet")
    rows = resumed.column("row").to_pylist()
    assert rows == list(range(1, 2001))  # each item exactly once, in manifest order
    assert resumed.equals(pq.read_table(clean / "results.parquet"))
    assert pq.read_table(out / "inspection_list.parquet").equals(
        pq.read_table(clean / "inspection_list.parquet")
    )
    assert summary["reconciled"] and summary["rows_scored"] == 2000
