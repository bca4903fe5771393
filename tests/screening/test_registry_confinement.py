"""The registry resolves only versions inside itself: an alias or version naming a path (``..``,
an absolute path) or a version folder that is a symbolic link leading elsewhere is refused."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from screening import BundleError, ModelRegistry, RegistryError
from tests.screening.test_registry import make_bundle


@pytest.fixture
def registry(tmp_path: Path) -> ModelRegistry:
    registry = ModelRegistry(tmp_path / "registry")
    registry.set_alias("champion", registry.publish(make_bundle(tmp_path / "b1"), version="v1"))
    return registry


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A sound bundle outside the registry (as an attacker who can write elsewhere made it)."""
    return make_bundle(tmp_path / "outside" / "bundleX", marker="evil")


def _point(registry: ModelRegistry, alias: str, target: str) -> None:
    """Write ``aliases.json`` by hand, as a tampered or hand-edited file would be."""
    path = registry.root / "aliases.json"
    state = json.loads(path.read_text())
    state["aliases"][alias] = target
    path.write_text(json.dumps(state))


@pytest.mark.parametrize(
    "target",
    [
        "../../outside/bundleX",  # relative, out of versions/ and of the registry
        "../../../outside/bundleX",  # the probe's alias
        "v1/../../../outside/bundleX",  # through a real version
        "ABSOLUTE",  # an absolute path (filled in below)
        "..",  # the registry root itself
        "v1/",  # a trailing slash
        "champion",  # an alias name, never a version
    ],
)
def test_an_alias_naming_a_path_is_refused(
    registry: ModelRegistry, outside: Path, target: str
) -> None:
    if target == "ABSOLUTE":
        target = str(outside)
    _point(registry, "champion", target)
    for call in (registry.resolve, registry.path, registry.load):
        with pytest.raises(RegistryError, match="refused|not a version name"):
            call("champion")


@pytest.mark.parametrize("ref", ["../outside", "/etc", "v1/..", "./v1", "v1\x00"])
def test_a_reference_naming_a_path_is_refused(registry: ModelRegistry, ref: str) -> None:
    with pytest.raises(RegistryError):
        registry.path(ref)
    with pytest.raises(RegistryError):
        registry.set_alias("challenger", ref)


def test_a_version_that_links_outside_is_refused(registry: ModelRegistry, outside: Path) -> None:
    os.symlink(outside, registry.root / "versions" / "evil-1", target_is_directory=True)
    assert registry.versions() == ["v1"]
    for call in (registry.resolve, registry.path, registry.load):
        with pytest.raises(RegistryError, match="symbolic link"):
            call("evil-1")
    with pytest.raises(RegistryError, match="symbolic link"):
        registry.set_alias("champion", "evil-1")
    _point(registry, "champion", "evil-1")
    with pytest.raises(RegistryError, match="symbolic link"):
        registry.load("champion")


def test_a_versions_folder_that_links_outside_is_refused(tmp_path: Path, outside: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    ModelRegistry(elsewhere).publish(make_bundle(tmp_path / "b2"), version="v2")
    root = tmp_path / "linked"
    root.mkdir()
    os.symlink(elsewhere / "versions", root / "versions", target_is_directory=True)
    registry = ModelRegistry(root)
    with pytest.raises(RegistryError, match="outside the registry"):
        registry.load("v2")


def test_a_registry_reached_through_a_link_still_serves(tmp_path: Path) -> None:
    real = tmp_path / "real"
    ModelRegistry(real).publish(make_bundle(tmp_path / "b"), version="v1")
    os.symlink(real, tmp_path / "mounted", target_is_directory=True)
    registry = ModelRegistry(tmp_path / "mounted")  # a registry root may itself be a link
    assert registry.load("v1") == tmp_path / "mounted" / "versions" / "v1"


def test_a_link_inside_a_version_is_refused(registry: ModelRegistry, outside: Path) -> None:
    card = registry.path("v1") / "model_card.md"
    card.unlink()
    os.symlink(outside / "model_card.md", card)
    with pytest.raises(BundleError, match="model_card.md is a symbolic link"):
        registry.load("v1")
