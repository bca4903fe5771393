"""Batch screening applies the posting window around its reference time (issue 16): the
``--as-of`` time for an old manifest, the start of the run by default (kept on resume)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from data_contracts import DECLARATION_SCHEMA
from parcelscreen.cli import main
from serving.batch import BatchConfig, Capacity, screen
from tests.serving.batch_fixtures import World, records, world

ODD = ("0001-01-02T00:00:00+00:00", "9999-12-31T23:59:59+00:00")


@pytest.fixture(scope="module")
def w(trained: Any, tmp_path_factory: pytest.TempPathFactory) -> World:
    return world(trained.registry, trained.data, tmp_path_factory.mktemp("window"), trained.key)


def _manifest(w: World, path: Path) -> tuple[Path, datetime]:
    """Eight simulated declarations, the 2nd and 5th posted in year 1 and year 9999; the
    latest ordinary posting time."""
    table = pq.read_table(w.manifest).slice(0, 8)
    latest = max(table.column("posted_at").to_pylist())
    rows = records(table)
    rows[1]["posted_at"], rows[4]["posted_at"] = ODD
    if path.suffix == ".parquet":
        for row in rows:
            row["posted_at"] = datetime.fromisoformat(row["posted_at"])
        pq.write_table(pa.Table.from_pylist(rows, schema=DECLARATION_SCHEMA), path)
    else:
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path, latest


@pytest.mark.parametrize("form", ["jsonl", "parquet"])  # record by record, and column-wise
def test_records_outside_the_window_are_quarantined(w: World, tmp_path: Path, form: str) -> None:
    manifest, latest = _manifest(w, tmp_path / f"m.{form}")
    out = tmp_path / "out"
    summary = screen(
        BatchConfig(manifest, out, w.spec(), Capacity.parse("2%"), progress_bar=False, as_of=latest)
    )
    assert (summary["rows_read"], summary["rows_scored"], summary["rows_quarantined"]) == (8, 6, 2)
    quarantine = pq.read_table(out / "quarantine.parquet").to_pylist()
    assert [(q["row"], q["field"]) for q in quarantine] == [(2, "posted_at"), (5, "posted_at")]
    assert all(
        q["reason"].startswith("posting time outside the plausible window") for q in quarantine
    )
    # without a reference time (the library default) every time passes, as in training data
    every = screen(
        BatchConfig(manifest, tmp_path / "all", w.spec(), Capacity.parse("2%"), progress_bar=False)
    )
    assert every["rows_scored"] == 8


def test_the_screen_command_takes_its_reference_time(
    w: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PARCELSCREEN_PSEUDONYMISATION_KEY", w.key)
    manifest, latest = _manifest(w, tmp_path / "m.jsonl")
    argv = ["screen", str(manifest), "--model", str(w.bundle), "--no-record"]
    assert main([*argv, "--out", str(tmp_path / "old"), "--as-of", latest.date().isoformat()]) == 0
    old = json.loads((tmp_path / "old" / "summary.json").read_text())
    assert (old["rows_scored"], old["rows_quarantined"]) == (6, 2)
    # by default the reference is now: these simulated days are months old
    assert main([*argv, "--out", str(tmp_path / "now")]) == 0
    now = json.loads((tmp_path / "now" / "summary.json").read_text())
    if latest < datetime.now(UTC) - timedelta(days=90):
        assert (now["rows_scored"], now["rows_quarantined"]) == (0, 8)
    # ... fixed when the run started: the same run again resumes instead of being refused
    started = json.loads((tmp_path / "now" / "run.json").read_text())["as_of"]
    assert main([*argv, "--out", str(tmp_path / "now")]) == 0
    assert json.loads((tmp_path / "now" / "run.json").read_text())["as_of"] == started
    try:
        code = main([*argv, "--out", str(tmp_path / "bad"), "--as-of", "last tuesday"])
    except SystemExit as exc:  # argparse's refusal
        code = exc.code  # type: ignore[assignment]
    assert code == 2
