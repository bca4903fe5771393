"""The simulated period a seed's policies share: declarations in posting order, nature's
outcome of each parcel, the warm-up's inspections as recorded, and the feature matrix."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, fields, replace

import numpy as np
import pyarrow.compute as pc

from screening import (
    HISTORY_FEATURES,
    FeatureSpec,
    ParcelFrame,
    Pseudonymiser,
    fit_feature_spec,
    frame_from_table,
    parcel_features,
)
from training.simulation import SimulationConfig, simulate

from ._config import DAY_US, KEY, LoopConfig


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
    sim = SimulationConfig(
        parcels=config.parcels_per_week * weeks,
        days=7 * weeks,
        start=start,
        prevalence=config.prevalence,
        seed=config.seed,
        inspection_rate=config.capacity,
        random_share=config.warmup_random_share,
    )
    result = simulate(sim)
    order = pc.sort_indices(
        result.declarations, [("posted_at", "ascending"), ("item_id", "ascending")]
    )
    declarations = result.declarations.take(order)
    truth = result.truth.take(order)
    frame = frame_from_table(declarations, Pseudonymiser(KEY))
    posted = np.asarray(frame.posted_us, dtype=np.int64)
    start_us = int(datetime.datetime.combine(start, datetime.time(), datetime.UTC).timestamp())
    day = np.clip((posted - start_us * 1_000_000) // DAY_US, 0, 7 * weeks - 1)
    illicit = truth.column("illicit").to_numpy(zero_copy_only=False).astype(bool)
    rng = np.random.default_rng(config.seed + 10_000)
    n = len(frame)
    found = illicit & (rng.random(n) < sim.inspection_sensitivity)
    low, high = sim.seizure_delay_days
    delay = np.where(found, rng.uniform(low, high + 1, n), rng.uniform(0.1, 1.5, n))
    known = posted + ((rng.uniform(2, 12, n) + delay) * DAY_US).astype(np.int64)
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
    spec = fit_feature_spec(rows_of(frame, slice(0, int(np.searchsorted(day, 7)))))
    return Flow(
        frame,
        day,
        illicit,
        truth.column("oracle_probability").to_numpy(),
        found,
        known,
        spec,
        parcel_features(frame, spec),
        loop_start,
        past,
        past_weight,
        past_random,
    )


def rows_of(frame: ParcelFrame, rows: slice) -> ParcelFrame:
    changes = {f.name: getattr(frame, f.name)[rows] for f in fields(frame) if f.name != "tokens"}
    return replace(frame, **changes, tokens={k: v[rows] for k, v in frame.tokens.items()})


def top_per_day(day: np.ndarray, score: np.ndarray, capacity: float) -> np.ndarray:
    """Mask of each day's top ``round(capacity * n_day)`` parcels by score."""
    order = np.lexsort((-score, day))
    bounds = np.searchsorted(day[order], np.arange(day.max() + 2))
    chosen = np.zeros(day.size, bool)
    for d in range(bounds.size - 1):
        a, b = bounds[d], bounds[d + 1]
        chosen[order[a : a + int(round(capacity * (b - a)))]] = True
    return chosen


def full_matrix(flow: Flow, history: np.ndarray | None = None) -> np.ndarray:
    n = flow.parcel_matrix.shape[0]
    hist = np.full((n, len(HISTORY_FEATURES)), np.nan) if history is None else history
    return np.hstack([flow.parcel_matrix, hist]).astype(np.float32)
