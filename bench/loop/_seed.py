"""One seed: the four policies on the same flow, and the figures of each; spreads over seeds."""

from __future__ import annotations

import statistics
import time
from typing import Any

import numpy as np

from screening import rule_score
from training.metrics import MetricError, expected_calibration_error, precision_at_k

from ._config import LoopConfig
from ._flow import Flow, build_flow, full_matrix, top_per_day
from ._ours import run_ours


def run_seed(config: LoopConfig) -> dict[str, Any]:
    started = time.perf_counter()
    flow = build_flow(config)
    ours = run_ours(flow, config)
    rng = np.random.default_rng(config.seed + 20_000)
    loop = np.arange(flow.day.size) >= flow.loop_start
    masks = {
        "oracle": top_per_day(flow.day, flow.oracle, config.capacity),
        "ours": ours["inspected"],
        "rules": top_per_day(
            flow.day, rule_score(full_matrix(flow), flow.spec, flow.frame.origin), config.capacity
        ),
        "random": top_per_day(flow.day, rng.random(flow.day.size), config.capacity),
    }
    masks = {name: mask & loop for name, mask in masks.items()}
    week = flow.day // 7 - config.warmup_weeks
    out: dict[str, Any] = {
        "seed": config.seed,
        "prevalence": config.prevalence,
        "parcels": int(flow.day.size),
        "illicit": int(flow.illicit.sum()),
    }
    seized = flow.found & flow.illicit
    for name, mask in masks.items():
        out[f"{name}_seizures"] = int(seized[mask].sum())
        out[f"{name}_inspected"] = int(mask.sum())
        out[f"{name}_weekly"] = np.bincount(
            week[mask], weights=seized[mask], minlength=config.weeks
        ).tolist()
    for name in ("random", "band"):  # ours' exploration: its seizures in the compared weeks
        out[f"ours_{name}_seizures"] = int(seized[ours[name] & loop].sum())
        out[f"ours_{name}_inspected"] = int((ours[name] & loop).sum())
    out["ours_to_oracle"] = out["ours_seizures"] / max(out["oracle_seizures"], 1)
    out["ours_to_rules"] = out["ours_seizures"] / max(out["rules_seizures"], 1)
    last = week == config.weeks - 1
    prob = ours["probability"]
    try:
        out["last_week_p1_model"] = precision_at_k(flow.illicit[last], prob[last], 0.01)
        out["last_week_p1_oracle"] = precision_at_k(flow.illicit[last], flow.oracle[last], 0.01)
        tail = week >= config.weeks - 4
        out["ece_last_4_weeks"] = expected_calibration_error(flow.illicit[tail], prob[tail])
        out["predicted_over_actual_last_4_weeks"] = float(
            prob[tail].sum() / max(flow.illicit[tail].sum(), 1)
        )
        out["reliability_last_4_weeks"] = reliability(
            prob[tail], flow.illicit[tail], (flow.found & flow.illicit)[tail]
        )
    except MetricError as exc:
        out["metric_error"] = str(exc)
    out["model_weeks"] = len(ours["trained_weeks"])
    # the compared week from which the model ranks (None: the rules ranked throughout)
    firsts = [w - config.warmup_weeks for w in ours["trained_weeks"] if w >= config.warmup_weeks]
    out["first_model_week"] = firsts[0] if firsts else None
    out["weekly_p1_model"], out["weekly_p1_oracle"] = _weekly_p1(week, prob, flow)
    out["seconds"] = round(time.perf_counter() - started, 1)
    return out


def _weekly_p1(week: np.ndarray, prob: np.ndarray, flow: Flow) -> tuple[list[float], list[float]]:
    """Precision@1% of each compared week the model scored throughout: the model's and the
    oracle's, on the same parcels (NaN where the model did not score that week)."""
    model, oracle = [], []
    for w in range(int(week.max()) + 1):
        rows = week == w
        if not rows.any() or not np.isfinite(prob[rows]).all() or not flow.illicit[rows].any():
            model.append(float("nan"))
            oracle.append(float("nan"))
            continue
        model.append(precision_at_k(flow.illicit[rows], prob[rows], 0.01))
        oracle.append(precision_at_k(flow.illicit[rows], flow.oracle[rows], 0.01))
    return model, oracle


#: Probability bins of the reliability table (the flow is almost all below 0.1%).
RELIABILITY_EDGES = (0.0, 1e-4, 1e-3, 1e-2, 1e-1, 1.0)


def reliability(prob: np.ndarray, illicit: np.ndarray, found: np.ndarray) -> list[dict[str, Any]]:
    """Per probability bin: parcels, the sum of the model's probabilities (the seizures it
    expects), the illicit parcels and those an inspection would find (the label it learns)."""
    rows = []
    for low, high in zip(RELIABILITY_EDGES[:-1], RELIABILITY_EDGES[1:], strict=True):
        inside = (prob >= low) & ((prob < high) | (high == 1.0))
        rows.append(
            {
                "low": low,
                "high": high,
                "parcels": int(inside.sum()),
                "predicted": float(prob[inside].sum()),
                "illicit": int(illicit[inside].sum()),
                "found": int(found[inside].sum()),
            }
        )
    return rows


def _spread(values: list[float]) -> dict[str, float]:
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    keys = (
        "ours_to_oracle",
        "ours_to_rules",
        "oracle_seizures",
        "ours_seizures",
        "rules_seizures",
        "random_seizures",
        "last_week_p1_model",
        "last_week_p1_oracle",
        "ece_last_4_weeks",
        "predicted_over_actual_last_4_weeks",
    )
    return {k: _spread([r[k] for r in runs if k in r]) for k in keys if any(k in r for r in runs)}
