"""Numba kernels for exact path-dependent TreeSHAP (the values of XGBoost ``pred_contribs``).

For one leaf L of a tree, merge repeated features on its root-to-leaf path into ``d`` unique
features. Each unique feature k has a zero fraction ``z_k`` (product of child/parent cover
ratios over its edges) and, for a row, a one fraction ``o_k`` in {0, 1} (does the row follow
every edge of k towards L). The leaf's share of the conditional expectation is the product
game ``v_L(S) = value_L * prod_k (o_k if k in S else z_k)``, and a row's SHAP values are the
sum over all leaves of the Shapley values of these games. Those depend on the row only through
the ``d``-bit pattern ``o``, so they are either looked up in a per-leaf table of ``2**d``
patterns (built once, see ``leaf_table``) or computed on the fly in O(d^2) for leaves whose
table would be too large (``leaf_shapley``).

Leaf Shapley values in closed form: let ``P(t) = prod_k (z_k + o_k t)`` with coefficients
``p_m`` and ``w_d(m) = m! (d-1-m)! / d!``. A feature with ``o_i = 0`` gets
``-value * sum_m p_m w_d(m)``; one with ``o_i = 1`` gets ``value * (1 - z_i) * sum_m q_m
w_d(m)`` where ``q = P / (z_i + t)`` (exact synthetic division, stable since ``z_i <= 1``).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

MAX_PATH = 64  # unique features on one path; bit patterns are int64


@njit(cache=True)
def shapley_weights(max_d: int) -> np.ndarray:
    """``w[d, m] = m! (d-1-m)! / d!`` for 1 <= d <= max_d, 0 <= m < d."""
    w = np.zeros((max_d + 1, max_d + 1))
    for d in range(1, max_d + 1):
        w[d, 0] = 1.0 / d
        for m in range(1, d):
            w[d, m] = w[d, m - 1] * m / (d - m)
    return w


@njit(cache=True)
def leaf_shapley(value, z, d, pattern, w, out, poly):
    """Shapley values of one leaf's product game for a bit ``pattern``; writes ``out[:d]``.

    ``poly`` is scratch space of at least ``d + 1`` floats.
    """
    poly[0] = 1.0
    deg = 0
    for k in range(d):
        zk = z[k]
        if (pattern >> k) & 1:
            deg += 1
            poly[deg] = 0.0
            for m in range(deg, 0, -1):
                poly[m] = poly[m] * zk + poly[m - 1]
            poly[0] *= zk
        else:
            for m in range(deg + 1):
                poly[m] *= zk
    unsatisfied = 0.0
    for m in range(deg + 1):
        unsatisfied += poly[m] * w[d, m]
    unsatisfied = -value * unsatisfied
    for k in range(d):
        if (pattern >> k) & 1:
            zk = z[k]
            q = poly[deg]
            total = q * w[d, deg - 1]
            for m in range(deg - 1, 0, -1):
                q = poly[m] - zk * q
                total += q * w[d, m - 1]
            out[k] = value * (1.0 - zk) * total
        else:
            out[k] = unsatisfied


@njit(cache=True)
def unit_table(n_pattern_bits, node_col, leaf_value, leaf_z, leaf_req, w, table, base):

    """Fill one unit's table: summed leaf Shapley values for every state of the unit.

    A unit is a node ``m`` with its subtree of a few levels. Its state is the row's pattern on
    the ``n_pattern_bits`` unique features of the path to ``m`` (high bits) followed by the
    row's decision at each of the unit's internal nodes (1 = left, first node highest).
    ``leaf_z[l, c]`` is leaf l's zero fraction for unit column c (1.0 when c is not on its
    path: a dummy player), ``leaf_req[l, j]`` is 1/0 when leaf l's path goes left/right at
    internal node j and -1 when it does not pass j; node j splits on column ``node_col[j]``.
    """
    n_leaves, n_cols = leaf_z.shape
    n_int = node_col.shape[0]
    out = np.zeros(n_cols)
    poly = np.zeros(n_cols + 1)
    pattern_mask = (np.int64(1) << n_pattern_bits) - 1
    all_cols = (np.int64(1) << n_cols) - 1
    for state in range(np.int64(1) << (n_pattern_bits + n_int)):
        row = base + state * n_cols
        for leaf in range(n_leaves):
            pattern = ((state >> n_int) & pattern_mask) | (all_cols & ~pattern_mask)
            for j in range(n_int):
                req = leaf_req[leaf, j]
                if req >= 0 and ((state >> (n_int - 1 - j)) & 1) != req:
                    pattern &= ~(np.int64(1) << node_col[j])
            leaf_shapley(leaf_value[leaf], leaf_z[leaf], n_cols, pattern, w, out, poly)
            for c in range(n_cols):
                table[row + c] += out[c]


@njit(cache=True)
def _explain_tree(t, x, phi, mask, left, out, poly, w, tree_start, node_feat, node_thr,
                  node_left, node_right, node_default_left, node_pos, unit_tree_start,
                  unit_root, unit_bits, unit_noff, unit_nodes, unit_coff, unit_cols, unit_toff,
                  table, leaf_tree_start, leaf_node, leaf_d, leaf_zoff, leaf_z, leaf_feat,
                  leaf_value):

    """Add tree ``t``'s SHAP values for one float32 row ``x`` into ``phi``."""
    first = tree_start[t]
    mask[first] = np.int64(-1)
    for n in range(first, tree_start[t + 1]):
        f = node_feat[n]
        if f < 0:
            continue
        value = x[f]
        go_left = np.int64((value < node_thr[n]) | (np.isnan(value) & node_default_left[n]))
        left[n] = go_left
        m = mask[n]
        mask[node_left[n]] = m & ~((1 - go_left) << node_pos[n])
        mask[node_right[n]] = m & ~(go_left << node_pos[n])
    for u in range(unit_tree_start[t], unit_tree_start[t + 1]):
        state = mask[unit_root[u]] & ((np.int64(1) << unit_bits[u]) - 1)
        for j in range(unit_noff[u], unit_noff[u + 1]):
            state = (state << 1) | left[unit_nodes[j]]
        c0 = unit_coff[u]
        n_cols = unit_coff[u + 1] - c0
        row = unit_toff[u] + state * n_cols
        for c in range(n_cols):
            phi[unit_cols[c0 + c]] += table[row + c]
    for leaf in range(leaf_tree_start[t], leaf_tree_start[t + 1]):
        d = leaf_d[leaf]
        pattern = mask[leaf_node[leaf]] & ((np.int64(1) << d) - 1)
        z0 = leaf_zoff[leaf]
        leaf_shapley(leaf_value[leaf], leaf_z[z0 : z0 + d], d, pattern, w, out, poly)
        for k in range(d):
            phi[leaf_feat[z0 + k]] += out[k]


@njit(cache=True)
def _explain_block(xs, phis, start, stop, w, *model):
    """Rows ``start:stop`` tree by tree, so each tree's nodes and tables stay in cache."""
    n_nodes = model[1].shape[0]
    mask = np.empty(n_nodes, dtype=np.int64)
    left = np.zeros(n_nodes, dtype=np.int64)
    out = np.zeros(MAX_PATH)
    poly = np.zeros(MAX_PATH + 1)
    for t in range(model[0].shape[0] - 1):
        for r in range(start, stop):
            _explain_tree(t, xs[r], phis[r], mask, left, out, poly, w, *model)


@njit(cache=True)
def explain_one(x, phi, w, *model):
    """SHAP values of float32 rows ``x`` (2-d) into ``phi`` on the calling thread."""
    _explain_block(x, phi, 0, x.shape[0], w, *model)


@njit(cache=True, parallel=True)
def explain_many(xs, phis, chunk, w, *model):
    """SHAP values of float32 rows ``xs`` into ``phis``, blocks of rows across threads."""
    n = xs.shape[0]
    for c in prange((n + chunk - 1) // chunk):
        _explain_block(xs, phis, c * chunk, min(n, (c + 1) * chunk), w, *model)
