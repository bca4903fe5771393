"""Numba kernels for exact path-dependent TreeSHAP (the values of XGBoost ``pred_contribs``).

For one leaf L of a tree, merge repeated features on its root-to-leaf path into ``d`` unique
features. Each unique feature k has a zero fraction ``z_k`` (product of child/parent cover
ratios over its edges) and, for a row, a one fraction ``o_k`` in {0, 1} (does the row follow
every edge of k towards L). The leaf's share of the conditional expectation is the product
game ``v_L(S) = value_L * prod_k (o_k if k in S else z_k)``, and a row's SHAP values are the
sum over all leaves of the Shapley values of these games. Those depend on the row only through
the ``d``-bit pattern ``o``, so they are either looked up in a per-leaf table of ``2**d``
patterns (built once, summed over the leaves of a small subtree, see ``unit_table``) or
computed on the fly in O(d^2) for leaves whose table would be too large (``leaf_shapley``).
``_explain_rows`` explains rows from the run-time layout that ``screening._treeshap._runtime``
derives from the stored one.

Leaf Shapley values in closed form: let ``P(t) = prod_k (z_k + o_k t)`` with coefficients
``p_m`` and ``w_d(m) = m! (d-1-m)! / d!``. A feature with ``o_i = 0`` gets
``-value * sum_m p_m w_d(m)``; one with ``o_i = 1`` gets ``value * (1 - z_i) * sum_m q_m
w_d(m)`` where ``q = P / (z_i + t)`` (exact synthetic division, stable since ``z_i <= 1``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic

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


def _prefetch_intrinsic(typingctx, array, index):
    """``_prefetch(array, index)``: ask for the cache line of ``array[index]`` (1-d), not wait.

    LLVM's ``llvm.prefetch`` (a no-op on targets without one). A row's table rows are random
    lines of a table larger than the caches: requested together, the loads overlap.
    """
    sig = types.void(array, types.intp)

    def codegen(context, builder, signature, args):
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        ptr = cgutils.get_item_pointer(
            context, builder, signature.args[0], ary, [args[1]], wraparound=False
        )
        byte_ptr, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [byte_ptr, i32, i32, i32])
        fn = builder.module.declare_intrinsic("llvm.prefetch", [byte_ptr], fnty)
        builder.call(fn, [builder.bitcast(ptr, byte_ptr), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return sig, codegen


_prefetch: Any = intrinsic(_prefetch_intrinsic)


@njit(cache=True)
def _add_rows(scratch, rows, stride, u0, u1, first, unit_cols, table):
    """Add each block row's table rows ``rows[r * stride + u - first]`` of units ``u0:u1``."""
    width = unit_cols.shape[1]
    for r in range(scratch.shape[0]):
        phi = scratch[r]
        for u in range(u0, u1):
            row = rows[r * stride + u - first]
            for c in range(width):
                phi[unit_cols[u, c]] += table[row + c]


@njit(cache=True)
def _explain_rows(
    xs,
    phis,
    start,
    stop,
    n_left,
    tree_units,
    w,
    tree_inner,
    inner_feat,
    inner_thr,
    inner_default_left,
    unit_tree_start,
    unit_slot,
    unit_shift,
    unit_dir,
    unit_flipall,
    unit_ncols,
    unit_cols,
    unit_toff,
    table,
    leaf_tree_start,
    leaf_d,
    leaf_zoff,
    leaf_z,
    leaf_feat,
    leaf_value,
    leaf_aoff,
    leaf_anode,
    leaf_apos,
    leaf_adir,
):
    """Add the SHAP values of float32 rows ``xs[start:stop]`` into ``phis``, tree by tree.

    Per tree and row: ``left[i]`` gets the row's decision (1 = left) at the tree's i-th
    internal node (the last entry stays 0: the padding slot). A unit's table state is one OR
    over its slots: a path slot gives the mismatch bit of an edge above the unit root at its
    feature's pattern position (repeated features clear one bit), an inner slot gives a
    decision; XOR with ``unit_flipall`` turns mismatches into the pattern. Each unit adds
    ``unit_cols.shape[1]`` columns (a fixed count, so the loop is predictable): past its own
    columns they land in a scratch column. Loose leaves get their pattern the same way and
    their Shapley values on the fly. Table rows are prefetched as they are found and added
    later: a single row's after all trees (its ~1 random cache line per unit then load in
    parallel), a block's after each tree (``tree_units``: the most units in one tree). One
    function for all trees and rows: a call per tree would copy every array argument.
    """
    n_cols = phis.shape[1]
    n_block = stop - start
    scratch = np.zeros((n_block, n_cols + 1))
    left = np.zeros(n_left, dtype=np.int64)
    # table rows to add: one row's for all trees, or a block's for the current tree
    defer = n_block == 1
    stride = 0 if defer else tree_units
    rows = np.empty(unit_tree_start[-1] if defer else n_block * tree_units, dtype=np.int64)
    out = np.zeros(MAX_PATH)
    poly = np.zeros(MAX_PATH + 1)
    n_slots = unit_slot.shape[1]
    width = unit_cols.shape[1]
    for t in range(tree_inner.shape[0] - 1):
        base = tree_inner[t]
        n_inner = tree_inner[t + 1] - base
        u0 = unit_tree_start[t]
        u1 = unit_tree_start[t + 1]
        first = 0 if defer else u0
        for r in range(n_block):
            x = xs[start + r]
            phi = scratch[r]
            for i in range(n_inner):
                value = x[inner_feat[base + i]]
                left[i] = np.int64(
                    (value < inner_thr[base + i]) | (np.isnan(value) & inner_default_left[base + i])
                )
            for u in range(u0, u1):
                bits = np.int64(0)
                for j in range(n_slots):
                    bits |= (left[unit_slot[u, j]] ^ unit_dir[u, j]) << unit_shift[u, j]
                row = unit_toff[u] + (bits ^ unit_flipall[u]) * unit_ncols[u]
                rows[r * stride + u - first] = row
                _prefetch(table, row)
                _prefetch(table, row + width - 1)
            for leaf in range(leaf_tree_start[t], leaf_tree_start[t + 1]):
                d = leaf_d[leaf]
                missed = np.int64(0)
                for a in range(leaf_aoff[leaf], leaf_aoff[leaf + 1]):
                    missed |= (left[leaf_anode[a]] ^ leaf_adir[a]) << leaf_apos[a]
                pattern = ((np.int64(1) << d) - 1) & ~missed
                z0 = leaf_zoff[leaf]
                leaf_shapley(leaf_value[leaf], leaf_z[z0 : z0 + d], d, pattern, w, out, poly)
                for k in range(d):
                    phi[leaf_feat[z0 + k]] += out[k]
        if not defer:
            _add_rows(scratch, rows, stride, u0, u1, u0, unit_cols, table)
    if defer:
        _add_rows(scratch, rows, 0, 0, unit_tree_start[-1], 0, unit_cols, table)
    for r in range(n_block):
        for c in range(n_cols):
            phis[start + r, c] += scratch[r, c]


@njit(cache=True)
def explain_one(xs, phis, n_left, tree_units, w, *model):
    """SHAP values of float32 rows ``xs`` (2-d) into ``phis`` on the calling thread."""
    _explain_rows(xs, phis, 0, xs.shape[0], n_left, tree_units, w, *model)


@njit(cache=True, parallel=True)
def explain_many(xs, phis, chunk, n_left, tree_units, w, *model):
    """SHAP values of float32 rows ``xs`` into ``phis``, blocks of rows across threads."""
    n = xs.shape[0]
    for c in prange((n + chunk - 1) // chunk):
        stop = min(n, (c + 1) * chunk)
        _explain_rows(xs, phis, c * chunk, stop, n_left, tree_units, w, *model)
