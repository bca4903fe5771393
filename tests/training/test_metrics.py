"""Capacity metrics against hand-computed cases and brute-force references."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from training.metrics import (
    MetricError,
    brier,
    capacity_report,
    expected_calibration_error,
    fraction_label,
    pr_auc,
    precision_at_k,
    recall_at_k,
    roc_auc,
    sliced_report,
)

DESC10 = list(range(10, 0, -1))  # scores 10..1: rank = row order
Y10 = [1, 0, 1, 0, 0, 0, 0, 0, 0, 1]
Y100 = [1] * 7 + [0] * 93  # positives exactly at ranks 1..7

# (y, scores, fraction, weights, precision, recall)
CAPACITY_CASES = [
    # k = ceil(0.2 * 10) = 2: rows 0, 1 -> one hit out of three positives
    (Y10, DESC10, 0.2, None, 1 / 2, 1 / 3),
    # k = 1: only the top row, a positive
    (Y10, DESC10, 0.1, None, 1.0, 1 / 3),
    # k = ceil(2.5) = 3: rows 0..2 hold two positives
    (Y10, DESC10, 0.25, None, 2 / 3, 2 / 3),
    # k = 10: everything inspected
    (Y10, DESC10, 1.0, None, 3 / 10, 1.0),
    # tie: equal scores keep input order, so row 0 (negative) is inspected first
    ([0, 1], [0.5, 0.5], 0.5, None, 0.0, 0.0),
    # same tie, positive first in input order
    ([1, 0], [0.5, 0.5], 0.5, None, 1.0, 1.0),
    # 0.07 * 100 = 7.000000000000001 must mean k = 7, not 8 (then precision would be 7/8)
    (Y100, list(range(100, 0, -1)), 0.07, None, 1.0, 1.0),
    # weighted, total mass 10, target 1: prefix masses before rows are 0,1,4,5 -> row 0
    ([1, 0, 0, 1], [4, 3, 2, 1], 0.1, [1, 3, 1, 5], 1.0, 1 / 6),
    # weighted, target 3: rows 0, 1 (mass 4), one positive of mass 1
    ([1, 0, 0, 1], [4, 3, 2, 1], 0.3, [1, 3, 1, 5], 1 / 4, 1 / 6),
    # weighted, target 5: rows 0..2 (mass 5)
    ([1, 0, 0, 1], [4, 3, 2, 1], 0.5, [1, 3, 1, 5], 1 / 5, 1 / 6),
    # weighted, target 6: mass before row 3 is 5 < 6, so all rows
    ([1, 0, 0, 1], [4, 3, 2, 1], 0.6, [1, 3, 1, 5], 6 / 10, 1.0),
    # scores given in shuffled order: ranking 0.9 (y=1), 0.7 (y=0), 0.3, 0.1
    ([0, 1, 0, 1], [0.3, 0.9, 0.7, 0.1], 0.5, None, 1 / 2, 1 / 2),
]


@pytest.mark.parametrize(
    ("y", "scores", "fraction", "weights", "precision", "recall"), CAPACITY_CASES
)
def test_precision_recall_at_k(
    y: Any, scores: Any, fraction: Any, weights: Any, precision: Any, recall: Any
) -> None:
    assert precision_at_k(y, scores, fraction, weights) == pytest.approx(precision)
    assert recall_at_k(y, scores, fraction, weights) == pytest.approx(recall)


# (y, scores, weights, average precision)
PR_AUC_CASES = [
    # thresholds give (recall, precision) (.5, 1), (.5, .5), (1, 2/3), (1, .5)
    ([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.6], None, 0.5 * 1 + 0.5 * 2 / 3),
    # perfect ranking
    ([1, 1, 0, 0], [0.9, 0.8, 0.7, 0.6], None, 1.0),
    # one tied threshold: recall 1 at precision 1/2
    ([1, 0, 0, 1], [0.5, 0.5, 0.5, 0.5], None, 0.5),
    # weighted: (recall .5, precision 1), (.5, 1/3), (1, 2/4)
    ([1, 0, 1], [3, 2, 1], [1, 2, 1], 0.5 * 1 + 0.5 * 0.5),
]


@pytest.mark.parametrize(("y", "scores", "weights", "expected"), PR_AUC_CASES)
def test_pr_auc(y: Any, scores: Any, weights: Any, expected: Any) -> None:
    assert pr_auc(y, scores, weights) == pytest.approx(expected)


# (y, scores, weights, roc auc)
ROC_AUC_CASES = [
    # 3 of the 4 positive-negative pairs ordered correctly
    ([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.6], None, 3 / 4),
    # one pair, tied: counts one half
    ([1, 0], [0.5, 0.5], None, 0.5),
    # pairs: tie (.5), win, loss, win -> 2.5 / 4
    ([1, 1, 0, 0], [0.5, 0.2, 0.5, 0.1], None, 2.5 / 4),
    # weighted: the positive loses to the negative of weight 3, beats the one of weight 1
    ([1, 0, 0], [0.5, 0.6, 0.4], [1, 3, 1], 1 / 4),
    # reversed ranking
    ([0, 0, 1, 1], [0.9, 0.8, 0.7, 0.6], None, 0.0),
]


@pytest.mark.parametrize(("y", "scores", "weights", "expected"), ROC_AUC_CASES)
def test_roc_auc(y: Any, scores: Any, weights: Any, expected: Any) -> None:
    assert roc_auc(y, scores, weights) == pytest.approx(expected)


# (y, prob, bins, weights, ece)
ECE_CASES = [
    # bins {.1,.2} gap .15 and {.3,.4} gap .65, each half the mass
    ([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4], 2, None, 0.5 * 0.15 + 0.5 * 0.65),
    # one bin: |mean prob .25 - mean label .5|
    ([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4], 1, None, 0.25),
    # perfectly calibrated
    ([0, 0, 1, 1], [0.0, 0.0, 1.0, 1.0], 2, None, 0.0),
    # weighted: row 0 (mass 3) in bin 0, row 1 (mass 1) in bin 1, gap .1 each
    ([0, 1], [0.1, 0.9], 2, [3, 1], 0.1),
    # rows given unsorted: same as the first case
    ([1, 0, 1, 0], [0.4, 0.1, 0.3, 0.2], 2, None, 0.4),
]


@pytest.mark.parametrize(("y", "prob", "bins", "weights", "expected"), ECE_CASES)
def test_expected_calibration_error(
    y: Any, prob: Any, bins: Any, weights: Any, expected: Any
) -> None:
    assert expected_calibration_error(y, prob, bins, weights) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("weights", "expected"),
    [
        (None, (0.04 + 0.16) / 2),  # plain mean of squared errors
        ([3, 1], (3 * 0.04 + 0.16) / 4),  # weighted mean
    ],
)
def test_brier(weights: Any, expected: Any) -> None:
    assert brier([0, 1], [0.2, 0.6], weights) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: precision_at_k([0, 2], [1, 2], 0.5), "row 1 holds 2"),  # label not 0/1
        (lambda: precision_at_k([0, 1], [1, 2, 3], 0.5), "shape (2,)"),  # length mismatch
        (lambda: precision_at_k([0, 1], [1, np.nan], 0.5), "scores must be finite"),
        (lambda: precision_at_k([0, 1], [1, 2], 0.0), "fraction must be in (0, 1]"),
        (lambda: precision_at_k([0, 1], [1, 2], 0.5, [1, -1]), "weights must be >= 0"),
        (lambda: precision_at_k([], [], 0.5), "empty"),
        (lambda: recall_at_k([0, 0], [1, 2], 0.5), "no positives"),
        (lambda: roc_auc([1, 1], [1, 2]), "both classes"),
        (lambda: pr_auc([0, 0], [1, 2]), "both classes"),
        (lambda: brier([0, 1], [0.5, 1.5]), "prob must lie in [0, 1]"),
        (lambda: expected_calibration_error([0, 1], [0.5, 0.5], bins=0), "bins must be >= 1"),
    ],
)
def test_bad_input_is_refused(call: Any, message: Any) -> None:
    with pytest.raises(MetricError) as info:
        call()
    assert message in str(info.value)


def test_fraction_labels() -> None:
    assert [fraction_label(f) for f in (0.01, 0.02, 0.05, 0.1, 0.025)] == [
        "1%",
        "2%",
        "5%",
        "10%",
        "2.5%",
    ]


def test_capacity_report_keys_and_values() -> None:
    y = np.array(Y10)
    report = capacity_report(y, DESC10, fractions=(0.1, 0.2))
    assert report["n"] == 10
    assert report["positives"] == 3
    assert report["weighted"] is False
    assert report["base_rate"] == pytest.approx(0.3)
    assert report["precision@10%"] == pytest.approx(1.0)
    assert report["recall@20%"] == pytest.approx(1 / 3)
    assert report["lift@10%"] == pytest.approx(1 / 0.3)
    assert report["roc_auc"] == pytest.approx(roc_auc(y, DESC10))
    assert report["pr_auc"] == pytest.approx(pr_auc(y, DESC10))


def test_capacity_report_default_fractions() -> None:
    rng = np.random.default_rng(1)
    y = rng.random(1000) < 0.1
    report = capacity_report(y, rng.random(1000))
    for label in ("1%", "2%", "5%", "10%"):
        assert {f"precision@{label}", f"recall@{label}", f"lift@{label}"} <= report.keys()


def test_sliced_report_skips_thin_slices() -> None:
    rng = np.random.default_rng(2)
    n = 1000
    y = (rng.random(n) < 0.2).astype(int)
    scores = rng.random(n) + y
    country = np.array(["CN"] * 600 + ["NL"] * 390 + ["XX"] * 10)
    route = np.array([None] * 500 + ["air"] * 500, dtype=object)
    out = sliced_report(
        y, scores, {"country": country, "route": route}, fractions=(0.1,), min_rows=50
    )
    assert set(out) == {"country", "route"}
    assert set(out["country"]) == {"CN", "NL", "XX"}
    assert out["country"]["XX"]["n"] == 10
    assert out["country"]["XX"]["skipped"] == "too few rows: 10 < min_rows 50"
    assert out["country"]["CN"] == capacity_report(y[:600], scores[:600], (0.1,))
    assert set(out["route"]) == {"<missing>", "air"}
    assert out["route"]["air"]["n"] == 500


def test_sliced_report_skips_slice_without_positives() -> None:
    y = np.array([0] * 300 + [1] * 30 + [0] * 300)
    scores = np.linspace(0, 1, y.size)
    flag = np.array([0] * 300 + [1] * 330)
    out = sliced_report(y, scores, {"flag": flag}, min_rows=100, min_positives=5)
    assert out["flag"]["0"]["skipped"] == "too few positives: 0 < min_positives 5"
    assert out["flag"]["1"]["positives"] == 30


def test_sliced_report_refuses_misaligned_slice() -> None:
    with pytest.raises(MetricError, match="slice 'country' must have shape"):
        sliced_report([0, 1], [0.1, 0.2], {"country": np.array(["a"])})


# -- brute-force references on random small inputs ---------------------------------------

small_scores = st.lists(st.integers(0, 4), min_size=2, max_size=12)  # integers: many ties


def _brute_auc(y: Any, s: Any, w: Any) -> float:
    num = den = 0.0
    for i in range(len(y)):
        for j in range(len(y)):
            if y[i] == 1 and y[j] == 0:
                pair = w[i] * w[j]
                den += pair
                num += pair * (1.0 if s[i] > s[j] else 0.5 if s[i] == s[j] else 0.0)
    return num / den


def _brute_ap(y: Any, s: Any, w: Any) -> float:
    total_pos = sum(wi for yi, wi in zip(y, w, strict=True) if yi)
    ap, last_recall = 0.0, 0.0
    for t in sorted(set(s), reverse=True):
        sel = [i for i in range(len(y)) if s[i] >= t]
        tp = sum(w[i] * y[i] for i in sel)
        mass = sum(w[i] for i in sel)
        recall = tp / total_pos
        ap += (recall - last_recall) * (tp / mass if mass else 0.0)
        last_recall = recall
    return ap


@st.composite
def labelled(draw: Any, weighted: bool) -> Any:
    s = draw(small_scores)
    y = draw(st.lists(st.integers(0, 1), min_size=len(s), max_size=len(s)))
    w = (
        draw(st.lists(st.integers(1, 5), min_size=len(s), max_size=len(s)))
        if weighted
        else [1] * len(s)
    )
    return y, s, w


@settings(max_examples=200, deadline=None)
@given(labelled(weighted=True))
def test_roc_auc_matches_all_pairs(case: Any) -> None:
    y, s, w = case
    if 0 < sum(y) < len(y):
        assert roc_auc(y, s, w) == pytest.approx(_brute_auc(y, s, w))


@settings(max_examples=200, deadline=None)
@given(labelled(weighted=True))
def test_pr_auc_matches_threshold_sweep(case: Any) -> None:
    y, s, w = case
    if 0 < sum(y) < len(y):
        assert pr_auc(y, s, w) == pytest.approx(_brute_ap(y, s, w))


@settings(max_examples=200, deadline=None)
@given(labelled(weighted=False), st.sampled_from([0.01, 0.1, 0.25, 0.3, 0.5, 0.77, 1.0]))
def test_precision_at_k_matches_sorted_prefix(case: Any, fraction: Any) -> None:
    y, s, _ = case
    ranked = sorted(range(len(s)), key=lambda i: (-s[i], i))
    k = max(1, math.ceil(round(fraction * len(s), 9)))
    hits = sum(y[i] for i in ranked[:k])
    assert precision_at_k(y, s, fraction) == pytest.approx(hits / k)
    if sum(y):
        assert recall_at_k(y, s, fraction) == pytest.approx(hits / sum(y))


@settings(max_examples=100, deadline=None)
@given(labelled(weighted=True), st.sampled_from([0.1, 0.3, 0.5, 1.0]))
def test_integer_weights_equal_repeated_rows(case: Any, fraction: Any) -> None:
    """Weight 3 on a row must count like three adjacent copies of it."""
    y, s, w = case
    rep_y = [yi for yi, wi in zip(y, w, strict=True) for _ in range(wi)]
    rep_s = [si for si, wi in zip(s, w, strict=True) for _ in range(wi)]
    if 0 < sum(y) < len(y):
        assert roc_auc(y, s, w) == pytest.approx(roc_auc(rep_y, rep_s))
        assert pr_auc(y, s, w) == pytest.approx(pr_auc(rep_y, rep_s))
        assert brier(y, [v / 4 for v in s], w) == pytest.approx(
            brier(rep_y, [v / 4 for v in rep_s])
        )
