"""Settings (env prefix, refusing default keys) and the keys and models commands."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from pydantic import ValidationError

import serving
from parcelscreen import _keys_cmd, _models_cmd
from screening import ModelRegistry
from serving import DEV_PSEUDONYMISATION_KEY, DecisionLog, Settings
from tests.conftest import Trained


def test_all_lists_the_public_names() -> None:
    public = {n for n in dir(serving) if not n.startswith("_")} - {"annotations"}
    public = {n for n in public if type(getattr(serving, n)).__name__ != "module"}
    assert sorted(serving.__all__) == sorted(public)


def test_development_defaults() -> None:
    settings = Settings()
    assert settings.pseudonymisation_key == DEV_PSEUDONYMISATION_KEY
    assert settings.host == "127.0.0.1" and settings.history_backend == "sqlite"


@pytest.mark.parametrize(
    "env",
    [
        {},  # both keys default
        {"PARCELSCREEN_SECRET_KEY": "a-real-secret-of-some-length"},  # pseudonymisation default
        {"PARCELSCREEN_PSEUDONYMISATION_KEY": "a-real-pseudonymisation-key"},  # secret default
    ],
)
def test_production_refuses_default_keys(monkeypatch: pytest.MonkeyPatch,
                                         env: dict[str, str]) -> None:  # fmt: skip
    monkeypatch.setenv("PARCELSCREEN_ENVIRONMENT", "production")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match="must be set outside development"):
        Settings()


def test_production_with_keys_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARCELSCREEN_ENVIRONMENT", "production")
    monkeypatch.setenv("PARCELSCREEN_SECRET_KEY", "a-real-secret-of-some-length")
    monkeypatch.setenv("PARCELSCREEN_PSEUDONYMISATION_KEY", "a-real-pseudonymisation-key")
    monkeypatch.setenv("PARCELSCREEN_MAX_BATCH", "7")
    assert Settings().max_batch == 7


def test_keys_create_prints_once_and_revoke(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PARCELSCREEN_DATA_DIR", str(tmp_path))
    args = argparse.Namespace(keys_command="create", role="officer", name="desk 4")
    assert _keys_cmd.run(args) == 0
    created = json.loads(capsys.readouterr().out)
    assert created["key"].startswith(f"ps_{created['key_id']}_")
    assert created["key"].encode() not in (tmp_path / "state.sqlite").read_bytes()
    revoke = argparse.Namespace(keys_command="revoke", key_id=created["key_id"])
    assert _keys_cmd.run(revoke) == 0
    assert _keys_cmd.run(revoke) == 1  # already revoked


def test_models_promote_sets_champion_and_logs(
    trained: Trained, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    shutil.copytree(trained.registry, tmp_path / "registry")
    registry = ModelRegistry(tmp_path / "registry")
    other = registry.publish(registry.path("champion"), version="promote-2")
    registry.set_alias("challenger", other)
    monkeypatch.setenv("PARCELSCREEN_DATA_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("PARCELSCREEN_REGISTRY", str(tmp_path / "registry"))
    assert _models_cmd.run(argparse.Namespace(models_command="promote", ref="challenger")) == 0
    assert registry.resolve("champion") == other
    (record,) = DecisionLog(tmp_path / "state" / "audit.sqlite").records("promote")
    assert record["model_version"] == other
    assert _models_cmd.run(argparse.Namespace(models_command="promote", ref="nope-1")) == 1
