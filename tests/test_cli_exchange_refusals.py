"""``exchange`` refusals an operator review asked for: custody init checks every input before
it makes a folder; an existing custody or output folder is named; an epoch ending in the past
is refused; an export of no seizure writes nothing (exit 1); match says how many partner
indicators were not yet known when its parcels were posted."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from parcelscreen.cli import main
from tests.test_cli_exchange import NOW, _as, _declarations, _outcomes, agencies  # noqa: F401


def test_custody_init_checks_everything_before_it_writes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "custody"
    init = ["exchange", "custody", "init", str(folder), "--requesters", "nl=10"]
    assert main([*init, "--custodians", "c1,c2,c1"]) == 2
    assert "c1 named more than once" in capsys.readouterr().err
    assert not folder.exists()  # no half-made folder
    assert main([*init, "--custodians", "c1,../c2"]) == 2
    assert "not a plain folder name" in capsys.readouterr().err and not folder.exists()
    assert main(init) == 0
    capsys.readouterr()
    assert main(init) == 2
    err = capsys.readouterr().err
    assert f"custody folder {folder} exists" in err and "Errno" not in err


def test_epoch_past_and_export_refusals(
    agencies: dict[str, Path],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    tmp = agencies["tmp"]
    past = (NOW - timedelta(days=1)).date().isoformat()
    assert (
        main(["exchange", "custody", "epoch", str(tmp / "custody"), "OLD", "--not-after", past])
        == 2
    )
    assert "the day is past" in capsys.readouterr().err

    items = _declarations(tmp / "nl_decl.parquet", 4, NOW - timedelta(days=3))
    _outcomes(tmp / "nl_out.parquet", items, NOW - timedelta(days=2))
    nl = _as("nl", tmp, monkeypatch)
    export = [
        "exchange",
        "export",
        str(tmp / "nl_decl.parquet"),
        "--outcomes",
        str(tmp / "nl_out.parquet"),
        "--to",
        "be",
        "--out",
        str(tmp / "bundle"),
        *nl,
    ]
    # no seizure since then: exit 1, a message, nothing written
    assert main([*export, "--since", (NOW + timedelta(days=1)).date().isoformat()]) == 1
    err = capsys.readouterr().err
    assert "no seizure recorded since" in err and "nothing to export" in err
    assert not (tmp / "bundle").exists()
    since = ["--since", (NOW - timedelta(days=7)).date().isoformat()]
    assert main([*export, *since]) == 0
    capsys.readouterr()
    assert main([*export, *since]) == 2
    err = capsys.readouterr().err
    assert f"output folder {tmp / 'bundle'} exists" in err and "Errno" not in err
    assert main([*export, *since, "--overwrite"]) == 0
    assert json.loads(capsys.readouterr().out)["indicators"] == 4

    # BE imports it now: parcels posted three days ago were posted before it was known
    be = _as("be", tmp, monkeypatch)
    assert main(["exchange", "import", str(tmp / "bundle"), *be]) == 0
    capsys.readouterr()
    assert main(["exchange", "match", str(tmp / "nl_decl.parquet"), *be]) == 0
    summary = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert summary["matched"] == 0
    assert summary["partner_indicators"] == 4 and summary["not_yet_known"] == 4
    assert "point in time" in summary["note"]
