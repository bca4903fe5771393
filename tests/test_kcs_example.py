"""The README's worked example on data this project did not write, end to end on a slice:
import -> validate -> train (label "Critical Fraud") -> screen the validation quarter ->
serve -> the officer view lists the screened declarations.

The data (Korea Customs Service synthetic import declarations) lives outside the repository,
at ../shared/datasets/kcs-import-declarations; the test is skipped where it is absent.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pyarrow.parquet as pq
import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "datasets" / "kcs-import-declarations"
MAPPING = ROOT / "examples" / "kcs" / "mapping.toml"
PASSWORD = "correct horse battery"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (DATA / "train.csv").is_file() or not (DATA / "valid.csv").is_file(),
        reason=f"the KCS data set is not at {DATA} (it is shared beside the "
        "repository, not part of it)",
    ),
]


def _slice(source: Path, out: Path, every: int, limit: int) -> Path:
    """Every ``every``-th row of a CSV (up to ``limit``), header kept: the year, thinned."""
    lines = source.read_text(encoding="utf-8").splitlines(keepends=True)
    out.write_text(lines[0] + "".join(lines[1::every][:limit]), encoding="utf-8")
    return out


def _cli(args: Sequence[str], env: dict[str, str], stdin: str | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "parcelscreen", *args],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        input=stdin,
        check=False,
        cwd=ROOT,
    )
    assert done.returncode == 0, f"{args[0]}: {done.stderr[-3000:]}"
    return done.stdout


def test_kcs_import_validate_train_screen_serve(tmp_path: Path) -> None:
    from serving import Settings
    from tests.browser.officer_setup import sign_in
    from tests.serving.conftest import start_server

    serving = tmp_path / "serving"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARCELSCREEN_")} | {
        "PARCELSCREEN_DATA_DIR": str(serving),
        "PARCELSCREEN_POSTED_DAYS_BACK": "120",
    }
    train_csv = _slice(DATA / "train.csv", tmp_path / "train.csv", every=3, limit=13_000)
    valid_csv = _slice(DATA / "valid.csv", tmp_path / "valid.csv", every=4, limit=2_000)
    imported = tmp_path / "kcs"
    check = json.loads(_cli(["import", str(train_csv), "--mapping", str(MAPPING), "--check"], env))
    assert check["rows"] == 200 and check["imported"] > 100
    _cli(
        ["import", str(train_csv), "--mapping", str(MAPPING), "--out", str(imported / "train")], env
    )
    report = json.loads((imported / "train" / "import-report.json").read_text())
    rows = len(train_csv.read_text(encoding="utf-8").splitlines()) - 1
    assert report["rows"] == rows > 12_000 and report["imported"] + report["quarantined"] == rows
    # cargo over the contract's 1,000 kg is quarantined, named by column and reason
    assert any(r["column"] == "Net Mass" and "1000" in r["reason"] for r in report["reasons"])
    assert report["codes"]["transport"]["untranslated"] == {}
    _cli(["validate", str(imported / "train" / "declarations.parquet"), "--no-warnings"], env)
    _cli(["validate", str(imported / "train" / "outcomes.parquet"), "--kind", "outcome"], env)

    registry = tmp_path / "registry"
    _cli(["train", "--data", str(imported / "train"), "--registry", str(registry)], env)
    bundle = next((registry / "versions").iterdir())
    card = (bundle / "model_card.md").read_text()
    assert "**Label: Critical Fraud" in card and "not a drug seizure" in card
    assert "no propensity weights" in card and "Random control" not in card
    metrics = json.loads((bundle / "metrics.json").read_text())
    assert "random_control" not in metrics and "inspected_ipw" not in metrics
    assert "no propensity weights" in metrics["inspected_only"]["model"]["basis"]

    _cli(
        ["import", str(valid_csv), "--mapping", str(MAPPING), "--out", str(imported / "valid")], env
    )
    _cli(
        [
            "history",
            "load",
            str(imported / "train" / "declarations.parquet"),
            "--outcomes",
            str(imported / "train" / "outcomes.parquet"),
        ],
        env,
    )
    _cli(["users", "add", "olga", "--role", "officer", "--password-stdin"], env, PASSWORD + "\n")
    summary = json.loads(
        _cli(
            [
                "screen",
                str(imported / "valid" / "declarations.parquet"),
                "--out",
                str(tmp_path / "screened"),
                "--registry",
                str(registry),
                "--as-of",
                "2021-03-31",
                "--capacity",
                "2%",
            ],
            env,
        )
    )
    valid_rows = pq.read_metadata(imported / "valid" / "declarations.parquet").num_rows
    quarantined = pq.read_table(tmp_path / "screened" / "quarantine.parquet").to_pylist()
    assert summary["rows_read"] == summary["rows_scored"] == valid_rows, quarantined[:5]
    assert summary["inspection_list"] > 0

    settings = Settings(data_dir=serving, registry=registry, reload_seconds=0, posted_days_back=120)
    listed = pq.read_table(tmp_path / "screened" / "inspection_list.parquet")
    for server in start_server(settings):
        client, signed_in = sign_in(server.url, "olga", PASSWORD)
        try:
            assert signed_in.status_code in (200, 303)
            item = listed.column("item_id")[0].as_py()
            page = client.get("/officer/find", params={"q": item}, follow_redirects=True)
            assert page.status_code == 200 and item in page.text  # the parcel's own page
            assert "/officer/parcels/" in str(page.url)
        finally:
            client.close()
