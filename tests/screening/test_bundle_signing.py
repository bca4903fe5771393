"""Ed25519-signed manifests: signed bundles load where their key is trusted; unsigned, altered
or otherwise signed ones are refused; without trusted keys unsigned bundles load (development).
Also the commands that make keys and sign (``parcelscreen models keygen``, ``models sign``,
``train``) and ``models promote`` under trusted keys."""

from __future__ import annotations

import base64
import json
import shutil
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from parcelscreen.cli import main
from screening import (
    SIGNATURE_NAME,
    BundleError,
    Ed25519PublicKey,
    LoadedModel,
    ModelRegistry,
    generate_key_pair,
    key_id,
    load_private_key,
    load_public_keys,
    sign_bundle,
    verify_bundle,
    write_manifest,
)
from serving import Settings, SettingsError
from tests.conftest import Trained
from tests.screening.test_registry import make_bundle


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, Path]:
    """Two key pairs: ours (trusted) and theirs (a key nobody trusts)."""
    folder = tmp_path / "keys"
    folder.mkdir()
    for name in ("ours", "theirs"):
        generate_key_pair(folder / f"{name}.key", folder / f"{name}.pub")
    return {name: folder / name for name in ("ours", "theirs")}


def _public(keys: dict[str, Path], name: str = "ours") -> tuple[Ed25519PublicKey, ...]:
    return load_public_keys([keys[name].with_suffix(".pub")])


def _signed(tmp_path: Path, keys: dict[str, Path], name: str = "ours") -> Path:
    bundle = make_bundle(tmp_path / "bundle")
    sign_bundle(bundle, load_private_key(keys[name].with_suffix(".key")))
    return bundle


def test_key_pair_files(keys: dict[str, Path]) -> None:
    private = keys["ours"].with_suffix(".key")
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert private.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    public = keys["ours"].with_suffix(".pub").read_text()
    assert public.startswith("-----BEGIN PUBLIC KEY-----")
    assert key_id(load_private_key(private).public_key()) == key_id(_public(keys)[0])
    with pytest.raises(FileExistsError):  # a key file is never overwritten
        generate_key_pair(private, keys["ours"].with_suffix(".other"))


def test_signed_bundle_loads_where_its_key_is_trusted(
    tmp_path: Path, keys: dict[str, Path]
) -> None:
    bundle = _signed(tmp_path, keys)
    trusted = _public(keys) + _public(keys, "theirs")
    assert verify_bundle(bundle, trusted)["files"]
    signature = json.loads((bundle / SIGNATURE_NAME).read_text())
    assert signature["algorithm"] == "ed25519"
    assert signature["key_id"] == key_id(_public(keys)[0])


def test_without_trusted_keys_unsigned_bundles_load(tmp_path: Path) -> None:
    assert verify_bundle(make_bundle(tmp_path / "bundle"))  # the development default


def _flip_signature(bundle: Path, _keys: object = None) -> None:
    document = json.loads((bundle / SIGNATURE_NAME).read_text())
    raw = bytearray(base64.b64decode(document["signature"]))
    raw[5] ^= 0x01
    document["signature"] = base64.b64encode(bytes(raw)).decode()
    (bundle / SIGNATURE_NAME).write_text(json.dumps(document))


def _edit_manifest(bundle: Path, _keys: object = None) -> None:
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["created_at"] = "2020-01-01T00:00:00Z"  # every hash still agrees
    (bundle / "manifest.json").write_text(json.dumps(manifest))


def _resign_files(bundle: Path, _keys: object = None) -> None:
    (bundle / "thresholds.json").write_text('{"inspect": 0.0}\n')
    signature = (bundle / SIGNATURE_NAME).read_bytes()
    write_manifest(bundle)  # hashes recomputed: the old signature no longer covers them
    (bundle / SIGNATURE_NAME).write_bytes(signature)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda b, k: (b / SIGNATURE_NAME).unlink(), "manifest.sig is missing"),
        (_flip_signature, "manifest.sig does not match manifest.json"),
        (_edit_manifest, "manifest.sig does not match manifest.json"),
        (_resign_files, "manifest.sig does not match manifest.json"),
        (
            lambda b, k: sign_bundle(b, load_private_key(k["theirs"].with_suffix(".key"))),
            "signed by key '[0-9a-f]{16}', which is not trusted here",
        ),
        (lambda b, k: (b / SIGNATURE_NAME).write_text("{not json"), "manifest.sig is malformed"),
        (
            lambda b, k: (b / SIGNATURE_NAME).write_text(
                '{"algorithm": "rsa", "key_id": "x", "signature": ""}'
            ),
            "uses 'rsa'",
        ),
    ],
    ids=[
        "unsigned",
        "tampered signature",
        "tampered manifest",
        "files changed, rehashed",
        "signed by another key",
        "malformed",
        "another algorithm",
    ],
)
def test_bad_signatures_are_refused(
    tmp_path: Path,
    keys: dict[str, Path],
    change: Callable[[Path, dict[str, Path]], object],
    problem: str,
) -> None:
    bundle = _signed(tmp_path, keys)
    change(bundle, keys)
    with pytest.raises(BundleError, match=problem):
        verify_bundle(bundle, _public(keys))


def test_rehashing_drops_a_stale_signature(tmp_path: Path, keys: dict[str, Path]) -> None:
    bundle = _signed(tmp_path, keys)
    write_manifest(bundle)
    assert not (bundle / SIGNATURE_NAME).exists()


def test_registry_signs_on_publish_and_on_request(tmp_path: Path, keys: dict[str, Path]) -> None:
    registry = ModelRegistry(tmp_path / "registry")
    private = load_private_key(keys["ours"].with_suffix(".key"))
    signed = registry.publish(make_bundle(tmp_path / "b1"), version="v1", signing_key=private)
    unsigned = registry.publish(make_bundle(tmp_path / "b2", marker="2"), version="v2")
    assert registry.load(signed, _public(keys))
    with pytest.raises(BundleError, match="manifest.sig is missing"):
        registry.load(unsigned, _public(keys))
    assert registry.sign(unsigned, private) == unsigned
    assert registry.load(unsigned, _public(keys))


@pytest.mark.parametrize("content", [b"not a key", "RSA"], ids=["garbage", "an RSA key"])
def test_key_files_that_are_not_ed25519_are_refused(tmp_path: Path, content: bytes | str) -> None:
    path = tmp_path / "key.pem"
    if content == "RSA":
        rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        path.write_bytes(
            rsa_key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
    else:
        path.write_bytes(content)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=str(path)):
        load_public_keys([path])
    with pytest.raises(SettingsError, match=f"PARCELSCREEN_TRUSTED_BUNDLE_KEYS: {path}"):
        Settings(trusted_bundle_keys=str(path))


def test_signed_model_loads_and_unsigned_is_refused(
    trained: Trained, tmp_path: Path, keys: dict[str, Path]
) -> None:
    bundle = tmp_path / "bundle"
    shutil.copytree(trained.run.bundle, bundle)
    with pytest.raises(BundleError, match="manifest.sig is missing"):
        LoadedModel.load(bundle, trusted_keys=_public(keys))
    sign_bundle(bundle, load_private_key(keys["ours"].with_suffix(".key")))
    assert LoadedModel.load(bundle, trusted_keys=_public(keys)).spec.names
    with pytest.raises(BundleError, match="not trusted here"):
        LoadedModel.load(bundle, trusted_keys=_public(keys, "theirs"))


# -- commands ------------------------------------------------------------------------------


def test_models_keygen_sign_and_promote(
    trained: Trained,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["models", "keygen", "--out", str(tmp_path / "release")]) == 0
    made = json.loads(capsys.readouterr().out)
    assert made["private_key"] == str(tmp_path / "release.key")
    assert main(["models", "keygen", "--out", str(tmp_path / "release")]) == 1  # no overwrite
    assert "error: cannot write the key pair: " in capsys.readouterr().err
    # the README's `--out keys/release`: the folder is made, private to its owner
    assert main(["models", "keygen", "--out", str(tmp_path / "keys" / "release")]) == 0
    capsys.readouterr()
    assert stat.S_IMODE((tmp_path / "keys").stat().st_mode) == 0o700
    assert (tmp_path / "keys" / "release.pub").is_file()
    shutil.copytree(trained.registry, tmp_path / "registry")
    registry = ModelRegistry(tmp_path / "registry")
    candidate = registry.publish(registry.path("champion"), version="candidate-2")
    monkeypatch.setenv("PARCELSCREEN_REGISTRY", str(tmp_path / "registry"))
    monkeypatch.setenv("PARCELSCREEN_DATA_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("PARCELSCREEN_TRUSTED_BUNDLE_KEYS", made["public_key"])
    capsys.readouterr()
    assert main(["models", "promote", candidate]) == 1  # unsigned: refused
    assert "manifest.sig is missing" in capsys.readouterr().err
    assert main(["models", "sign", candidate]) == 1  # no signing key configured
    assert "PARCELSCREEN_BUNDLE_SIGNING_KEY is not set" in capsys.readouterr().err
    monkeypatch.setenv("PARCELSCREEN_BUNDLE_SIGNING_KEY", made["private_key"])
    assert main(["models", "sign", candidate]) == 0
    assert json.loads(capsys.readouterr().out) == {"signed": candidate, "key_id": made["key_id"]}
    assert main(["models", "promote", candidate]) == 0
    assert registry.resolve("champion") == candidate


def test_train_refuses_a_bad_signing_key_before_training(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "bad.key").write_text("not a key")
    monkeypatch.setenv("PARCELSCREEN_BUNDLE_SIGNING_KEY", str(tmp_path / "bad.key"))
    assert (
        main(["train", "--data", str(tmp_path / "data"), "--registry", str(tmp_path / "registry")])
        == 2
    )
    err = capsys.readouterr().err
    assert f"PARCELSCREEN_BUNDLE_SIGNING_KEY: {tmp_path / 'bad.key'}" in err
    assert not (tmp_path / "registry").exists()


@pytest.mark.slow
def test_train_signs_what_it_publishes(
    sim_data: Path,
    tmp_path: Path,
    keys: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("PARCELSCREEN_BUNDLE_SIGNING_KEY", str(keys["ours"].with_suffix(".key")))
    assert (
        main(
            [
                "train",
                "--data",
                str(sim_data),
                "--registry",
                str(tmp_path / "registry"),
                "--skip-validation",
            ]
        )
        == 0
    )
    version = json.loads(capsys.readouterr().out)["version"]
    registry = ModelRegistry(tmp_path / "registry")
    assert registry.resolve("champion") == version
    assert LoadedModel.load(registry.path(version), trusted_keys=_public(keys)).version == version
