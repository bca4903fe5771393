"""Bundles are written where they are read: what ``write_bundle`` writes, ``LoadedModel``
loads, and a loaded bundle written again gives the same files."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from screening import (
    MANIFEST_NAME,
    REQUIRED_FILES,
    TREESHAP_FILE,
    BundleContents,
    LoadedModel,
    write_bundle,
)
from tests.conftest import Trained

_SAME_BYTES = [name for name in REQUIRED_FILES if name != "booster.ubj"]


def test_a_loaded_bundle_written_again_loads_the_same(trained: Trained, tmp_path: Path) -> None:
    model = LoadedModel.load(trained.run.bundle)
    source = trained.run.bundle
    contents = BundleContents(
        (source / "model.onnx").read_bytes(),
        model.booster,
        model.spec,
        model.calibration,
        model.thresholds,
        model.reference,
        model.metrics,
        model.info,
        (source / "model_card.md").read_text(encoding="utf-8"),
    )
    manifest = write_bundle(tmp_path / "again", contents)
    assert set(manifest["files"]) == {*REQUIRED_FILES, TREESHAP_FILE}
    assert (tmp_path / "again" / MANIFEST_NAME).is_file()
    for name in _SAME_BYTES:  # JSON, card and graph: byte for byte what training wrote
        assert (tmp_path / "again" / name).read_bytes() == (source / name).read_bytes(), name
    again = LoadedModel.load(tmp_path / "again")
    rows = np.random.default_rng(0).normal(size=(5, len(model.spec.names))).astype(np.float32)
    np.testing.assert_array_equal(again.margin(rows), model.margin(rows))
    np.testing.assert_allclose(again.contributions(rows), model.contributions(rows))
