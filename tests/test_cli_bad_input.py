"""Every command answers bad input with one ``error: ...`` line on stderr and exit status 2,
never a traceback; and the simulator's CSV is the contract's, which ``validate`` and
``screen`` read."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from parcelscreen.cli import main
from screening import ModelRegistry
from tests.conftest import Trained
from training.simulation import SimulationConfig, simulate, write_simulation


@pytest.fixture(scope="module")
def short(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Ten days of simulated data, in Parquet and in the contract's CSV form."""
    out = tmp_path_factory.mktemp("short")
    write_simulation(simulate(SimulationConfig(parcels=1_500, days=10)), out, csv=True)
    return out


# (command line, settings, what stderr must say besides "error:"; None: the message is another
# command's own). Placeholders: {tmp} a fresh folder, {file} a plain file in it, {short} the
# ten-day data set, {csv} its declarations as CSV.
CASES = [
    # simulate: counts and shares outside the simulator's ranges, as reported in issue 15
    (["simulate", "--parcels", "0"], {}, "argument --parcels: parcels must be >= 100, got 0"),
    # simulate: no posting days at all
    (["simulate", "--days", "0"], {}, "argument --days: days must be >= 1, got 0"),
    # simulate: a prevalence over the simulator's 5%
    (["simulate", "--prevalence", "2"], {}, "argument --prevalence: prevalence must be in (0, "),
    # simulate: an inspection rate over 1
    (["simulate", "--inspection-rate", "1.5"], {}, "inspection_rate must be in (0, 1], got 1.5"),
    # simulate: a share that is not a number
    (["simulate", "--random-share", "nan"], {}, "random_share must be in (0, 1], got nan"),
    # simulate: a negative seed (numpy refused it deep inside)
    (["simulate", "--seed", "-1"], {}, "argument --seed: expected a whole number of at least 0"),
    # simulate: an output folder that is a file
    (["simulate", "--out", "{file}"], {}, "argument --out: expected a folder to write to"),
    # run: simulate's checks hold for its --parcels too
    (["run", "--parcels", "0", "--no-serve", "--workdir", "{tmp}/w"], {}, "argument --parcels"),
    # run: a port out of range
    (
        ["run", "--parcels", "100", "--port", "99999", "--no-serve", "--workdir", "{tmp}/w"],
        {},
        "argument --port: expected a whole number from 0 to 65535, got '99999'",
    ),
    # validate: a file that is not there, a folder
    (["validate", "{tmp}/missing.csv"], {}, "argument file: expected an existing file"),
    (["validate", "{tmp}"], {}, "argument file: expected a file, not a folder"),
    # train: ten days of data: the label-delay gaps shrink to the span, and the training
    # period then holds too few seizures to train on (one line says how many are needed)
    (
        ["train", "--data", "{short}", "--registry", "{tmp}/reg", "--skip-validation"],
        {},
        "known seizures; at least 10 are needed to train",
    ),
    # train: a negative label-delay gap
    (
        ["train", "--data", "{short}", "--gap-days", "-1"],
        {},
        "argument --gap-days: expected a number of at least 0, got '-1'",
    ),
    # train: no data folder
    (["train", "--data", "{tmp}/none"], {}, "argument --data: expected an existing folder"),
    # train: --workers without --dask was ignored without a word (operator review)
    (
        ["train", "--data", "{short}", "--workers", "3"],
        {},
        "--workers sets the workers of the local Dask cluster: use it with --dask",
    ),
    # models: a registry setting that names a file
    (["models", "list"], {"PARCELSCREEN_REGISTRY": "{file}"}, None),
    # models: promote without saying what
    (["models", "promote"], {}, "the following arguments are required: ref"),
    # history: a CSV given where Parquet is read
    (["history", "load", "{csv}"], {}, "argument declarations: expected a Parquet file"),
    # history: outcomes given as declarations
    (["history", "load", "{short}/outcomes.parquet"], {}, "lacks columns of the declaration"),
    # history: a time that is not ISO 8601
    (
        ["history", "load", "{short}/declarations.parquet", "--until", "yesterday"],
        {},
        "argument --until: expected an ISO 8601 time",
    ),
    # history: a retention of no days
    (["history", "prune", "--days", "0"], {}, "argument --days: expected a number above 0"),
    # screen: a manifest that is not there
    (["screen", "{tmp}/missing.csv", "--out", "{tmp}/out"], {}, "argument manifest: expected an"),
    # screen: a capacity over 100%
    (
        ["screen", "{csv}", "--out", "{tmp}/out", "--capacity", "200%"],
        {},
        "argument --capacity: capacity must be a share like 2%",
    ),
    # screen: chunks of no rows
    (
        ["screen", "{csv}", "--out", "{tmp}/out", "--chunk-rows", "0"],
        {},
        "argument --chunk-rows: expected a whole number of at least 1, got '0'",
    ),
    # screen: a random share over 1
    (
        ["screen", "{csv}", "--out", "{tmp}/out", "--random-share", "1.5"],
        {},
        "argument --random-share: expected a number in [0, 1], got '1.5'",
    ),
    # screen: a bundle folder that is not there
    (
        ["screen", "{csv}", "--out", "{tmp}/out", "--model", "{tmp}/none"],
        {},
        "argument --model: expected an existing folder",
    ),
    # keys: a role that does not exist
    (["keys", "create", "--role", "king"], {}, "argument --role: invalid choice: 'king'"),
    # keys: a data folder setting that names a file
    (["keys", "list"], {"PARCELSCREEN_DATA_DIR": "{file}"}, None),
    # users: a password under 10 characters (stdin holds "short")
    (["users", "add", "otto", "--password-stdin"], {}, "at least 10 characters"),
    # users: an empty user name
    (["users", "add", "", "--password-stdin"], {}, "the user name must be"),
    # serve: see INSTALLED (a server that starts must not hang the test)
    # audit: a retention of no days
    (["audit", "prune", "--days", "0"], {}, "argument --days: expected a number above 0, got '0'"),
    # audit: declarations that are not there
    (["audit", "input-hash", "{tmp}/missing.jsonl"], {}, "argument declarations: expected an"),
    # state: a retention that is not a number
    (["state", "prune", "--days", "soon"], {}, "argument --days: invalid float value: 'soon'"),
    # state: a retention of no days from the settings
    (["state", "prune"], {"PARCELSCREEN_PARCEL_RETENTION_DAYS": "0"}, None),
    # history: a retention of no days from the settings
    (["history", "prune"], {"PARCELSCREEN_HISTORY_RETENTION_DAYS": "0"}, None),
    # state check: no record database where the settings point
    (["state", "check"], {}, "no record database at"),
    # db upgrade: an older file that is not there
    (["db", "upgrade", "{tmp}/audit.sqlite"], {}, "no such file"),
    # db upgrade: a PostgreSQL URL that names no database (libpq would pick one by default)
    (
        ["db", "upgrade"],
        {"PARCELSCREEN_DATABASE_URL": "postgresql://postgres@127.0.0.1:5432"},
        "names no database",
    ),
    # state check: a PostgreSQL server that is not there (libpq's message on one line)
    (
        ["state", "check"],
        {"PARCELSCREEN_DATABASE_URL": "postgresql://postgres@127.0.0.1:9/test"},
        "cannot be reached",
    ),
    # outcomes import: a file that is not there
    (["outcomes", "import", "{tmp}/missing.jsonl"], {}, "no file"),
    # outcomes: an export folder that is a file
    (["outcomes", "export", "--out", "{file}"], {}, "argument --out: expected a folder to write"),
    # no command at all
    ([], {}, "the following arguments are required: command"),
]


def _fill(text: str, places: dict[str, str]) -> str:
    for name, value in places.items():
        text = text.replace("{" + name + "}", value)
    return text


@pytest.mark.parametrize(
    ("argv", "env", "says"), CASES, ids=[" ".join(c[0]) or "(none)" for c in CASES]
)
def test_bad_input_is_one_error_line_and_status_2(
    argv: list[str],
    env: dict[str, str],
    says: str | None,
    short: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "file.txt").write_text("not a folder\n")
    places = {
        "tmp": str(tmp_path),
        "file": str(tmp_path / "file.txt"),
        "short": str(short),
        "csv": str(short / "declarations.csv"),
    }
    monkeypatch.setenv("PARCELSCREEN_DATA_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("PARCELSCREEN_REGISTRY", str(tmp_path / "registry"))
    for name, value in env.items():
        monkeypatch.setenv(name, _fill(value, places))
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    code: int | str | None
    try:
        code = main([_fill(a, places) for a in argv])
    except SystemExit as exc:  # argparse's refusals
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2, err
    assert "error: " in err and "Traceback" not in err
    if says is not None:
        assert says in err
    # the error is one line, the last (libpq's own messages are several)
    assert err[err.index("error: ") :].count("\n") == 1, err


# (command line, what stderr must say) run as a user runs them, in a process of their own
INSTALLED = [
    # the reported tracebacks: simulate's bad count (with a short period), training on 10 days
    (["simulate", "--days", "5", "--parcels", "0"], "argument --parcels: parcels must be >= 100"),
    (
        ["train", "--data", "{short}", "--registry", "{tmp}/reg", "--skip-validation"],
        "at least 10 are needed to train",
    ),
    # serve: a port out of range (the old code served on 70000 - 65536)
    (["serve", "--port", "70000"], "argument --port: expected a whole number from 0 to 65535"),
    # serve: fewer than one worker process
    (["serve", "--workers", "-1", "--port", "0"], "argument --workers: expected a whole number"),
]


@pytest.mark.parametrize(("argv", "says"), INSTALLED, ids=[" ".join(c[0]) for c in INSTALLED])
def test_the_installed_command_prints_one_error_line(
    argv: list[str], says: str, short: Path, tmp_path: Path
) -> None:
    places = {"tmp": str(tmp_path), "short": str(short)}
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARCELSCREEN_")}
    env["PARCELSCREEN_DATA_DIR"] = str(tmp_path / "state")
    done = subprocess.run(
        [sys.executable, "-m", "parcelscreen", *(_fill(a, places) for a in argv)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert "Traceback" not in done.stderr and says in done.stderr
    assert len([line for line in done.stderr.splitlines() if "error:" in line]) == 1, done.stderr


def test_a_bug_deep_inside_a_library_keeps_its_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np

    from parcelscreen import _simulate_cmd

    def broken(args: object) -> int:
        np.random.default_rng(0).uniform(10, 5)  # numpy's "high - low < 0", as reported
        return 0

    monkeypatch.setattr(_simulate_cmd, "run", broken)
    with pytest.raises(ValueError, match="high - low < 0"):
        main(["simulate"])


def test_simulate_takes_a_period_shorter_than_ten_days(tmp_path: Path) -> None:
    assert main(["simulate", "--days", "5", "--parcels", "500", "--out", str(tmp_path)]) == 0
    assert pq.read_metadata(tmp_path / "declarations.parquet").num_rows == 500


@pytest.mark.slow
def test_simulated_csv_goes_through_validate_and_screen(
    trained: Trained, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    argv = ["simulate", "--out", str(data), "--parcels", "1500", "--days", "10", "--csv"]
    assert main(argv) == 0
    assert main(["validate", str(data / "declarations.csv"), "--no-warnings"]) == 0
    assert main(["validate", "--kind", "outcome", str(data / "outcomes.csv")]) == 0
    monkeypatch.setenv("PARCELSCREEN_PSEUDONYMISATION_KEY", trained.key)
    bundle = str(ModelRegistry(trained.registry).path("champion"))
    scores = {}
    for form in ("csv", "parquet"):
        out = tmp_path / form
        argv = [
            "screen",
            str(data / f"declarations.{form}"),
            "--out",
            str(out),
            "--model",
            bundle,
            "--as-of",
            "2026-01-20",
            "--no-record",
        ]  # the simulated days, 2026-01-05 on
        assert main(argv) == 0
        summary = json.loads((out / "summary.json").read_text())
        assert summary["reconciled"], summary
        assert (summary["rows_scored"], summary["rows_quarantined"]) == (1_500, 0)
        results = pq.read_table(out / "results.parquet").sort_by("item_id")
        scores[form] = results.select(["item_id", "probability"])
    assert scores["csv"].equals(scores["parquet"])  # the two forms are one data set


def test_ctrl_c_is_one_line_and_status_130(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import training.simulation

    def interrupted(*_args: object, **_kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(training.simulation, "simulate", interrupted)
    code = main(["simulate", "--out", str(tmp_path / "data"), "--parcels", "1000"])
    err = capsys.readouterr().err
    assert code == 130 and err.strip().endswith("interrupted") and "Traceback" not in err
