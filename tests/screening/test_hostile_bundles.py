"""A bundle is checked before it is trusted: hostile treeshap.npz arrays, JSON files and ONNX
graphs (hashes recomputed, so only the content checks can tell) and oversized files are
refused with a BundleError naming the file, the array or field, and the problem."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
import xgboost as xgb
from onnx import helper

from screening import (
    TREESHAP_FILE,
    BundleError,
    LoadedModel,
    ModelRegistry,
    TreeExplainerTables,
    verify_bundle,
    write_manifest,
)
from screening.bundles import MAX_BUNDLE_FILES, MAX_FILE_BYTES
from tests.conftest import Trained
from tests.screening.hostile import (
    Arrays,
    npy_member,
    read_arrays,
    rehashed,
    tables_bundle,
    with_json,
    with_onnx,
    with_tables,
    write_arrays,
)

ROOT = Path(__file__).resolve().parents[2]
HUGE = 2_000_000_000
FLOATS = {"node_thr", "table", "leaf_z", "leaf_value", "bias"}


@pytest.fixture(scope="module")
def bundle(trained: Trained, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The trained bundle with tables that hold units and loose leaves: every array has values."""
    out = tables_bundle(trained.run.bundle, tmp_path_factory.mktemp("tables") / "bundle")
    arrays = read_arrays(out)
    assert all(a.size for a in arrays.values()), {n: a.shape for n, a in arrays.items()}
    return out


@pytest.fixture(scope="module")
def model(bundle: Path) -> LoadedModel:
    return LoadedModel.load(bundle)


def test_the_sound_copy_loads_and_explains_like_xgboost(bundle: Path, model: LoadedModel) -> None:
    rows = np.random.default_rng(0).normal(size=(20, len(model.spec.names))).astype(np.float32)
    rows[::3, ::4] = np.nan
    expected = model.booster.predict(xgb.DMatrix(rows, missing=np.nan), pred_contribs=True)
    np.testing.assert_allclose(model.contributions(rows), expected, rtol=0, atol=1e-5)


# -- every array of treeshap.npz ----------------------------------------------------------


def _set(value: float) -> Callable[[np.ndarray], Any]:
    def change(a: np.ndarray) -> None:
        if a.dtype == np.bool_:
            a.view(np.uint8)[...] = 2  # a boolean byte other than 0 or 1
        else:
            a[...] = value

    return change


def _out_of_range(name: str) -> Callable[[np.ndarray], Any]:
    if name == "meta":
        return lambda a: a.__setitem__(1, HUGE)  # tables for 2e9 features
    return _set(np.nan if name in FLOATS else HUGE)


def _negative(name: str) -> Callable[[np.ndarray], Any] | None:
    if name == "meta":
        return lambda a: a.__setitem__(1, -1)
    if name == "leaf_z":
        return _set(-0.5)  # a zero fraction below 0
    if name in {"table", "leaf_value", "bias"}:
        return _set(-np.inf)  # negative values are fine there; infinite ones are not
    if name in {"node_thr", "node_default_left"}:
        return None  # any negative threshold is sound; booleans have no sign
    return _set(-2)


_OTHER_DTYPE = {
    np.dtype(np.int64): np.int32,
    np.dtype(np.float32): np.float64,
    np.dtype(np.float64): np.float32,
    np.dtype(np.bool_): np.uint8,
}


def _array_cases() -> list[Any]:
    names = (
        "tree_start",
        "node_feat",
        "node_thr",
        "node_left",
        "node_right",
        "node_default_left",
        "node_pos",
        "unit_tree_start",
        "unit_root",
        "unit_bits",
        "unit_noff",
        "unit_nodes",
        "unit_coff",
        "unit_cols",
        "unit_toff",
        "table",
        "leaf_tree_start",
        "leaf_node",
        "leaf_d",
        "leaf_zoff",
        "leaf_z",
        "leaf_feat",
        "leaf_value",
        "meta",
        "bias",
    )
    cases = []
    for name in names:
        edits: dict[str, Callable[[np.ndarray], Any] | None] = {
            "out of range": _out_of_range(name),
            "negative": _negative(name),
        }
        for kind, edit in edits.items():
            if edit is not None:
                cases.append(pytest.param(name, edit, id=f"{name}: {kind}"))
        cases.append(
            pytest.param(name, lambda a: a.astype(_OTHER_DTYPE[a.dtype]), id=f"{name}: wrong dtype")
        )
        if name == "bias":
            cases.append(pytest.param(name, lambda a: a.reshape(1), id="bias: not a scalar"))
            continue
        cases.append(pytest.param(name, lambda a: a[:-1], id=f"{name}: one entry short"))
        cases.append(pytest.param(name, lambda a: a.reshape(1, -1), id=f"{name}: 2-d"))
    return cases


@pytest.mark.parametrize(("name", "edit"), _array_cases())
def test_each_array_is_checked(
    bundle: Path, tmp_path: Path, name: str, edit: Callable[[np.ndarray], Any]
) -> None:
    def change(arrays: Arrays) -> None:
        replaced = edit(arrays[name])
        if replaced is not None:
            arrays[name] = replaced

    bad = with_tables(bundle, tmp_path / "bad", change)
    verify_bundle(bad)  # the hashes agree: only the content checks can tell
    with pytest.raises(BundleError) as refused:
        LoadedModel.load(bad)
    message = refused.value.message
    assert f"bundle {bad}: {TREESHAP_FILE}: " in message and name in message, message


def _first_inner(a: Arrays) -> int:
    return int(np.flatnonzero(a["node_feat"] >= 0)[0])


def _deep_unit(a: Arrays) -> int:
    """A unit whose root has an inner node above it."""
    return int(np.flatnonzero(a["unit_bits"] > 0)[0])


def _parent(a: Arrays, node: int) -> int:
    return int(np.flatnonzero((a["node_left"] == node) | (a["node_right"] == node))[0])


def _set_at(
    name: str, index: Callable[[Arrays], int], value: Callable[[Arrays], Any]
) -> Callable[[Arrays], None]:
    def change(a: Arrays) -> None:
        a[name][index(a)] = value(a)

    return change


def _shared_child(a: Arrays) -> None:
    inner = np.flatnonzero(a["node_feat"] >= 0)
    a["node_left"][inner[1]] = a["node_left"][inner[0]]


def _skip_a_table_row(a: Arrays) -> None:
    a["unit_toff"][1:-1] += a["unit_coff"][1] - a["unit_coff"][0]


def _unit_root_in_next_tree(a: Arrays) -> int:
    return int(a["tree_start"][1] + 1)


def _leaf_of_tree(a: Arrays) -> int:
    return int(np.flatnonzero(a["node_feat"] < 0)[0])


SUBTLE = [
    # one column index equal to the feature count: writes into the bias column
    pytest.param(
        "unit_cols",
        _set_at("unit_cols", lambda a: 3, lambda a: a["meta"][1]),
        id="unit_cols: the bias column",
    ),
    pytest.param(
        "leaf_feat",
        _set_at("leaf_feat", lambda a: 0, lambda a: a["meta"][1]),
        id="leaf_feat: the bias column",
    ),
    pytest.param(
        "node_feat",
        _set_at("node_feat", _first_inner, lambda a: a["meta"][1]),
        id="node_feat: one past the last feature",
    ),
    # a child in the next tree, a node its own child, two parents of one node
    pytest.param(
        "node_left",
        _set_at("node_left", lambda a: 0, lambda a: a["tree_start"][1]),
        id="node_left: into the next tree",
    ),
    pytest.param(
        "node_right", _set_at("node_right", _first_inner, _first_inner), id="node_right: a cycle"
    ),
    pytest.param("node_left", _shared_child, id="node_left: two parents"),
    # a pattern position past the unit's pattern bits: a table row past its segment
    pytest.param(
        "node_pos",
        _set_at(
            "node_pos",
            lambda a: _parent(a, int(a["unit_root"][_deep_unit(a)])),
            lambda a: a["unit_bits"][_deep_unit(a)],
        ),
        id="node_pos: past the unit's bits",
    ),
    pytest.param("unit_toff", _skip_a_table_row, id="unit_toff: segments shifted"),
    pytest.param(
        "unit_root",
        _set_at("unit_root", lambda a: 0, _unit_root_in_next_tree),
        id="unit_root: a node of another tree",
    ),
    pytest.param(
        "unit_nodes", _set_at("unit_nodes", lambda a: 1, _leaf_of_tree), id="unit_nodes: a leaf"
    ),
    pytest.param(
        "leaf_node", _set_at("leaf_node", lambda a: 0, lambda a: 0), id="leaf_node: an inner node"
    ),
    pytest.param(
        "leaf_d", _set_at("leaf_d", lambda a: 0, lambda a: 65), id="leaf_d: more than MAX_PATH"
    ),
    pytest.param(
        "leaf_zoff",
        _set_at("leaf_zoff", lambda a: 1, lambda a: a["leaf_zoff"][1] + 1),
        id="leaf_zoff: overlapping",
    ),
    pytest.param("table", _set_at("table", lambda a: 7, lambda a: np.inf), id="table: one inf"),
]


@pytest.mark.parametrize(("name", "change"), SUBTLE)
def test_subtle_inconsistencies_are_refused(
    bundle: Path, tmp_path: Path, name: str, change: Callable[[Arrays], None]
) -> None:
    bad = with_tables(bundle, tmp_path / "bad", change)
    with pytest.raises(BundleError, match=f"{TREESHAP_FILE}: .*{name}") as refused:
        LoadedModel.load(bad)
    assert str(bad) in refused.value.message


def _write_raw(
    bundle: Path, members: dict[str, bytes], compression: int = zipfile.ZIP_STORED
) -> None:
    with zipfile.ZipFile(bundle / TREESHAP_FILE, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def _members(bundle: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(bundle / TREESHAP_FILE) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _lying_header(bundle: Path) -> None:
    members = _members(bundle)
    cols = read_arrays(bundle)["unit_cols"]
    members["unit_cols.npy"] = npy_member(cols, (10**12,))  # allocating it would take 8 TB
    _write_raw(bundle, members)


def _pickled(bundle: Path) -> None:
    arrays: dict[str, Any] = read_arrays(bundle)
    arrays["unit_cols"] = np.asarray([object()] * 3, dtype=object)
    with (bundle / TREESHAP_FILE).open("wb") as f:
        np.savez(f, **arrays)


def _drop(name: str) -> Callable[[Path], None]:
    def change(bundle: Path) -> None:
        arrays = read_arrays(bundle)
        del arrays[name]
        write_arrays(bundle / TREESHAP_FILE, arrays)

    return change


def _extra(bundle: Path) -> None:
    write_arrays(bundle / TREESHAP_FILE, {**read_arrays(bundle), "evil": np.zeros(3)})


ARCHIVES = [
    pytest.param(_drop("unit_cols"), "unit_cols: missing", id="a member missing"),
    pytest.param(_extra, "evil.npy: unexpected member", id="an unknown member"),
    pytest.param(
        lambda b: write_arrays(b / TREESHAP_FILE, read_arrays(b), compressed=True),
        "compressed",
        id="compressed (a zip bomb could hide there)",
    ),
    pytest.param(
        _lying_header,
        r"unit_cols: header says \(1000000000000,\)",
        id="a header larger than its data",
    ),
    pytest.param(_pickled, "unit_cols: (dtype|unreadable)", id="a pickled object array"),
    pytest.param(
        lambda b: (b / TREESHAP_FILE).write_bytes(b"PK\x03\x04 not really"),
        "not a readable npz archive",
        id="not a zip archive",
    ),
]


@pytest.mark.parametrize(("change", "problem"), ARCHIVES)
def test_hostile_archives_are_refused(
    bundle: Path, tmp_path: Path, change: Callable[[Path], None], problem: str
) -> None:
    bad = rehashed(bundle, tmp_path / "bad", change)
    with pytest.raises(BundleError, match=f"{TREESHAP_FILE}: (.*: )?{problem}"):
        LoadedModel.load(bad)


@pytest.mark.parametrize(
    ("depth", "rounds", "max_state_bits", "unit_height", "gamma"),
    [
        (2, 10, 10, 2, 0.0),  # whole trees in one unit
        (6, 20, 10, 2, 0.0),  # the production shape
        (10, 6, 5, 2, 0.0),  # units and loose leaves
        (6, 6, 0, 2, 0.0),  # no tables: every leaf loose
        (6, 6, 10, 3, 0.0),  # taller units
        (3, 3, 10, 2, 1e9),  # single-leaf trees: units without columns
    ],
)
def test_sound_tables_pass_the_checks(
    tmp_path: Path, depth: int, rounds: int, max_state_bits: int, unit_height: int, gamma: float
) -> None:
    rng = np.random.default_rng(depth)
    x = rng.normal(size=(1500, 7))
    x[rng.random(x.shape) < 0.1] = np.nan
    y = (np.nan_to_num(x[:, 0]) + rng.normal(size=1500) > 0).astype(float)
    booster = xgb.train(
        {
            "max_depth": depth,
            "objective": "binary:logistic",
            "nthread": 1,
            "gamma": gamma,
            "min_child_weight": 0.5,
        },
        xgb.DMatrix(x, y, missing=np.nan),
        rounds,
    )
    tables = TreeExplainerTables.from_booster(booster, 7, max_state_bits, unit_height)
    tables.save(tmp_path / TREESHAP_FILE)
    loaded = TreeExplainerTables.load(tmp_path / TREESHAP_FILE, 7)
    np.testing.assert_array_equal(loaded.contributions(x[:40]), tables.contributions(x[:40]))
    with pytest.raises(BundleError, match="meta: the tables are for 7 features, the model has 8"):
        TreeExplainerTables.load(tmp_path / TREESHAP_FILE, 8)


# -- the probe's case, in a process of its own (it crashed the process before the checks) -


PROBE = """
import sys
from pathlib import Path
import numpy as np
from screening import BundleError, LoadedModel, TreeExplainerTables
path = Path(sys.argv[2])
try:
    if sys.argv[1] == "tables":
        TreeExplainerTables.load(path / "treeshap.npz")
    else:
        model = LoadedModel.load(path)
        model.contributions(np.zeros((1, len(model.spec.names)), np.float32))
except BundleError as exc:
    print("refused:", exc.message)
    sys.exit(0)
print("loaded and explained")
sys.exit(3)
"""


@pytest.mark.parametrize("how", ["tables", "bundle"])
def test_probe_case_is_refused_not_a_crash(trained: Trained, tmp_path: Path, how: str) -> None:
    """unit_cols[:] = 2e9 with the hashes recomputed segfaulted the loading process."""
    bad = with_tables(
        trained.run.bundle,
        tmp_path / "bad",
        lambda a: a["unit_cols"].__setitem__(slice(None), HUGE),
    )
    done = subprocess.run(
        [sys.executable, "-c", PROBE, how, str(bad)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"exit {done.returncode}: {done.stdout}{done.stderr[-2000:]}"
    assert "refused:" in done.stdout and "unit_cols" in done.stdout


# -- JSON files and the ONNX graph ---------------------------------------------------------


def _input_width(width: int) -> Callable[[onnx.ModelProto], None]:
    def change(model: onnx.ModelProto) -> None:
        model.graph.input[0].type.tensor_type.shape.dim[1].dim_value = width

    return change


def _attribute(name: str, value: Any) -> Callable[[onnx.ModelProto], None]:
    def change(model: onnx.ModelProto) -> None:
        node = model.graph.node[0]
        kept = [a for a in node.attribute if a.name != name]
        del node.attribute[:]
        node.attribute.extend([*kept, helper.make_attribute(name, value)])

    return change


def _feature_ids(model: onnx.ModelProto) -> None:
    node = model.graph.node[0]
    ids = next(a for a in node.attribute if a.name == "nodes_featureids")
    ids.ints[0] = 10**6


def _extra_node(model: onnx.ModelProto) -> None:
    model.graph.node.append(helper.make_node("Identity", ["margin"], ["copy"]))


def _rename_output(model: onnx.ModelProto) -> None:
    model.graph.output[0].name = "probability"


def _reverse(names: list[str]) -> list[str]:
    return names[::-1]


CONTENT = [
    ("feature_spec.json", lambda s: s | {"names": _reverse(s["names"])}, "names: must be the"),
    ("feature_spec.json", lambda s: s | {"version": "1"}, "version: features are version"),
    ("feature_spec.json", lambda s: s | {"origins": "NL"}, "origins: must be a list"),
    ("feature_spec.json", lambda s: s | {"fx_to_eur": {"USD": -1}}, "fx_to_eur.USD: must lie"),
    ("feature_spec.json", lambda s: s | {"evil": 1}, "evil: is not a field"),
    ("feature_spec.json", lambda s: [s], "must be a JSON object"),
    ("calibration.json", lambda c: c | {"extra": 1}, "must hold exactly slope and intercept"),
    ("calibration.json", lambda c: c | {"slope": "1"}, "slope: must be a number"),
    ("calibration.json", lambda c: c | {"slope": float("nan")}, "slope: must be finite"),
    ("calibration.json", lambda c: c | {"slope": -1.0}, r"slope: must lie in \(0, inf\]"),
    ("thresholds.json", lambda t: {}, "holds no threshold"),
    ("thresholds.json", lambda t: t | {"2": 0.1}, r"2: must lie in \(0, 1\]"),
    ("thresholds.json", lambda t: t | {"abc": 0.1}, "abc: is not a capacity share"),
    ("thresholds.json", lambda t: t | {"0.01": 1.5}, r"0.01: must lie in \[0, 1\]"),
    ("thresholds.json", lambda t: {"0.01": 0.1, "0.02": 0.2}, "thresholds fall as shares grow"),
    (
        "reference.json",
        lambda r: r | {"score": {"edges": [1, 0], "shares": [0, 0, 0, 0]}},
        "score.edges: must increase",
    ),
    (
        "reference.json",
        lambda r: r | {"score": {"edges": [1], "shares": [1]}},
        "score.shares: has 1 entries, expected 3",
    ),
    (
        "reference.json",
        lambda r: r | {"features": {"evil": r["score"]}},
        "features.evil: is not a feature",
    ),
    ("metrics.json", lambda m: [m], "must hold a JSON object"),
]

GRAPHS = [
    pytest.param(
        _input_width(10),
        r"input features: has shape \(N, 10\), expected \(N, \d+\)",
        id="input narrower than the feature spec",
    ),
    pytest.param(_rename_output, r"outputs: are \['probability'\]", id="output renamed"),
    pytest.param(
        _attribute("post_transform", "LOGISTIC"),
        "post_transform: is b'LOGISTIC'",
        id="probabilities instead of the margin",
    ),
    pytest.param(
        _feature_ids,
        "nodes_featureids: node 0 reads feature 1000000",
        id="a feature the spec does not have",
    ),
    pytest.param(_extra_node, "graph: has 2 nodes", id="another operator"),
]


@pytest.mark.parametrize(
    ("name", "change", "problem"), CONTENT, ids=[f"{n}: {p[:30]}" for n, _, p in CONTENT]
)
def test_hostile_json_is_refused(
    bundle: Path, tmp_path: Path, name: str, change: Callable[[Any], Any], problem: str
) -> None:
    bad = with_json(bundle, tmp_path / "bad", name, change)
    with pytest.raises(BundleError, match=f"bundle {bad}: {name}.*{problem}"):
        LoadedModel.load(bad)


@pytest.mark.parametrize(("change", "problem"), GRAPHS)
def test_hostile_graph_is_refused(
    bundle: Path, tmp_path: Path, change: Callable[[onnx.ModelProto], None], problem: str
) -> None:
    bad = with_onnx(bundle, tmp_path / "bad", change)
    with pytest.raises(BundleError, match=f"bundle {bad}: model.onnx: {problem}"):
        LoadedModel.load(bad)


def test_garbage_graph_is_refused(bundle: Path, tmp_path: Path) -> None:
    garbage = b"\x08\x07" + os.urandom(64)

    def garble(b: Path) -> None:
        (b / "model.onnx").write_bytes(garbage)

    bad = rehashed(bundle, tmp_path / "bad", garble)
    with pytest.raises(BundleError, match="model.onnx is not an ONNX model"):
        LoadedModel.load(bad)


# -- size caps, checked before a byte is read ----------------------------------------------


@pytest.mark.parametrize(
    ("name", "size"),
    [
        ("model.onnx", 400_000_000),  # the probe's 400 MB graph: +1.2 GB per worker when loaded
        (TREESHAP_FILE, MAX_FILE_BYTES[TREESHAP_FILE] + 1),
        ("reference.json", 17 << 20),
        ("manifest.json", 2 << 20),
    ],
)
def test_oversized_files_are_refused_unread(
    bundle: Path, tmp_path: Path, name: str, size: int
) -> None:
    bad = tmp_path / "bad"
    shutil.copytree(bundle, bad)
    os.truncate(bad / name, size)  # sparse: no disk used, and nothing is read
    for load in (verify_bundle, LoadedModel.load, ModelRegistry(tmp_path / "registry").publish):
        with pytest.raises(BundleError, match=f"{name} is {size} bytes, over its cap"):
            load(bad)


def test_special_files_and_crowds_are_refused(bundle: Path, tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    shutil.copytree(bundle, fifo)
    (fifo / "model.onnx").unlink()
    os.mkfifo(fifo / "model.onnx")  # reading it would block the loader for good
    with pytest.raises(BundleError, match="model.onnx is not a regular file"):
        LoadedModel.load(fifo)
    crowd = tmp_path / "crowd"
    shutil.copytree(bundle, crowd)
    for i in range(MAX_BUNDLE_FILES):
        (crowd / f"extra-{i}.txt").write_text("x")
    with pytest.raises(BundleError, match=f"more than {MAX_BUNDLE_FILES} entries"):
        write_manifest(crowd)
