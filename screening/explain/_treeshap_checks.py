"""Reading and checking ``treeshap.npz`` before any kernel sees it.

The numba kernels index without bounds checks, so every index a kernel (or the run-time
layout derived in ``_treeshap._runtime``) uses is checked here first: one out-of-range value
would read or write outside an array, or crash the process. The archive is read member by
member (stored, not compressed; each ``.npy`` header's shape and dtype checked against the
bytes that follow before anything is allocated), then the arrays are checked against each
other and against the model's feature count:

* trees: ``tree_start`` splits the nodes into trees; each inner node's children lie later in
  its own tree and every node but a tree's first has exactly one parent (so every tree is a
  tree, at most ``MAX_TREE_DEPTH`` levels deep); features lie in ``[0, n_features)``;
* units: offsets start at 0, never decrease and end at their arrays' lengths; a unit's root
  and inner nodes lie in its tree and form a subtree (the root first); its state bits, the
  path's pattern positions and its columns fit its table segment exactly;
* loose leaves: leaves of their tree, at most ``MAX_PATH`` unique features each, contiguous
  zero fractions, pattern positions below their path length;
* floats: the table, zero fractions, leaf values and bias finite; no NaN threshold.

Every problem raises BundleError naming the file, the array and what is wrong.
"""

from __future__ import annotations

import io
import zipfile
from typing import IO

import numpy as np

from .._errors import BundleError
from ._treeshap_kernels import MAX_PATH

__all__ = ["MAX_TREE_DEPTH", "ancestors", "check_tables", "read_tables"]

#: Deepest tree accepted (levels below the root).
MAX_TREE_DEPTH = 64
#: Most state bits of one tabulated unit (the table has 2**bits rows).
MAX_UNIT_STATE_BITS = 30
#: Largest run-time layout (per-unit slots and columns) derived from the tables, in bytes.
MAX_RUNTIME_BYTES = 512 << 20
MAX_FEATURES = 1 << 16

_INT = np.dtype(np.int64)
#: Every stored array with its dtype; all are one-dimensional except ``bias`` (a scalar).
DTYPES: dict[str, np.dtype] = {
    **{
        name: _INT
        for name in (
            "tree_start",
            "node_feat",
            "node_left",
            "node_right",
            "node_pos",
            "unit_tree_start",
            "unit_root",
            "unit_bits",
            "unit_noff",
            "unit_nodes",
            "unit_coff",
            "unit_cols",
            "unit_toff",
            "leaf_tree_start",
            "leaf_node",
            "leaf_d",
            "leaf_zoff",
            "leaf_feat",
            "meta",
        )
    },
    "node_thr": np.dtype(np.float32),
    "node_default_left": np.dtype(np.bool_),
    "table": np.dtype(np.float32),
    "leaf_z": np.dtype(np.float64),
    "leaf_value": np.dtype(np.float64),
    "bias": np.dtype(np.float64),
}


class _Problem(Exception):
    """One check failed: (array, what is wrong); turned into a BundleError by the caller."""


def _fail(name: str, problem: str) -> None:
    raise _Problem(name, problem)


def read_tables(data: bytes, where: str) -> dict[str, np.ndarray]:
    """Every array of a ``treeshap.npz`` archive, each checked for its dtype and shape."""
    try:
        return _read(data)
    except _Problem as exc:
        name, problem = exc.args
        raise BundleError(f"{where}: {name}: {problem}") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError) as exc:
        raise BundleError(f"{where}: not a readable npz archive: {exc}") from None


def _read(data: bytes) -> dict[str, np.ndarray]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        infos = archive.infolist()
        members = [info.filename for info in infos]
        expected = {f"{name}.npy" for name in DTYPES}
        if len(members) != len(set(members)):
            _fail("archive", "a member appears twice")
        for member in sorted(set(members) - expected)[:1]:
            _fail(member, "unexpected member of the archive")
        for member in sorted(expected - set(members))[:1]:
            _fail(member.removesuffix(".npy"), "missing")
        arrays = {}
        for info in infos:
            name = info.filename.removesuffix(".npy")
            if info.compress_type != zipfile.ZIP_STORED or info.file_size != info.compress_size:
                _fail(name, "compressed; tables are stored uncompressed")
            with archive.open(info) as stream:
                arrays[name] = _read_array(name, stream, info.file_size)
    meta = arrays["meta"]
    if meta.shape != (2,):
        _fail("meta", f"shape {meta.shape}, expected (2,)")
    if arrays["bias"].shape != ():
        _fail("bias", f"shape {arrays['bias'].shape}, expected a scalar")
    return arrays


def _read_array(name: str, member: IO[bytes], size: int) -> np.ndarray:
    """One ``.npy`` member: the header's dtype and shape checked against the bytes present."""
    try:
        version = np.lib.format.read_magic(member)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(member)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(member)
        else:
            raise ValueError(f"npy format {version} is not supported")
    except ValueError as exc:
        raise _Problem(name, f"unreadable .npy header: {exc}") from None
    if dtype != DTYPES[name]:
        _fail(name, f"dtype {dtype.str}, expected {DTYPES[name].str}")
    if len(shape) != (0 if name == "bias" else 1) or fortran:
        _fail(name, f"shape {shape}, expected " + ("a scalar" if name == "bias" else "1-d"))
    count = 1
    for n in shape:
        count *= n
    nbytes = count * dtype.itemsize
    if nbytes != size - member.tell():
        _fail(name, f"header says {shape} ({nbytes} bytes) but {size - member.tell()} bytes follow")
    array = np.empty(shape, dtype)
    view = array.reshape(-1).view(np.uint8).data
    got = 0
    while got < nbytes:
        n = member.readinto(view[got:])  # type: ignore[attr-defined]
        if not n:
            _fail(name, "truncated")
        got += n
    return array


def ancestors(
    nodes: np.ndarray, parent: np.ndarray, went_left: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (index into ``nodes``, ancestor, whether the path goes left there), by index."""
    owner, above, left = [], [], []
    which, current = np.arange(len(nodes)), np.asarray(nodes, dtype=np.int64)
    while len(current):
        up = parent[current]
        keep = up >= 0
        which, current, up = which[keep], current[keep], up[keep]
        owner.append(which)
        above.append(up)
        left.append(went_left[current])
        current = up
    if not owner:
        return (np.zeros(0, np.int64),) * 3
    flat = np.concatenate(owner)
    order = np.argsort(flat, kind="stable")
    return flat[order], np.concatenate(above)[order], np.concatenate(left)[order]


def check_tables(arrays: dict[str, np.ndarray], n_features: int | None, where: str) -> int:
    """Check the arrays read by ``read_tables`` against each other and against the model's
    feature count (None: the count the tables state); return that count."""
    try:
        return _check(arrays, n_features)
    except _Problem as exc:
        name, problem = exc.args
        raise BundleError(f"{where}: {name}: {problem}") from None


def _range(name: str, values: np.ndarray, low: object, high: object, what: str = "values") -> None:
    """All ``values`` within ``[low, high)`` (bounds scalars or arrays like ``values``)."""
    bad = (values < low) | (values >= high)
    if np.any(bad):
        i = int(np.argmax(bad))
        lo, hi = (np.broadcast_to(np.asarray(b), values.shape)[i].item() for b in (low, high))
        _fail(
            name,
            f"{what} must lie in [{lo}, {hi}); {int(np.sum(bad))} do not (first at "
            f"index {i}: {values[i].item()})",
        )


def _length(name: str, array: np.ndarray, n: int, why: str) -> None:
    if len(array) != n:
        _fail(name, f"has {len(array)} entries, expected {n} ({why})")


def _offsets(
    name: str, offsets: np.ndarray, count: int, end: int, what: str, of: str, strict: bool = False
) -> np.ndarray:
    """Offsets of ``count`` parts: from 0, never decreasing, ending at ``end`` (the length of
    the array ``of``); the sizes."""
    _length(name, offsets, count + 1, f"one offset per {what} plus one")
    if offsets[0] != 0 or offsets[-1] != end:
        _fail(name, f"must run from 0 to {end} ({of}), runs from {offsets[0]} to {offsets[-1]}")
    sizes = np.diff(offsets)
    if np.any(sizes < (1 if strict else 0)):
        i = int(np.argmax(sizes < (1 if strict else 0)))
        _fail(name, f"{what} {i} has size {sizes[i]}" + (" (empty)" if strict else ""))
    return sizes


def _finite(name: str, values: np.ndarray) -> None:
    bad = ~np.isfinite(values)
    if np.any(bad):
        i = int(np.argmax(bad))
        _fail(name, f"{int(np.sum(bad))} values are not finite (first at index {i}: {values[i]})")


def _check(a: dict[str, np.ndarray], expected_features: int | None) -> int:
    n_features = int(a["meta"][1])
    if expected_features is not None and n_features != expected_features:
        _fail(
            "meta", f"the tables are for {n_features} features, the model has {expected_features}"
        )
    if not 1 <= n_features <= MAX_FEATURES:
        _fail("meta", f"feature count {n_features} must lie in [1, {MAX_FEATURES}]")
    _finite("bias", a["bias"].reshape(1))

    # trees and nodes
    feat = a["node_feat"]
    n_nodes = len(feat)
    if len(a["tree_start"]) < 1:
        _fail("tree_start", "is empty")
    n_trees = len(a["tree_start"]) - 1
    tree_size = _offsets(
        "tree_start",
        a["tree_start"],
        n_trees,
        n_nodes,
        "tree",
        "the length of node_feat",
        strict=True,
    )
    for name in ("node_thr", "node_left", "node_right", "node_default_left", "node_pos"):
        _length(name, a[name], n_nodes, "one per node, as node_feat")
    _range("node_feat", feat, -1, n_features, "features (-1: leaf)")
    if np.any(np.isnan(a["node_thr"])):
        _fail("node_thr", f"{int(np.sum(np.isnan(a['node_thr'])))} thresholds are NaN")
    raw = a["node_default_left"].view(np.uint8)
    _range("node_default_left", raw, 0, 2, "bytes (booleans)")
    tree_of = np.repeat(np.arange(n_trees), tree_size)
    end = a["tree_start"][1:][tree_of]
    inner = np.flatnonzero(feat >= 0)
    for name in ("node_left", "node_right"):
        _range(name, a[name][inner], inner + 1, end[inner], "children of inner nodes")
    children = np.concatenate([a["node_left"][inner], a["node_right"][inner]])
    parents = np.bincount(children, minlength=n_nodes)
    should = np.ones(n_nodes, np.int64)
    should[a["tree_start"][:-1]] = 0
    if np.any(parents != should):
        i = int(np.argmax(parents != should))
        _fail(
            "node_left",
            f"node {i} has {parents[i]} parents, expected {should[i]}: the "
            "children do not form trees",
        )
    parent = np.full(n_nodes, -1, np.int64)
    went_left = np.zeros(n_nodes, np.int64)
    parent[a["node_left"][inner]] = inner
    parent[a["node_right"][inner]] = inner
    went_left[a["node_left"][inner]] = 1
    depth = np.zeros(n_nodes, np.int64)
    level, frontier = 0, a["tree_start"][:-1]
    while len(frontier):
        depth[frontier] = level
        frontier = frontier[feat[frontier] >= 0]
        frontier = np.concatenate([a["node_left"][frontier], a["node_right"][frontier]])
        level += 1
        if level > MAX_TREE_DEPTH + 1:
            _fail("node_left", f"a tree is deeper than {MAX_TREE_DEPTH} levels")
    pos = a["node_pos"]
    _range(
        "node_pos",
        pos[inner],
        0,
        np.minimum(depth[inner] + 1, MAX_PATH),
        "pattern positions of inner nodes",
    )

    # units
    n_units = len(a["unit_root"])
    units = _offsets(
        "unit_tree_start", a["unit_tree_start"], n_trees, n_units, "tree", "the length of unit_root"
    )
    unit_tree = np.repeat(np.arange(n_trees), units)
    tree_first, tree_end = a["tree_start"][:-1], a["tree_start"][1:]
    root = a["unit_root"]
    _range(
        "unit_root",
        root,
        tree_first[unit_tree],
        tree_end[unit_tree],
        "roots (nodes of the unit's tree)",
    )
    if len(np.unique(root)) != n_units:
        _fail("unit_root", "a node is the root of two units")
    _length("unit_bits", a["unit_bits"], n_units, "one per unit")
    n_inner = _offsets(
        "unit_noff",
        a["unit_noff"],
        n_units,
        len(a["unit_nodes"]),
        "unit",
        "the length of unit_nodes",
    )
    owner = np.repeat(np.arange(n_units), n_inner)
    nodes = a["unit_nodes"]
    _range(
        "unit_nodes",
        nodes,
        tree_first[unit_tree[owner]],
        tree_end[unit_tree[owner]],
        "nodes (of the unit's tree)",
    )
    if np.any(feat[nodes] < 0):
        _fail(
            "unit_nodes", f"node {nodes[np.argmax(feat[nodes] < 0)]} is a leaf, not an inner node"
        )
    if np.any((n_inner > 0) != (feat[root] >= 0)):
        u = int(np.argmax((n_inner > 0) != (feat[root] >= 0)))
        _fail(
            "unit_noff",
            f"unit {u} has {n_inner[u]} inner nodes but its root is "
            f"{'an inner node' if feat[root[u]] >= 0 else 'a leaf'}",
        )
    heads = a["unit_noff"][:-1][n_inner > 0]
    if np.any(nodes[heads] != root[n_inner > 0]):
        _fail("unit_nodes", "a unit's first inner node is not its root")
    rest = np.ones(len(nodes), bool)
    rest[heads] = False
    keys = owner * n_nodes + nodes
    if not np.all(np.isin(owner[rest] * n_nodes + parent[nodes[rest]], keys)):
        _fail("unit_nodes", "a unit's inner nodes do not form a subtree under its root")
    bits = a["unit_bits"]
    _range("unit_bits", bits, 0, depth[root] + 1, "pattern bits (at most the root's depth)")
    state = bits + n_inner
    _range("unit_bits", state, 0, MAX_UNIT_STATE_BITS + 1, "state bits (pattern + inner)")
    cols = _offsets(
        "unit_coff", a["unit_coff"], n_units, len(a["unit_cols"]), "unit", "the length of unit_cols"
    )
    _range("unit_coff", cols, bits, state + 1, "column counts (pattern bits to state bits)")
    _range("unit_cols", a["unit_cols"], 0, n_features, "features")
    rows = np.left_shift(np.int64(1), state) * cols
    table = a["table"]
    sizes = _offsets(
        "unit_toff",
        a["unit_toff"],
        n_units,
        int(np.sum(rows)),
        "unit",
        "the table size the units' states and columns give",
    )
    if np.any(sizes != rows):
        u = int(np.argmax(sizes != rows))
        _fail(
            "unit_toff",
            f"unit {u} has a table of {sizes[u]} values, expected {rows[u]} "
            f"(2**{state[u]} states x {cols[u]} columns)",
        )
    width = max(int(cols.max()) if n_units else 1, 1)
    end_table = int(a["unit_toff"][-1])
    if len(table) not in (end_table, end_table + width):
        _fail("table", f"has {len(table)} values, expected {end_table} (unit_toff)")
    _finite("table", table)
    unit_of, above, _ = ancestors(root, parent, went_left)
    _range(
        "node_pos",
        pos[above],
        0,
        bits[unit_of],
        "pattern positions above a unit root (below its unit_bits)",
    )
    slots = int((np.bincount(unit_of, minlength=n_units) + n_inner).max()) if n_units else 1
    if n_units * (slots * 6 + width * 4) > MAX_RUNTIME_BYTES:
        _fail(
            "unit_root",
            f"{n_units} units of {slots} slots would take more than "
            f"{MAX_RUNTIME_BYTES} bytes at run time",
        )

    # loose leaves
    n_loose = len(a["leaf_node"])
    per_tree = _offsets(
        "leaf_tree_start", a["leaf_tree_start"], n_trees, n_loose, "tree", "the length of leaf_node"
    )
    leaf_tree = np.repeat(np.arange(n_trees), per_tree)
    leaf = a["leaf_node"]
    _range(
        "leaf_node", leaf, tree_first[leaf_tree], tree_end[leaf_tree], "nodes (of the leaf's tree)"
    )
    if np.any(feat[leaf] >= 0):
        _fail("leaf_node", f"node {leaf[np.argmax(feat[leaf] >= 0)]} is not a leaf")
    for name in ("leaf_d", "leaf_zoff", "leaf_value"):
        _length(name, a[name], n_loose, "one per loose leaf")
    d = a["leaf_d"]
    _range(
        "leaf_d",
        d,
        0,
        np.minimum(depth[leaf], MAX_PATH) + 1,
        "unique path features (at most the leaf's depth)",
    )
    offsets = np.concatenate([[0], np.cumsum(d)])
    if np.any(a["leaf_zoff"] != offsets[:-1]):
        i = int(np.argmax(a["leaf_zoff"] != offsets[:-1]))
        _fail(
            "leaf_zoff",
            f"loose leaf {i} starts at {a['leaf_zoff'][i]}, expected "
            f"{offsets[i]} (the sum of leaf_d before it)",
        )
    _length("leaf_z", a["leaf_z"], int(offsets[-1]), "the sum of leaf_d")
    _length("leaf_feat", a["leaf_feat"], int(offsets[-1]), "the sum of leaf_d")
    _range("leaf_feat", a["leaf_feat"], 0, n_features, "features")
    _finite("leaf_z", a["leaf_z"])
    _range("leaf_z", a["leaf_z"], 0.0, np.inf, "zero fractions")
    _finite("leaf_value", a["leaf_value"])
    leaf_of, above, _ = ancestors(leaf, parent, went_left)
    _range(
        "node_pos",
        pos[above],
        0,
        d[leaf_of],
        "pattern positions above a loose leaf (below its leaf_d)",
    )
    return n_features
