"""Hostile copies of a real bundle: one file changed, then the manifest's hashes recomputed,
so that only the checks of a file's content at load can tell."""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import xgboost

from screening import TREESHAP_FILE, TreeExplainerTables, write_manifest

Arrays = dict[str, np.ndarray]


def tables_bundle(source: Path, out: Path, max_state_bits: int = 4) -> Path:
    """A copy of ``source`` whose tables have tabulated units and loose leaves both (a small
    ``max_state_bits`` leaves the deeper leaves loose), so every array of treeshap.npz holds
    values; signed by nothing, hashes recomputed."""
    shutil.copytree(source, out)
    booster = xgboost.Booster()
    booster.load_model(str(out / "booster.ubj"))
    n_features = len(json.loads((out / "feature_spec.json").read_text())["names"])
    tables = TreeExplainerTables.from_booster(booster, n_features, max_state_bits)
    tables.save(out / TREESHAP_FILE)
    write_manifest(out)
    return out


def read_arrays(bundle: Path) -> Arrays:
    with np.load(bundle / TREESHAP_FILE, allow_pickle=False) as data:
        return {name: data[name].copy() for name in data.files}


def write_arrays(path: Path, arrays: Arrays, compressed: bool = False) -> None:
    with path.open("wb") as f:
        if compressed:
            np.savez_compressed(f, **arrays)  # type: ignore[arg-type]
        else:
            np.savez(f, **arrays)  # type: ignore[arg-type]


def rehashed(source: Path, out: Path, change: Callable[[Path], None]) -> Path:
    """A copy of ``source`` changed in place by ``change``, with its manifest rewritten."""
    shutil.copytree(source, out)
    change(out)
    write_manifest(out)
    return out


def with_tables(source: Path, out: Path, change: Callable[[Arrays], Arrays | None]) -> Path:
    """The bundle with its treeshap.npz arrays changed (``change`` edits them in place or
    returns a new dict)."""

    def edit(bundle: Path) -> None:
        arrays = read_arrays(bundle)
        arrays = change(arrays) or arrays
        write_arrays(bundle / TREESHAP_FILE, arrays)

    return rehashed(source, out, edit)


def with_json(source: Path, out: Path, name: str, change: Callable[[Any], Any]) -> Path:
    """The bundle with one JSON file changed (``change`` returns the new value)."""

    def edit(bundle: Path) -> None:
        value = change(json.loads((bundle / name).read_text()))
        (bundle / name).write_text(json.dumps(value))

    return rehashed(source, out, edit)


def with_onnx(source: Path, out: Path, change: Callable[[onnx.ModelProto], None]) -> Path:
    """The bundle with its ONNX graph changed in place (no checker run on the result)."""

    def edit(bundle: Path) -> None:
        model = onnx.load_model_from_string((bundle / "model.onnx").read_bytes())
        change(model)
        (bundle / "model.onnx").write_bytes(model.SerializeToString())

    return rehashed(source, out, edit)


def npy_member(array: np.ndarray, shape: tuple[int, ...]) -> bytes:
    """An ``.npy`` file whose header states ``shape`` whatever the data that follows."""
    buffer = io.BytesIO()
    header = {
        "descr": np.lib.format.dtype_to_descr(array.dtype),
        "fortran_order": False,
        "shape": shape,
    }
    np.lib.format.write_array_header_1_0(buffer, header)
    buffer.write(array.tobytes())
    return buffer.getvalue()
