"""Every command that uses a key refuses the development keys in production, by one check
(the settings classes of ``serving``): one ``error:`` line naming the variable, exit status 2,
before it reads or writes anything."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from data_contracts import DECLARATION_SCHEMA
from parcelscreen._env_keys import keys_from_env
from parcelscreen.cli import main
from serving import DEV_PSEUDONYMISATION_KEY, DEV_SECRET_KEY, KeySettings

BOTH = "PARCELSCREEN_SECRET_KEY and PARCELSCREEN_PSEUDONYMISATION_KEY"
OWN_PSEUDONYMISATION = {"PARCELSCREEN_PSEUDONYMISATION_KEY": "a-real-pseudonymisation-key"}

# (command line, keys set, the variables the error names). Placeholders: {tmp} a fresh
# folder, {file} a plain file in it, {parquet} an empty Parquet file of declarations.
CASES = [
    # train: its one key, the pseudonymisation key
    (
        ["train", "--data", "{tmp}", "--registry", "{tmp}/reg"],
        {},
        "PARCELSCREEN_PSEUDONYMISATION_KEY",
    ),
    # screen: tokens and random-control draws, both keys
    (["screen", "{file}", "--out", "{tmp}/out", "--registry", "{tmp}/reg"], {}, BOTH),
    # screen: the secret alone left at its development key
    (
        ["screen", "{file}", "--out", "{tmp}/out", "--registry", "{tmp}/reg"],
        OWN_PSEUDONYMISATION,
        "PARCELSCREEN_SECRET_KEY",
    ),
    # serve
    (["serve"], {}, BOTH),
    # history load: pseudonymises the declarations into the service's history
    (["history", "load", "{parquet}"], {}, BOTH),
    # audit input-hash: keyed hashes under the pseudonymisation key
    (["audit", "input-hash", "{file}"], {}, BOTH),
    # keys create: API keys are HMACs under the secret
    (["keys", "create", "--role", "officer"], OWN_PSEUDONYMISATION, "PARCELSCREEN_SECRET_KEY"),
]


@pytest.mark.parametrize(("argv", "keys", "says"), CASES)
def test_production_refuses_the_development_keys(
    argv: list[str],
    keys: dict[str, str],
    says: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "file.jsonl").write_text("{}\n", encoding="utf-8")
    pq.write_table(DECLARATION_SCHEMA.empty_table(), tmp_path / "decls.parquet")
    places = {
        "tmp": str(tmp_path),
        "file": str(tmp_path / "file.jsonl"),
        "parquet": str(tmp_path / "decls.parquet"),
    }
    monkeypatch.setenv("PARCELSCREEN_ENVIRONMENT", "production")
    monkeypatch.setenv("PARCELSCREEN_DATA_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("PARCELSCREEN_REGISTRY", str(tmp_path / "reg"))
    for name in ("PARCELSCREEN_SECRET_KEY", "PARCELSCREEN_PSEUDONYMISATION_KEY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in keys.items():
        monkeypatch.setenv(name, value)
    assert main([part.format(**places) for part in argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert f"{says} must be set outside development" in err
    assert not (tmp_path / "state").exists() and not (tmp_path / "reg").exists()
    assert not (tmp_path / "out").exists()


def test_development_notes_the_development_keys(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in (
        "PARCELSCREEN_ENVIRONMENT",
        "PARCELSCREEN_SECRET_KEY",
        "PARCELSCREEN_PSEUDONYMISATION_KEY",
    ):
        monkeypatch.delenv(name, raising=False)
    keys = keys_from_env(KeySettings)
    assert (keys.secret_key, keys.pseudonymisation_key) == (
        DEV_SECRET_KEY,
        DEV_PSEUDONYMISATION_KEY,
    )
    assert capsys.readouterr().err == f"note: {BOTH} unset; using the development keys\n"
    monkeypatch.setenv("PARCELSCREEN_SECRET_KEY", "a-real-secret-of-some-length")
    monkeypatch.setenv("PARCELSCREEN_PSEUDONYMISATION_KEY", "a-real-pseudonymisation-key")
    assert keys_from_env(KeySettings).secret_key == "a-real-secret-of-some-length"
    assert capsys.readouterr().err == ""
