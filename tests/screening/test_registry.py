"""Model bundles on disk and the file-based registry."""

from __future__ import annotations

import json
import multiprocessing
import re
from pathlib import Path
from typing import Any

import pytest

from screening._errors import BundleError, RegistryError, ScreeningError
from screening.bundles import ModelRegistry, verify_bundle, write_manifest

BUNDLE_FILES = {
    "model.onnx": b"\x08\x07onnx-bytes",
    "feature_spec.json": b'{"features": ["weight_kg", "value_eur"]}\n',
    "thresholds.json": b'{"inspect": 0.8}\n',
    "model_card.md": b"# Model card\n",
    "reports/metrics.json": b'{"precision@1%": 0.3}\n',
}


def make_bundle(directory: Path, marker: str = "") -> Path:
    for name, content in BUNDLE_FILES.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content + marker.encode())
    write_manifest(directory)
    return directory


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    return make_bundle(tmp_path / "bundle")


@pytest.fixture
def registry(tmp_path: Path) -> ModelRegistry:
    return ModelRegistry(tmp_path / "registry")


# -- bundle -------------------------------------------------------------------------------


def test_manifest_lists_every_file(bundle: Path) -> None:
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["format"] == 1
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", manifest["created_at"])
    assert set(manifest["files"]) == set(BUNDLE_FILES)
    assert verify_bundle(bundle) == manifest


def flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[0] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        # one byte changed in the model
        (lambda b: flip_byte(b / "model.onnx"), r"model\.onnx: sha256 \w+\.\.\. differs"),
        # a listed file deleted
        (lambda b: (b / "thresholds.json").unlink(), "thresholds.json: listed in the manifest"),
        # a file nobody listed, even in a subdirectory
        (lambda b: (b / "reports" / "extra.txt").write_text("x"), "reports/extra.txt: present"),
        # no manifest at all
        (lambda b: (b / "manifest.json").unlink(), "manifest.json is missing"),
        # manifest cut short
        (lambda b: (b / "manifest.json").write_text('{"format": 1, "fil'), "unreadable"),
        # manifest from an unknown format
        (lambda b: (b / "manifest.json").write_text('{"format": 2, "files": {}}'), "format 2"),
        # manifest pointing outside the bundle
        (
            lambda b: (b / "manifest.json").write_text(
                json.dumps({"format": 1, "files": {"../x": "0" * 64}})
            ),
            "unsafe path '../x'",
        ),
    ],
)
def test_damaged_bundle_is_refused(bundle: Path, damage: Any, message: Any) -> None:
    damage(bundle)
    with pytest.raises(BundleError, match=message) as info:
        verify_bundle(bundle)
    assert isinstance(info.value, ScreeningError)
    assert info.value.status_code == 500


def test_every_problem_is_named_at_once(bundle: Path) -> None:
    flip_byte(bundle / "model.onnx")
    (bundle / "model_card.md").unlink()
    with pytest.raises(BundleError) as info:
        verify_bundle(bundle)
    assert "model.onnx" in str(info.value) and "model_card.md" in str(info.value)


# -- registry -----------------------------------------------------------------------------


def test_publish_resolve_alias_round_trip(
    registry: ModelRegistry, bundle: Path, tmp_path: Path
) -> None:
    v1 = registry.publish(bundle)
    assert re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{8}", v1)
    v2 = registry.publish(make_bundle(tmp_path / "b2", marker="2"), version="2026.11.2")
    assert registry.versions() == sorted([v1, "2026.11.2"])

    registry.set_alias("champion", v1)
    registry.set_alias("challenger", v2)
    assert registry.resolve("champion") == v1
    assert registry.resolve("challenger") == v2
    assert registry.resolve(v2) == v2
    assert registry.path("champion") == registry.root / "versions" / v1

    loaded = registry.load("champion")
    assert (loaded / "model.onnx").read_bytes() == BUNDLE_FILES["model.onnx"]

    registry.set_alias("champion", v2)  # promote the challenger
    assert registry.aliases() == {"champion": v2, "challenger": v2}
    assert [(h["alias"], h["version"]) for h in registry.history()] == [
        ("champion", v1),
        ("challenger", v2),
        ("champion", v2),
    ]


def test_published_copy_is_independent_of_the_source(registry: ModelRegistry, bundle: Path) -> None:
    version = registry.publish(bundle)
    flip_byte(bundle / "model.onnx")  # the source changes after publishing
    assert registry.load(version).is_dir()


def test_damaged_source_is_not_published(registry: ModelRegistry, bundle: Path) -> None:
    flip_byte(bundle / "model.onnx")
    with pytest.raises(BundleError, match="model.onnx"):
        registry.publish(bundle)
    assert registry.versions() == []


def test_duplicate_version_is_refused(registry: ModelRegistry, bundle: Path) -> None:
    registry.publish(bundle, version="v1")
    with pytest.raises(RegistryError, match="'v1' already exists") as info:
        registry.publish(bundle, version="v1")
    assert info.value.status_code == 409
    assert registry.versions() == ["v1"]
    assert not [p for p in (registry.root / "versions").iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: flip_byte(d / "model.onnx"), "model.onnx: sha256"),  # tampered after publish
        (lambda d: (d / "model_card.md").unlink(), "model_card.md: listed"),  # file lost
        (lambda d: (d / "notes.txt").write_text("hi"), "notes.txt: present"),  # file added
    ],
)
def test_load_refuses_a_bundle_changed_in_the_registry(
    registry: ModelRegistry, bundle: Path, damage: Any, message: Any
) -> None:
    registry.publish(bundle, version="v1")
    registry.set_alias("champion", "v1")
    damage(registry.path("champion"))
    with pytest.raises(BundleError, match=message):
        registry.load("champion")


@pytest.mark.parametrize(
    ("call", "message", "status"),
    [
        (lambda r: r.resolve("champion"), "unknown alias 'champion'", 404),  # never set
        (lambda r: r.resolve("v9"), "no version or alias named 'v9'", 404),  # never published
        (lambda r: r.set_alias("champion", "v9"), "unknown version 'v9'", 404),
        (lambda r: r.set_alias("Champion", "v1"), "lower-case letters only", 400),
        (lambda r: r.set_alias("champion", "../v1"), "unknown version", 404),  # path escape
        (lambda r: r.resolve("../versions/v1"), "no version or alias", 404),  # path escape
    ],
)
def test_bad_references_are_refused(
    registry: ModelRegistry, bundle: Path, call: Any, message: Any, status: Any
) -> None:
    registry.publish(bundle, version="v1")
    with pytest.raises(RegistryError, match=re.escape(message)) as info:
        call(registry)
    assert info.value.status_code == status


@pytest.mark.parametrize(
    "version",
    [
        "champion",  # letters only would be taken for an alias
        "../escape",  # path separators
        ".hidden",  # must start with a letter or digit
        "",  # empty
    ],
)
def test_bad_version_names_are_refused(registry: ModelRegistry, bundle: Path, version: Any) -> None:
    with pytest.raises(RegistryError, match="must be 1-128 characters"):
        registry.publish(bundle, version=version)


def _flip_aliases(root: str, alias: str, versions: list[str], rounds: int) -> None:
    registry = ModelRegistry(Path(root))
    for i in range(rounds):
        registry.set_alias(alias, versions[i % len(versions)])


def test_concurrent_alias_updates_keep_the_file_valid(
    registry: ModelRegistry, bundle: Path, tmp_path: Path
) -> None:
    versions = [
        registry.publish(bundle, version="v1"),
        registry.publish(make_bundle(tmp_path / "b2", marker="2"), version="v2"),
    ]
    rounds = 40
    ctx = multiprocessing.get_context("spawn")
    workers = [
        ctx.Process(target=_flip_aliases, args=(str(registry.root), alias, versions, rounds))
        for alias in ("champion", "challenger")
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=60)
    for w in workers:
        if w.is_alive():
            w.kill()
            w.join()
    assert [w.exitcode for w in workers] == [0, 0]
    state = json.loads((registry.root / "aliases.json").read_text())
    assert set(state["aliases"]) == {"champion", "challenger"}
    assert len(state["history"]) == 2 * rounds  # no update lost to a race
    assert set(state["aliases"].values()) <= set(versions)
