"""``python -m bench loop``: the inspection loop under selective labels, week after week.

Each seed simulates ``weeks`` of third-country inbound mail once; four policies then inspect
the same flows within the same capacity (a share of each day's flow):

- **oracle**: the top of the day by the simulator's own probability (an upper bound);
- **ours**: the product's policy: screening's :class:`DecisionPolicy` draws its random control
  (keyed uniform draws, exact propensities) and the model ranks the rest; the model is
  retrained every week on what has been learnt so far (only the parcels ours inspected, with
  their outcomes once recorded), with entity history replayed from ours's own outcomes; until
  enough seizures are known, the rules rank instead;
- **rules**: the top of the day by ``screening.rule_score``;
- **random**: a uniform sample of the day.

An inspection of an illicit parcel finds the drugs with the simulator's sensitivity; the outcome
is recorded after transit and the laboratory's delay. Nature's draws are made once per parcel, so
every policy that opens a parcel finds the same thing. The adversaries (vendors, buyers) react
to the seizures of the simulator's own customs, the same for every policy: the flows are equal.
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import sys
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.compute as pc
import xgboost

from screening import (
    HISTORY_FEATURES,
    Calibration,
    DecisionPolicy,
    FeatureSpec,
    History,
    KnownOutcome,
    ParcelFrame,
    Pseudonymiser,
    decide_many,
    fit_feature_spec,
    fit_platt,
    frame_from_table,
    parcel_features,
    replay,
    rule_score,
)
from training._pipeline import thresholds
from training.metrics import MetricError, expected_calibration_error, precision_at_k
from training.simulation import SimulationConfig, simulate

_DAY_US = 86_400_000_000
_KEY = b"bench-loop-key-0123456789abcdef"
POLICIES = ("oracle", "ours", "rules", "random")


@dataclass(frozen=True)
class LoopConfig:
    """One run of the loop (one seed, one prevalence)."""

    seed: int = 1
    prevalence: float = 0.0005
    weeks: int = 26
    capacity: float = 0.02
    parcels_per_week: int = 30_000
    random_share: float = 0.10
    start: datetime.date = datetime.date(2025, 8, 4)  # a Monday; 26 weeks hold the peak
    warmup_weeks: int = 8  # before the loop: today's customs (rules, watch list, random)
    min_seizures: int = 10  # known seizures before the model replaces the rules
    maturity_days: float = 45.0  # outcomes of parcels this old are final (transit + lab)
    rounds: int = 150
    max_depth: int = 4
    learning_rate: float = 0.1
    train_weight_cap: float = 10.0
    calibrate_every: int = 4  # weeks between cross-fitted calibrations
    unlabelled: int = 0  # PU learning: this many never-opened parcels as negatives (0: off)
    threads: int = 2


@dataclass
class Flow:
    """One simulated period in posting order, with nature's outcome of each parcel."""

    frame: ParcelFrame
    day: np.ndarray  # UTC day index from the first day
    illicit: np.ndarray
    oracle: np.ndarray
    found: np.ndarray  # drugs found if this parcel is opened (sensitivity applied)
    known_us: np.ndarray  # when its outcome would be recorded
    spec: FeatureSpec
    parcel_matrix: np.ndarray
    loop_start: int  # first row of the compared weeks (rows before: the warm-up)
    past: np.ndarray  # inspected during the warm-up by today's customs
    past_weight: np.ndarray  # 1 / recorded selection probability there (1 for tip-offs)
    past_random: np.ndarray


def build_flow(config: LoopConfig) -> Flow:
    """Warm-up weeks under today's customs (the simulator's own inspections: their outcomes
    are what the authority knows when the product starts), then the compared weeks."""
    weeks = config.warmup_weeks + config.weeks
    start = config.start - datetime.timedelta(weeks=config.warmup_weeks)
    sim = SimulationConfig(parcels=config.parcels_per_week * weeks, days=7 * weeks, start=start,
                           prevalence=config.prevalence, seed=config.seed,
                           inspection_rate=config.capacity,
                           random_share=config.random_share)  # fmt: skip
    result = simulate(sim)
    order = pc.sort_indices(result.declarations, [("posted_at", "ascending"),
                                                  ("item_id", "ascending")])  # fmt: skip
    declarations = result.declarations.take(order)
    truth = result.truth.take(order)
    frame = frame_from_table(declarations, Pseudonymiser(_KEY))
    posted = np.asarray(frame.posted_us, dtype=np.int64)
    start_us = int(datetime.datetime.combine(start, datetime.time(), datetime.UTC).timestamp())
    day = np.clip((posted - start_us * 1_000_000) // _DAY_US, 0, 7 * weeks - 1)
    illicit = truth.column("illicit").to_numpy(zero_copy_only=False).astype(bool)
    rng = np.random.default_rng(config.seed + 10_000)
    n = len(frame)
    found = illicit & (rng.random(n) < sim.inspection_sensitivity)
    low, high = sim.seizure_delay_days
    delay = np.where(found, rng.uniform(low, high + 1, n), rng.uniform(0.1, 1.5, n))
    known = posted + ((rng.uniform(2, 12, n) + delay) * _DAY_US).astype(np.int64)
    loop_start = int(np.searchsorted(day, 7 * config.warmup_weeks))
    # The warm-up's inspections as recorded (the last record of an item: corrections win).
    o = result.outcomes
    last = {item: i for i, item in enumerate(o.column("item_id").to_pylist())}
    index = {item: i for i, item in enumerate(frame.item_id.tolist())}
    past = np.zeros(n, bool)
    past_weight = np.ones(n)
    past_random = np.zeros(n, bool)
    result_col = o.column("result").to_pylist()
    recorded = o.column("recorded_at").cast("int64").to_numpy()
    reason = o.column("selection_reason").to_pylist()
    prob = o.column("selection_probability").to_numpy(zero_copy_only=False)
    for item, i in last.items():
        row = index[item]
        if row >= loop_start:
            continue
        past[row] = True
        found[row] = result_col[i] == "seized"
        known[row] = recorded[i]
        past_random[row] = reason[i] == "random_control"
        past_weight[row] = 1.0 / prob[i] if np.isfinite(prob[i]) else 1.0
    spec = fit_feature_spec(_rows(frame, slice(0, int(np.searchsorted(day, 7)))))
    return Flow(frame, day, illicit, truth.column("oracle_probability").to_numpy(), found, known,
                spec, parcel_features(frame, spec), loop_start, past, past_weight,
                past_random)  # fmt: skip


def _rows(frame: ParcelFrame, rows: slice) -> ParcelFrame:
    changes = {f.name: getattr(frame, f.name)[rows] for f in fields(frame) if f.name != "tokens"}
    return replace(frame, **changes, tokens={k: v[rows] for k, v in frame.tokens.items()})


def _top_per_day(day: np.ndarray, score: np.ndarray, capacity: float) -> np.ndarray:
    """Mask of each day's top ``round(capacity * n_day)`` parcels by score."""
    order = np.lexsort((-score, day))
    bounds = np.searchsorted(day[order], np.arange(day.max() + 2))
    chosen = np.zeros(day.size, bool)
    for d in range(bounds.size - 1):
        a, b = bounds[d], bounds[d + 1]
        chosen[order[a : a + int(round(capacity * (b - a)))]] = True
    return chosen


def _full_matrix(flow: Flow, history: np.ndarray | None = None) -> np.ndarray:
    n = flow.parcel_matrix.shape[0]
    hist = np.full((n, len(HISTORY_FEATURES)), np.nan) if history is None else history
    return np.hstack([flow.parcel_matrix, hist]).astype(np.float32)


class Learner:
    """Weekly retraining on the labels known so far; calibration on matured random control."""

    def __init__(self, config: LoopConfig) -> None:
        self.config = config
        self.booster: xgboost.Booster | None = None
        self.calibration = Calibration()
        self.fits = 0

    def params(self) -> dict[str, Any]:
        c = self.config
        return {"objective": "binary:logistic", "tree_method": "hist", "max_depth": c.max_depth,
                "eta": c.learning_rate, "min_child_weight": 1.0, "subsample": 0.9,
                "colsample_bytree": 0.8, "nthread": c.threads, "seed": c.seed}  # fmt: skip

    def fit(self, x: np.ndarray, y: np.ndarray, weight: np.ndarray, calibrate: np.ndarray,
            cap: float) -> None:  # fmt: skip
        """Trees on clipped weights; Platt scaling on cross-fitted margins (each calibration
        row scored by a model that did not see it: in-sample margins of the inspected rows
        are overconfident) with full inverse-propensity weights."""
        clipped = np.minimum(weight, cap)
        self.booster = self._train(x, y, clipped)
        self.fits += 1
        if self.fits % self.config.calibrate_every != 1 and self.config.calibrate_every > 1:
            return  # keep the last calibration (cross-fitting costs two more fits)
        rows = calibrate if y[calibrate].sum() >= 5 else np.ones(y.size, bool)
        fold = np.random.default_rng(self.config.seed).random(y.size) < 0.5
        margin = np.empty(y.size)
        for held in (fold, ~fold):
            booster = self._train(x[~held], y[~held], clipped[~held])
            margin[held] = self._margin(booster, x[held])
        self.calibration = fit_platt(margin[rows], y[rows], weight[rows])

    def _train(self, x: np.ndarray, y: np.ndarray, weight: np.ndarray) -> xgboost.Booster:
        dtrain = xgboost.DMatrix(x, label=y.astype(np.float32), weight=weight / weight.mean(),
                                 missing=np.nan)  # fmt: skip
        return xgboost.train(self.params(), dtrain, num_boost_round=self.config.rounds)

    @staticmethod
    def _margin(booster: xgboost.Booster, x: np.ndarray) -> np.ndarray:
        return np.asarray(booster.predict(xgboost.DMatrix(x, missing=np.nan),
                                          output_margin=True), dtype=np.float64)  # fmt: skip

    def margin(self, x: np.ndarray) -> np.ndarray:
        assert self.booster is not None
        return self._margin(self.booster, x)

    def probability(self, x: np.ndarray) -> np.ndarray:
        return self.calibration.probability(self.margin(x))


def run_ours(flow: Flow, config: LoopConfig) -> dict[str, Any]:
    """The product's policy day by day, retraining at each week's start."""
    frame, n = flow.frame, len(flow.frame)
    policy = DecisionPolicy(capacity=config.capacity, random_share=config.random_share)
    rules = rule_score(_full_matrix(flow), flow.spec, frame.origin)
    history, histories = History(), np.full((n, len(HISTORY_FEATURES)), np.nan)
    learner = Learner(config)
    inspected = np.zeros(n, bool)
    random = np.zeros(n, bool)
    prob = np.full(n, np.nan)
    pending: list[KnownOutcome] = []
    cuts: dict[str, float] | None = None
    bounds = np.searchsorted(flow.day, np.arange(flow.day.max() + 2))
    trained_weeks: list[int] = []
    weight = np.ones(n)
    warmup_days = 7 * config.warmup_weeks
    for d in range(bounds.size - 1):
        a, b = int(bounds[d]), int(bounds[d + 1])
        if a == b:
            continue
        now = int(frame.posted_us[a])
        if d < warmup_days:  # today's customs inspected these; their outcomes come in
            rows = slice(a, b)
            last = int(frame.posted_us[b - 1])
            due = [o for o in pending if o.known_us < last]
            pending = [o for o in pending if o.known_us >= last]
            histories[rows] = replay(_rows(frame, rows), due, history)
            for i in (a + np.flatnonzero(flow.past[rows])).tolist():
                inspected[i], random[i] = True, flow.past_random[i]
                weight[i] = flow.past_weight[i]
                seized = bool(flow.found[i])
                pending.append(KnownOutcome(str(frame.item_id[i]), int(flow.known_us[i]),
                                            seized, not seized))  # fmt: skip
            continue
        if d % 7 == 0 and d > 0:
            cuts = _retrain(learner, flow, histories, inspected, weight, now, config, a)
            if cuts is not None:
                trained_weeks.append(d // 7)
        rows = slice(a, b)
        last = int(frame.posted_us[b - 1])
        due = [o for o in pending if o.known_us < last]
        pending = [o for o in pending if o.known_us >= last]
        histories[rows] = replay(_rows(frame, rows), due, history)
        k = int(round(config.capacity * (b - a)))
        ids = np.asarray(frame.item_id[rows], dtype=object)
        if cuts is None:  # cold start: rules rank, random control as the product draws it
            score = rules[rows]
            _, _, reason, _ = decide_many(ids, np.zeros(b - a), score, {"0.5": 1.0}, policy, _KEY)
        else:
            x = np.hstack([flow.parcel_matrix[rows], histories[rows]]).astype(np.float32)
            score = prob[rows] = learner.probability(x)
            _, _, reason, _ = decide_many(ids, score, rules[rows], cuts, policy, _KEY)
        drawn = np.flatnonzero(reason == "random_control")[:k]
        rest = np.setdiff1d(np.arange(b - a), drawn)
        picked = rest[np.argsort(-score[rest], kind="stable")[: k - drawn.size]]
        for local in (drawn, picked):
            inspected[a + local] = True
        random[a + drawn] = True
        weight[a + drawn] = 1 / policy.random_rate
        for i in (a + np.concatenate([drawn, picked])).tolist():
            seized = bool(flow.found[i])
            pending.append(KnownOutcome(str(frame.item_id[i]), int(flow.known_us[i]), seized,
                                        not seized))  # fmt: skip
    return {"inspected": inspected, "probability": prob, "trained_weeks": trained_weeks}


def _retrain(learner: Learner, flow: Flow, histories: np.ndarray, inspected: np.ndarray,
             weight: np.ndarray, now: int, config: LoopConfig,
             upto: int) -> dict[str, float] | None:  # fmt: skip
    """Retrain on every outcome recorded before ``now`` (trees on inverse-propensity weights
    clipped at ``train_weight_cap``, calibration on full weights of matured outcomes only, so
    that seizures still at the laboratory do not read as clean); thresholds from last week."""
    rows = np.flatnonzero(inspected[:upto] & (flow.known_us[:upto] < now))
    y = flow.found[rows]
    if y.sum() < config.min_seizures:
        return None if learner.booster is None else _cuts(learner, flow, histories, upto)
    matured = flow.frame.posted_us[rows] < now - config.maturity_days * _DAY_US
    w = weight[rows]
    if config.unlabelled:  # PU: a sample of the flow never opened, as negatives
        never = np.flatnonzero(~inspected[:upto])
        rng = np.random.default_rng(config.seed + upto)
        sample = rng.choice(never, min(config.unlabelled, never.size), replace=False)
        rows = np.concatenate([rows, sample])
        y = np.concatenate([y, np.zeros(sample.size, bool)])
        w = np.concatenate([w, np.full(sample.size, never.size / max(sample.size, 1))])
        matured = np.concatenate([matured, np.zeros(sample.size, bool)])
    x = np.hstack([flow.parcel_matrix[rows], histories[rows]]).astype(np.float32)
    learner.fit(x, y, w, matured, config.train_weight_cap)
    return _cuts(learner, flow, histories, upto)


def _cuts(learner: Learner, flow: Flow, histories: np.ndarray, upto: int) -> dict[str, float]:
    start = int(np.searchsorted(flow.day, flow.day[upto - 1] - 6))
    x = np.hstack([flow.parcel_matrix[start:upto], histories[start:upto]]).astype(np.float32)
    return thresholds(learner.probability(x))


def run_seed(config: LoopConfig) -> dict[str, Any]:
    started = time.perf_counter()
    flow = build_flow(config)
    ours = run_ours(flow, config)
    rng = np.random.default_rng(config.seed + 20_000)
    loop = np.arange(flow.day.size) >= flow.loop_start
    masks = {
        "oracle": _top_per_day(flow.day, flow.oracle, config.capacity),
        "ours": ours["inspected"],
        "rules": _top_per_day(flow.day, rule_score(_full_matrix(flow), flow.spec,
                                                   flow.frame.origin), config.capacity),
        "random": _top_per_day(flow.day, rng.random(flow.day.size), config.capacity),
    }  # fmt: skip
    masks = {name: mask & loop for name, mask in masks.items()}
    week = flow.day // 7 - config.warmup_weeks
    out: dict[str, Any] = {"seed": config.seed, "prevalence": config.prevalence,
                           "parcels": int(flow.day.size), "illicit": int(flow.illicit.sum())}
    seized = flow.found & flow.illicit
    for name, mask in masks.items():
        out[f"{name}_seizures"] = int(seized[mask].sum())
        out[f"{name}_inspected"] = int(mask.sum())
        out[f"{name}_weekly"] = np.bincount(week[mask], weights=seized[mask],
                                            minlength=config.weeks).tolist()  # fmt: skip
    out["ours_to_oracle"] = out["ours_seizures"] / max(out["oracle_seizures"], 1)
    out["ours_to_rules"] = out["ours_seizures"] / max(out["rules_seizures"], 1)
    last = week == config.weeks - 1
    prob = ours["probability"]
    try:
        out["last_week_p1_model"] = precision_at_k(flow.illicit[last], prob[last], 0.01)
        out["last_week_p1_oracle"] = precision_at_k(flow.illicit[last], flow.oracle[last], 0.01)
        tail = week >= config.weeks - 4
        out["ece_last_4_weeks"] = expected_calibration_error(flow.illicit[tail], prob[tail])
        out["predicted_over_actual_last_4_weeks"] = float(prob[tail].sum()
                                                          / max(flow.illicit[tail].sum(), 1))
    except MetricError as exc:
        out["metric_error"] = str(exc)
    out["model_weeks"] = len(ours["trained_weeks"])
    out["seconds"] = round(time.perf_counter() - started, 1)
    return out


def _spread(values: list[float]) -> dict[str, float]:
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    keys = ("ours_to_oracle", "ours_to_rules", "oracle_seizures", "ours_seizures",
            "rules_seizures", "random_seizures", "last_week_p1_model", "last_week_p1_oracle",
            "ece_last_4_weeks", "predicted_over_actual_last_4_weeks")  # fmt: skip
    return {k: _spread([r[k] for r in runs if k in r]) for k in keys
            if any(k in r for r in runs)}  # fmt: skip


def _numbers(text: str | float | int, kind: type) -> list[Any]:
    return [kind(v) for v in str(text).split(",") if v.strip()]


def run(seeds: str | None = None, prevalence: str | float = "0.0005", weeks: int = 26,
        capacity: float = 0.02, quick: bool = False, parcels_per_week: int = 30_000,
        out: str = "runs/loop.json") -> list[dict[str, Any]]:  # fmt: skip
    """Every seed at every prevalence; rows for ``python -m bench`` and a JSON file."""
    warmup = LoopConfig.warmup_weeks
    if quick:
        weeks, parcels_per_week, warmup = min(weeks, 13), min(parcels_per_week, 20_000), 6
    seeds = seeds or ("1,2,3" if quick else "1,2,3,4,5")
    results: dict[str, Any] = {"weeks": weeks, "capacity": capacity,
                               "parcels_per_week": parcels_per_week, "prevalences": {}}
    rows: list[dict[str, Any]] = []
    for p in _numbers(prevalence, float):
        runs = []
        for seed in _numbers(seeds, int):
            config = LoopConfig(seed=seed, prevalence=p, weeks=weeks, capacity=capacity,
                                parcels_per_week=parcels_per_week,
                                warmup_weeks=warmup)  # fmt: skip
            runs.append(run_seed(config))
            r = runs[-1]
            print(f"prevalence {p:g} seed {seed}: seizures oracle {r['oracle_seizures']} ours "
                  f"{r['ours_seizures']} rules {r['rules_seizures']} random "
                  f"{r['random_seizures']} ({r['ours_to_oracle']:.2f}x oracle, "
                  f"{r['ours_to_rules']:.1f}x rules; {r['seconds']} s)", file=sys.stderr)
        summary = summarise(runs)
        results["prevalences"][f"{p:g}"] = {"runs": runs, "summary": summary,
                                            "config": asdict(config)}
        tag = f"loop p={p:.2%}"
        for r in runs:
            rows.append({"figure": f"{tag} seed {r['seed']}: seizures ours vs oracle",
                         "ours": r["ours_seizures"], "baseline": r["oracle_seizures"],
                         "unit": f"rules {r['rules_seizures']}, random {r['random_seizures']}"})
        for key, label, base in (("ours_to_oracle", "ours / oracle seizures", None),
                                 ("ours_to_rules", "ours / rules-only seizures", None),
                                 ("last_week_p1_model", "last week P@1%: model vs oracle",
                                  "last_week_p1_oracle"),
                                 ("ece_last_4_weeks", "ECE, last 4 weeks", None),
                                 ("predicted_over_actual_last_4_weeks",
                                  "predicted / actual illicit, last 4 weeks", None)):
            if key in summary:
                s = summary[key]
                rows.append({"figure": f"{tag} {label} (median; min..max)", "ours": s["median"],
                             "baseline": summary[base]["median"] if base in summary else None,
                             "ratio": f"{s['min']:.3g}..{s['max']:.3g}", "unit": ""})
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1, default=str), encoding="utf-8")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.loop", description=__doc__)
    parser.add_argument("--seeds", help="comma list (default 1,2,3,4,5; quick 1,2,3)")
    parser.add_argument("--prevalence", default="0.0005", help="one value or a comma list")
    parser.add_argument("--weeks", type=int, default=26)
    parser.add_argument("--capacity", type=float, default=0.02)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--parcels-per-week", type=int, default=30_000)
    parser.add_argument("--out", default="runs/loop.json")
    args = parser.parse_args(argv)
    for row in run(args.seeds, args.prevalence, args.weeks, args.capacity, args.quick,
                   args.parcels_per_week, args.out):  # fmt: skip
        print(f"{row['figure']:60s} {row['ours']!s:>10s} {row.get('baseline')!s:>10s} "
              f"{row.get('ratio', '')!s:>14s} {row['unit']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
