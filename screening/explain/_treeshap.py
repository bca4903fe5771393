"""Exact path-dependent TreeSHAP for the XGBoost model without calling XGBoost.

``TreeExplainerTables.from_booster`` flattens the booster's trees (covers, thresholds,
default directions) and precomputes, per leaf, the Shapley values for every pattern of
satisfied path conditions (the FastTreeSHAP v2 / Linear TreeSHAP idea; see
``_treeshap_kernels``), summed over small subtrees ("units"). Explaining a row is then one
pass over each tree's internal nodes for its decisions and one table row per unit, whose
index is an OR of the unit's decision bits: the values equal XGBoost's
``predict(pred_contribs=True)`` (path-dependent, cover-weighted; bias last) to float rounding.
Units whose state would take more than ``max_state_bits`` bits keep their leaves loose, and
those are computed on the fly in O(d^2), so depth-10 trees stay exact without huge tables.
The tables travel in the model bundle as one ``treeshap.npz`` (the builder's layout); the
kernels' layout is derived from it at load (``_runtime``), so bundles of this format load
whatever made them. The kernels index without bounds checks: ``load`` checks every array
(``_treeshap_checks``) before deriving anything from it, and refuses bad tables with
BundleError. Loading and explaining need numpy and numba only.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._errors import BundleError
from . import _treeshap_kernels as kernels
from ._treeshap_checks import DTYPES, ancestors, check_tables, read_tables

if TYPE_CHECKING:
    import shap
    import xgboost

FORMAT_VERSION = 1
TREESHAP_NAME = "treeshap.npz"
DEFAULT_MAX_STATE_BITS = 10
DEFAULT_UNIT_HEIGHT = 2
_LOGISTIC = {"binary:logistic", "reg:logistic", "binary:logitraw"}
# the stored arrays (``treeshap.npz``) the builder makes: every one the checks type but the
# scalar ``bias`` and the JSON ``meta``
_ARRAYS = tuple(name for name in DTYPES if name not in ("bias", "meta"))
# argument order of the kernels' ``*model`` (derived from the above by ``_runtime``)
_RUNTIME = (
    "tree_inner",
    "inner_feat",
    "inner_thr",
    "inner_default_left",
    "unit_tree_start",
    "unit_slot",
    "unit_shift",
    "unit_dir",
    "unit_flipall",
    "unit_ncols",
    "unit_cols",
    "unit_toff",
    "table",
    "leaf_tree_start",
    "leaf_d",
    "leaf_zoff",
    "leaf_z",
    "leaf_feat",
    "leaf_value",
    "leaf_aoff",
    "leaf_anode",
    "leaf_apos",
    "leaf_adir",
)
_BATCH_CHUNK = 128


def _base_margin(booster: xgboost.Booster) -> float:
    """The booster's base score on the margin scale (logit of base_score for logistic)."""
    learner = json.loads(booster.save_config())["learner"]
    raw = str(learner["learner_model_param"]["base_score"]).strip("[]")
    base = float(raw.split(",")[0])
    objective = learner["objective"]["name"]
    if objective in _LOGISTIC and objective != "binary:logitraw":
        return math.log(base / (1.0 - base))
    if objective in _LOGISTIC or objective.startswith("reg:squared"):
        return base
    raise ValueError(f"objective {objective!r} is not supported by TreeExplainerTables")


def _breadth_first(tree: dict[str, Any]) -> list[int]:
    """Node ids in breadth-first order, so parents come before children."""
    if any(int(s) != 0 for s in tree.get("split_type", [])):
        raise ValueError("categorical splits are not supported by TreeExplainerTables")
    left, order, head = tree["left_children"], [0], 0
    while head < len(order):
        node = order[head]
        head += 1
        if left[node] != -1:
            order += [left[node], tree["right_children"][node]]
    return order


class _Builder:
    """Accumulates the flat node, unit, table and loose-leaf arrays over trees."""

    def __init__(self, max_state_bits: int, unit_height: int) -> None:
        self.cols: dict[str, list[Any]] = {name: [] for name in _ARRAYS}
        for name in (
            "tree_start",
            "unit_tree_start",
            "leaf_tree_start",
            "unit_noff",
            "unit_coff",
            "unit_toff",
        ):
            self.cols[name].append(0)
        self.max_state_bits = max_state_bits
        self.unit_height = unit_height
        self.expected = 0.0
        self.weights = kernels.shapley_weights(kernels.MAX_PATH)

    def add_tree(self, tree: dict[str, Any]) -> None:
        order = _breadth_first(tree)
        lefts, rights = tree["left_children"], tree["right_children"]
        c = self.cols
        index = {node: len(c["node_feat"]) + i for i, node in enumerate(order)}
        cover = np.asarray(tree["sum_hessian"], dtype=np.float32).astype(np.float64)
        cond = np.asarray(tree["split_conditions"], dtype=np.float32)
        height = dict.fromkeys(order, 0)
        for node in reversed(order):
            if lefts[node] != -1:
                height[node] = 1 + max(height[lefts[node]], height[rights[node]])
        # unique features of the path to each node and their zero fractions
        paths: dict[int, tuple[list[int], list[float]]] = {0: ([], [])}
        ratio = {}
        for node in order:
            feats, zs = paths[node]
            if lefts[node] == -1:
                self._node(-1, 0.0, 0, 0, False, 0)
                self.expected += float(cond[node]) * math.prod(zs)
                continue
            feature = int(tree["split_indices"][node])
            pos = feats.index(feature) if feature in feats else len(feats)
            for child in (lefts[node], rights[node]):
                ratio[child] = cover[child] / cover[node] if cover[node] > 0 else 0.0
                cfeats, czs = list(feats), list(zs)
                if pos == len(feats):
                    cfeats.append(feature)
                    czs.append(ratio[child])
                else:
                    czs[pos] *= ratio[child]
                paths[child] = (cfeats, czs)
            self._node(
                feature,
                cond[node],
                index[lefts[node]],
                index[rights[node]],
                bool(tree["default_left"][node]),
                pos,
            )
        for node in order:
            parent_high = node == 0 or height[tree["parents"][node]] > self.unit_height
            if height[node] <= self.unit_height and parent_high:
                self._unit(tree, node, index, paths, ratio, cond)
        c["tree_start"].append(len(c["node_feat"]))
        c["unit_tree_start"].append(len(c["unit_root"]))
        c["leaf_tree_start"].append(len(c["leaf_node"]))

    def _node(
        self, feature: int, thr: float, left: int, right: int, default_left: bool, pos: int
    ) -> None:
        for name, value in (
            ("node_feat", feature),
            ("node_thr", thr),
            ("node_left", left),
            ("node_right", right),
            ("node_default_left", default_left),
            ("node_pos", pos),
        ):
            self.cols[name].append(value)

    def _unit(
        self,
        tree: dict[str, Any],
        root: int,
        index: dict[int, int],
        paths: dict[int, tuple[list[int], list[float]]],
        ratio: dict[int, float],
        cond: np.ndarray,
    ) -> None:
        """Tabulate the subtree under ``root``, or keep its leaves loose if too large."""
        lefts, rights = tree["left_children"], tree["right_children"]
        inner: list[int] = []
        leaves: list[tuple[int, list[tuple[int, int]]]] = []
        head: list[tuple[int, list[tuple[int, int]]]] = [(root, [])]
        while head:  # breadth first; each leaf keeps its (inner index, went left) edges
            node, edges = head.pop(0)
            if lefts[node] == -1:
                leaves.append((node, edges))
                continue
            inner.append(node)
            j = len(inner) - 1
            head += [(lefts[node], [*edges, (j, 1)]), (rights[node], [*edges, (j, 0)])]
        base_feats, base_zs = paths[root]
        c = self.cols
        if len(base_feats) + len(inner) > self.max_state_bits:
            for node, _ in leaves:
                feats, zs = paths[node]
                c["leaf_node"].append(index[node])
                c["leaf_d"].append(len(feats))
                c["leaf_zoff"].append(len(c["leaf_z"]))
                c["leaf_z"].extend(zs)
                c["leaf_feat"].extend(feats)
                c["leaf_value"].append(float(cond[node]))
            return
        columns = list(base_feats)
        for node in inner:
            if int(tree["split_indices"][node]) not in columns:
                columns.append(int(tree["split_indices"][node]))
        node_col = np.asarray(
            [columns.index(int(tree["split_indices"][n])) for n in inner], dtype=np.int64
        )
        leaf_z = np.ones((len(leaves), len(columns)))
        leaf_z[:, : len(base_zs)] = base_zs
        leaf_req = np.full((len(leaves), len(inner)), -1, dtype=np.int64)
        for i, (_, edges) in enumerate(leaves):
            child = root
            path_nodes = [inner[j] for j, _ in edges]
            for (j, went_left), parent in zip(edges, path_nodes, strict=True):
                child = lefts[parent] if went_left else rights[parent]
                leaf_z[i, node_col[j]] *= ratio[child]
                leaf_req[i, j] = went_left
        values = np.asarray([float(cond[node]) for node, _ in leaves])
        table = np.zeros((1 << (len(base_feats) + len(inner))) * len(columns))
        kernels.unit_table(
            len(base_feats), node_col, values, leaf_z, leaf_req, self.weights, table, 0
        )
        c["unit_root"].append(index[root])
        c["unit_bits"].append(len(base_feats))
        c["unit_nodes"].extend(index[n] for n in inner)
        c["unit_noff"].append(len(c["unit_nodes"]))
        c["unit_cols"].extend(columns)
        c["unit_coff"].append(len(c["unit_cols"]))
        c["table"].append(table)
        c["unit_toff"].append(c["unit_toff"][-1] + table.size)


def _runtime(a: dict[str, np.ndarray], n_features: int) -> tuple[dict[str, np.ndarray], int]:
    """The kernels' layout, derived from the stored arrays (any bundle of this format).

    Per tree only the internal nodes' feature, threshold and default direction (decisions
    land in a small per-tree array). Per unit a fixed number of slots: the edges above its
    root (decision index, the root path's pattern position, the edge's direction) and its
    inner nodes (decision index, state bit), padded with a slot that is always 0; and its
    columns, padded to the widest unit with a scratch column (``n_features + 1``), reading
    past its row into the next one (the table gets that many zeros at its end). Loose leaves
    get their ancestors' edges the same way.
    """
    feat = a["node_feat"]
    n_trees = len(a["tree_start"]) - 1
    tree_of = np.repeat(np.arange(n_trees), np.diff(a["tree_start"]))
    inner = feat >= 0
    per_tree = np.bincount(tree_of[inner], minlength=n_trees)
    tree_inner = np.concatenate([[0], np.cumsum(per_tree)]).astype(np.int64)
    local = np.cumsum(inner) - 1 - tree_inner[tree_of]  # index among the tree's inner nodes
    pad = int(per_tree.max()) if n_trees else 0  # the always-0 decision slot
    parent = np.full(len(feat), -1, dtype=np.int64)
    went_left = np.zeros(len(feat), dtype=np.int64)
    ids = np.flatnonzero(inner)
    parent[a["node_left"][ids]] = ids
    parent[a["node_right"][ids]] = ids
    went_left[a["node_left"][ids]] = 1
    # units: path edges first, then inner nodes
    n_units = len(a["unit_root"])
    n_inner = np.diff(a["unit_noff"]).astype(np.int64)
    owner, above, left = ancestors(a["unit_root"], parent, went_left)
    depth = np.bincount(owner, minlength=n_units)
    n_slots = int((depth + n_inner).max()) if n_units else 1
    slot = np.full((n_units, max(n_slots, 1)), pad, dtype=np.int32)
    shift = np.zeros(slot.shape, dtype=np.int8)
    way = np.zeros(slot.shape, dtype=np.int8)
    col = np.arange(len(owner)) - np.concatenate([[0], np.cumsum(depth)])[owner]
    slot[owner, col] = local[above]
    shift[owner, col] = n_inner[owner] + a["node_pos"][above]
    way[owner, col] = left
    unit_of = np.repeat(np.arange(n_units), n_inner)
    j = np.arange(len(unit_of)) - a["unit_noff"][unit_of]
    slot[unit_of, depth[unit_of] + j] = local[a["unit_nodes"]]
    shift[unit_of, depth[unit_of] + j] = n_inner[unit_of] - 1 - j
    n_cols = np.diff(a["unit_coff"]).astype(np.int64)
    width = max(int(n_cols.max()) if n_units else 1, 1)
    cols = np.full((n_units, width), n_features + 1, dtype=np.int32)
    unit_of = np.repeat(np.arange(n_units), n_cols)
    cols[unit_of, np.arange(len(unit_of)) - a["unit_coff"][unit_of]] = a["unit_cols"]
    end = int(a["unit_toff"][-1]) + width
    table = a["table"]
    if len(table) != end:
        table = np.concatenate([table[: int(a["unit_toff"][-1])], np.zeros(width, np.float32)])
    # loose leaves
    leaf_owner, leaf_above, leaf_left = ancestors(a["leaf_node"], parent, went_left)
    runtime = {
        "tree_inner": tree_inner,
        "inner_feat": feat[inner].astype(np.int32),
        "inner_thr": a["node_thr"][inner].astype(np.float32),
        "inner_default_left": a["node_default_left"][inner].astype(np.bool_),
        "unit_tree_start": a["unit_tree_start"].astype(np.int64),
        "unit_slot": slot,
        "unit_shift": shift,
        "unit_dir": way,
        "unit_flipall": ((np.int64(1) << a["unit_bits"].astype(np.int64)) - 1) << n_inner,
        "unit_ncols": n_cols,
        "unit_cols": cols,
        "unit_toff": a["unit_toff"][:-1].astype(np.int64),
        "table": table.astype(np.float32, copy=False),
        "leaf_aoff": np.concatenate(
            [[0], np.cumsum(np.bincount(leaf_owner, minlength=len(a["leaf_node"])))]
        ).astype(np.int64),
        "leaf_anode": local[leaf_above].astype(np.int32),
        "leaf_apos": a["node_pos"][leaf_above].astype(np.int64),
        "leaf_adir": leaf_left.astype(np.int64),
    }
    for name in ("leaf_tree_start", "leaf_d", "leaf_zoff", "leaf_feat"):
        runtime[name] = a[name].astype(np.int64)
    for name in ("leaf_z", "leaf_value"):
        runtime[name] = a[name].astype(np.float64)
    return runtime, pad + 1


class TreeExplainerTables:
    """Exact path-dependent TreeSHAP contributions on the margin, XGBoost-free at run time."""

    def __init__(
        self, arrays: dict[str, np.ndarray], n_features: int, bias: float, warm: bool = True
    ) -> None:
        self.n_features = n_features
        self.bias = bias
        self._weights = kernels.shapley_weights(kernels.MAX_PATH)
        self.runtime, self._n_left = _runtime(arrays, n_features)
        self.arrays = {**arrays, "table": self.runtime["table"]}  # the padded table, shared
        self._model = tuple(self.runtime[name] for name in _RUNTIME)
        starts = self.runtime["unit_tree_start"]
        tree_units = max(int(np.diff(starts).max()) if len(starts) > 1 else 0, 1)
        self._sizes = (self._n_left, tree_units, self._weights)  # the kernels' leading args
        if warm:  # compile (or load the numba cache) now, not on the first request
            self.contributions(np.zeros((1, n_features), dtype=np.float32))
            self.contributions(np.zeros((2, n_features), dtype=np.float32))

    @classmethod
    def from_booster(
        cls,
        booster: xgboost.Booster,
        n_features: int,
        max_state_bits: int = DEFAULT_MAX_STATE_BITS,
        unit_height: int = DEFAULT_UNIT_HEIGHT,
    ) -> TreeExplainerTables:
        """Flatten ``booster`` and build the tables (the only use of XGBoost).

        Subtrees of ``unit_height`` levels are tabulated when their state (path pattern bits
        plus inner decisions) has at most ``max_state_bits`` bits; leaves of larger ones are
        explained on the fly.
        """
        model = json.loads(bytes(booster.save_raw("json")))
        gbm = model["learner"]["gradient_booster"]
        if gbm["name"] != "gbtree":
            raise ValueError(f"booster {gbm['name']!r} is not supported (gbtree only)")
        if any(int(group) != 0 for group in gbm["model"]["tree_info"]):
            raise ValueError("multi-output models are not supported")
        builder = _Builder(max_state_bits, unit_height)
        for tree in gbm["model"]["trees"]:
            builder.add_tree(tree)
        c = builder.cols
        if c["node_feat"] and max(c["node_feat"]) >= n_features:
            raise ValueError(f"the model uses feature {max(c['node_feat'])} >= {n_features}")
        dtypes = {
            "node_thr": np.float32,
            "node_default_left": np.bool_,
            "leaf_z": np.float64,
            "leaf_value": np.float64,
        }
        arrays: dict[str, np.ndarray] = {
            name: np.asarray(values, dtype=dtypes.get(name, np.int64))
            for name, values in c.items()
            if name != "table"
        }
        arrays["table"] = np.concatenate([np.zeros(0), *c["table"]]).astype(np.float32)
        return cls(arrays, n_features, builder.expected + _base_margin(booster))

    def save(self, path: Path) -> None:
        """Write one ``.npz`` (uncompressed, so loading is a plain read)."""
        meta = np.asarray([FORMAT_VERSION, self.n_features], np.int64)
        with open(path, "wb") as handle:  # np.savez would append ".npz" to other names
            arrays: dict[str, Any] = {**self.arrays, "meta": meta, "bias": np.float64(self.bias)}
            np.savez(handle, **arrays)

    @classmethod
    def load(
        cls, path: Path, n_features: int | None = None, warm: bool = True
    ) -> TreeExplainerTables:
        """Read tables written by ``save``, checked (for ``n_features`` when given) before
        use; BundleError if they are not sound. Does not import xgboost."""
        # the bundles' size caps: looked up here, as bundles imports this module (a loaded
        # model holds its tables)
        from ..bundles._files import size_cap

        path, cap = Path(path), size_cap(TREESHAP_NAME)
        with path.open("rb") as f:
            size = os.fstat(f.fileno()).st_size
            data = f.read(cap + 1) if size <= cap else b""
        if size > cap or len(data) > cap:
            raise BundleError(
                f"{path}: {max(size, len(data))} bytes, over the cap of {cap} "
                f"bytes for {TREESHAP_NAME}"
            )
        return cls.from_bytes(data, n_features, warm, where=str(path))

    @classmethod
    def from_bytes(
        cls,
        data: bytes,
        n_features: int | None = None,
        warm: bool = True,
        where: str = "treeshap.npz",
    ) -> TreeExplainerTables:
        """Tables from the bytes of a ``treeshap.npz`` (see ``load``); ``where`` names them
        in errors."""
        arrays = read_tables(data, where)
        version = int(arrays["meta"][0])
        if version != FORMAT_VERSION:
            raise BundleError(
                f"{where}: meta: treeshap format {version}, expected {FORMAT_VERSION}"
            )
        n_features = check_tables(arrays, n_features, where)
        bias = float(arrays["bias"])
        return cls({name: arrays[name] for name in _ARRAYS}, n_features, bias, warm=warm)

    @property
    def nbytes(self) -> int:
        """Memory of the flattened trees, pattern tables and run-time arrays, in bytes."""
        held = {id(a): a.nbytes for a in (*self.arrays.values(), *self.runtime.values())}
        return int(sum(held.values()))

    @property
    def table_nbytes(self) -> int:
        """Memory of the pattern tables alone, in bytes."""
        return int(self.arrays["table"].nbytes)

    def contributions(self, matrix: np.ndarray) -> np.ndarray:
        """SHAP values on the margin, float64 (n, n_features + 1), bias last (pred_contribs)."""
        rows = np.ascontiguousarray(np.atleast_2d(matrix), dtype=np.float32)
        if rows.ndim != 2 or rows.shape[1] != self.n_features:
            raise ValueError(f"expected rows of {self.n_features} features, got {rows.shape}")
        out = np.zeros((rows.shape[0], self.n_features + 1))
        out[:, -1] = self.bias
        if rows.shape[0] <= _BATCH_CHUNK:  # one block: no thread pool to wake (the service's
            kernels.explain_one(rows, out, *self._sizes, *self._model)  # case, one per worker)
        elif rows.shape[0]:
            kernels.explain_many(rows, out, _BATCH_CHUNK, *self._sizes, *self._model)
        return out

    def to_shap_explanation(
        self, matrix: np.ndarray, feature_names: list[str] | None = None
    ) -> shap.Explanation:
        """A ``shap.Explanation`` (margin scale) for shap's waterfall and beeswarm plots."""
        import shap

        values = self.contributions(matrix)
        names = feature_names or [f"f{i}" for i in range(self.n_features)]
        return shap.Explanation(
            values=values[:, :-1],
            base_values=values[:, -1],
            data=np.atleast_2d(np.asarray(matrix, dtype=np.float64)),
            feature_names=list(names),
        )
