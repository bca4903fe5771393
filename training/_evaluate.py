"""Evaluation on the test period: metrics at inspection capacity for the model and baselines.

Three views, each labelled in the report:
- ``random_control``: test parcels selected by random control, with their observed outcomes:
  the unbiased estimate a customs service can compute on real data;
- ``inspected_ipw``: every inspected test parcel, weighted by 1 / selection probability;
- ``truth`` (simulated data only, when a truth file is given): every test parcel with its true
  label, beside the oracle (the generator's own probability) and the rules baseline.

Where the data records neither why nor with what probability any item was inspected (an
imported history), the first two are replaced by ``inspected_only``: every inspected test
parcel, unweighted; each of its reports carries ``basis`` saying so.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from screening import rule_score

from ._dataset import Dataset
from ._train import TrainResult, predict_margin
from .metrics import (
    DEFAULT_FRACTIONS,
    MetricError,
    capacity_report,
    expected_calibration_error,
    fraction_label,
    sliced_report,
)


def _report(y: np.ndarray, scores: np.ndarray, weights: np.ndarray | None = None) -> dict[str, Any]:
    try:
        return capacity_report(y, scores, weights=weights)
    except MetricError as exc:
        return {"skipped": str(exc), "n": int(len(y)), "positives": int(np.sum(y))}


def _ece(y: np.ndarray, prob: np.ndarray, weights: np.ndarray | None = None) -> float | None:
    try:
        return expected_calibration_error(y, prob, weights=weights)
    except MetricError:
        return None


def truth_labels(truth: pa.Table, item_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """True label and oracle probability per item (simulated data only)."""
    rows = pc.index_in(pa.array(item_ids, pa.string()), truth.column("item_id")).to_numpy(
        zero_copy_only=False
    )
    if np.isnan(rows.astype(np.float64)).any():
        raise ValueError("the truth file lacks some test items")
    rows = rows.astype(np.int64)
    illicit = truth.column("illicit").to_numpy(zero_copy_only=False)[rows].astype(bool)
    oracle = truth.column("oracle_probability").to_numpy()[rows]
    return illicit, oracle


#: what every figure rests on when selection is unknown
UNKNOWN_SELECTION = (
    "inspected items only: the data records neither why an item was "
    "inspected nor with what probability, so no propensity weights; the "
    "figures say nothing of items that were not inspected"
)


def selection_unknown(data: Dataset) -> bool:
    """Whether no inspected item carries a selection reason or probability."""
    inspected = data.inspected
    return bool(
        inspected.any()
        and not np.isfinite(data.selection_probability[inspected]).any()
        and not (data.selection_reason[inspected] != "").any()
    )


def _inspected_only(
    result: TrainResult, data: Dataset, prob: np.ndarray, rules: np.ndarray
) -> dict[str, Any]:
    test = result.split.test
    seized, inspected = data.seized[test][data.inspected[test]], data.inspected[test]
    reports = {
        "model": _report(seized, prob[inspected]),
        "rules": _report(seized, rules[inspected]),
    }
    return {name: report | {"basis": UNKNOWN_SELECTION} for name, report in reports.items()} | {
        "calibration_error": _ece(seized, prob[inspected]),
        "basis": UNKNOWN_SELECTION,
    }


def evaluate(result: TrainResult, data: Dataset, truth: pa.Table | None) -> dict[str, Any]:
    """Every metric of the test period, as one JSON-ready dict."""
    test = result.split.test
    matrix = result.matrix[test]
    prob = result.calibration.probability(predict_margin(result.booster, matrix))
    rules = rule_score(matrix, result.spec, data.frame.origin[test])
    seized = data.seized[test]
    inspected = data.inspected[test]
    random = inspected & (data.selection_reason[test] == "random_control")
    weighable = inspected & (data.selection_reason[test] != "tip_off")  # see _train
    weights = result.weights[test]
    out: dict[str, Any] = {"test_parcels": int(test.sum())}
    if selection_unknown(data):
        out |= {
            "selection": "unknown",
            "basis": UNKNOWN_SELECTION,
            "inspected_only": _inspected_only(result, data, prob, rules),
        }
    else:
        out["random_control"] = {
            "model": _report(seized[random], prob[random]),
            "rules": _report(seized[random], rules[random]),
            "calibration_error": _ece(seized[random], prob[random]),
        }
        out["inspected_ipw"] = {
            "model": _report(seized[weighable], prob[weighable], weights[weighable]),
            "rules": _report(seized[weighable], rules[weighable], weights[weighable]),
            "calibration_error": _ece(seized[weighable], prob[weighable], weights[weighable]),
        }
    if truth is not None:
        illicit, oracle = truth_labels(truth, data.frame.item_id[test])
        model, oracle_report = _report(illicit, prob), _report(illicit, oracle)
        out["truth"] = {
            "model": model,
            "oracle": oracle_report,
            "rules": _report(illicit, rules),
            "model_to_oracle": {
                fraction_label(f): model[f"precision@{fraction_label(f)}"]
                / oracle_report[f"precision@{fraction_label(f)}"]
                for f in DEFAULT_FRACTIONS
                if "skipped" not in model and oracle_report[f"precision@{fraction_label(f)}"] > 0
            },
            "calibration_error": _ece(illicit, prob),
            "slices": sliced_report(
                illicit,
                prob,
                {
                    "origin_country": data.frame.origin[test].astype(str),
                    "mail_class": data.frame.mail_class[test].astype(str),
                },
            ),
        }
    else:
        labelled = seized[random] if random.any() else seized[inspected]
        chosen = random if random.any() else inspected
        out["slices"] = sliced_report(
            labelled,
            prob[chosen],
            {
                "origin_country": data.frame.origin[test][chosen].astype(str),
                "mail_class": data.frame.mail_class[test][chosen].astype(str),
            },
            min_rows=50,
            min_positives=3,
        )
        if "basis" in out:
            out["slices_basis"] = UNKNOWN_SELECTION
    return out
