"""Settings (env prefix, refusing default keys) and the keys and models commands."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

import serving
from parcelscreen import _keys_cmd, _models_cmd
from screening import ModelRegistry
from serving import (
    DEV_PSEUDONYMISATION_KEY,
    DEV_SECRET_KEY,
    DecisionLog,
    Settings,
    SettingsError,
)
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
def test_production_refuses_default_keys(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str]
) -> None:
    monkeypatch.setenv("PARCELSCREEN_ENVIRONMENT", "production")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match="must be set outside development"):
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
    (record,) = DecisionLog(tmp_path / "state" / "state.sqlite").records("promote")
    assert record["model_version"] == other
    assert _models_cmd.run(argparse.Namespace(models_command="promote", ref="nope-1")) == 1


def test_settings_errors_name_the_variable_never_the_value(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from parcelscreen.cli import main

    monkeypatch.setenv("PARCELSCREEN_PSEUDONYMISATION_KEY", "short-secret")  # under 16
    with pytest.raises(SettingsError) as caught:
        Settings()
    assert "PARCELSCREEN_PSEUDONYMISATION_KEY: String should have at least 16" in str(caught.value)
    assert "short-secret" not in str(caught.value)
    assert caught.value.__suppress_context__  # pydantic's error, which has it, is not shown
    monkeypatch.setenv("PARCELSCREEN_PSEUDONYMISATION_KEY", "a-real-pseudonymisation-key")
    monkeypatch.setenv("PARCELSCREEN_ENVIRONMENT", "production")
    monkeypatch.setenv("PARCELSCREEN_SECRET_KEY", DEV_SECRET_KEY)
    for command in (["serve"], ["audit", "verify"], ["state", "prune", "--dry-run"]):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert "PARCELSCREEN_SECRET_KEY must be set outside development" in err
        assert "a-real-pseudonymisation-key" not in err and DEV_SECRET_KEY not in err


def test_default_keys_listen_on_loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARCELSCREEN_HOST", "0.0.0.0")
    with pytest.raises(SettingsError, match="PARCELSCREEN_HOST=0.0.0.0 is not a loopback"):
        Settings()
    monkeypatch.setenv("PARCELSCREEN_SECRET_KEY", "a-real-secret-of-some-length")
    monkeypatch.setenv("PARCELSCREEN_PSEUDONYMISATION_KEY", "a-real-pseudonymisation-key")
    assert Settings().host == "0.0.0.0"  # own keys: any interface, development or not
    monkeypatch.setenv("PARCELSCREEN_HOST", "::1")
    monkeypatch.delenv("PARCELSCREEN_SECRET_KEY")
    assert Settings().host == "::1"
