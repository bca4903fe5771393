"""The product's policy day by day: random control as ``DecisionPolicy`` draws it, the model
(retrained each week on the outcomes recorded so far) on the rest; rules until it can train."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from typing import Any

import numpy as np

from screening import (
    HISTORY_FEATURES,
    DecisionPolicy,
    History,
    KnownOutcome,
    decide_many,
    replay,
    rule_score,
    uniform_draws,
)
from training._pipeline import thresholds

from ._config import DAY_US, KEY, LoopConfig
from ._flow import Flow, full_matrix, rows_of
from ._learner import Learner
from ._priors import Priors, category_codes


def run_ours(flow: Flow, config: LoopConfig) -> dict[str, Any]:
    """The product's policy day by day, retraining at each week's start."""
    frame, n = flow.frame, len(flow.frame)
    policy = DecisionPolicy(capacity=config.capacity, random_share=config.random_share)
    key = KEY + config.draw_salt.encode()  # the decision key (a salt: other random draws)
    band_key = hmac.new(key, b"band-exploration", hashlib.sha256).digest()
    rules = rule_score(full_matrix(flow), flow.spec, frame.origin)
    if config.rules_input:  # the rules' points as one more learner input
        flow = dataclasses.replace(
            flow, parcel_matrix=np.hstack([flow.parcel_matrix, rules[:, None]])
        )
    history, histories = History(), np.full((n, len(HISTORY_FEATURES)), np.nan)
    learner = Learner(config)
    names = tuple(k for k in config.priors.split(",") if k.strip())
    priors = Priors(
        category_codes(frame, names), config.prior_strength, config.prior_folds, config.seed
    )
    inspected = np.zeros(n, bool)
    random = np.zeros(n, bool)
    band = np.zeros(n, bool)
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
            histories[rows] = replay(rows_of(frame, rows), due, history)
            for i in (a + np.flatnonzero(flow.past[rows])).tolist():
                inspected[i], random[i] = True, flow.past_random[i]
                weight[i] = flow.past_weight[i]
                seized = bool(flow.found[i])
                pending.append(
                    KnownOutcome(str(frame.item_id[i]), int(flow.known_us[i]), seized, not seized)
                )
            continue
        if d % 7 == 0 and d > 0:
            cuts = _retrain(learner, priors, flow, histories, inspected, weight, now, config, a)
            if cuts is not None:
                trained_weeks.append(d // 7)
        rows = slice(a, b)
        last = int(frame.posted_us[b - 1])
        due = [o for o in pending if o.known_us < last]
        pending = [o for o in pending if o.known_us >= last]
        histories[rows] = replay(rows_of(frame, rows), due, history)
        k = int(round(config.capacity * (b - a)))
        ids = np.asarray(frame.item_id[rows], dtype=object)
        if cuts is None:  # cold start: rules rank, random control as the product draws it
            score = rules[rows]
            _, _, reason, _ = decide_many(ids, np.zeros(b - a), score, {"0.5": 1.0}, policy, key)
        else:
            x = _inputs(flow, histories, priors.values(rows), rows)
            score = prob[rows] = learner.probability(x)
            _, _, reason, _ = decide_many(ids, score, rules[rows], cuts, policy, key)
        drawn = np.flatnonzero(reason == "random_control")[:k]
        rest = np.setdiff1d(np.arange(b - a), drawn)
        ranked = rest[np.argsort(-score[rest], kind="stable")]
        budget = min(int(round(config.band_share * k)), k - drawn.size)
        top = k - drawn.size - budget
        below = ranked[top : top + int(round(config.band_width * k))]
        explored = _draw_band(below, budget, ids, band_key)
        picked = ranked[:top]
        for local in (drawn, picked, explored):
            inspected[a + local] = True
        random[a + drawn] = True
        if drawn.size:
            weight[a + drawn] = 1 / policy.random_rate
        band[a + explored] = True
        if explored.size:
            weight[a + explored] = below.size / explored.size
        for i in (a + np.concatenate([drawn, picked, explored])).tolist():
            seized = bool(flow.found[i])
            pending.append(
                KnownOutcome(str(frame.item_id[i]), int(flow.known_us[i]), seized, not seized)
            )
    return {
        "inspected": inspected,
        "random": random,
        "band": band,
        "probability": prob,
        "trained_weeks": trained_weeks,
    }


def _draw_band(band: np.ndarray, budget: int, ids: np.ndarray, key: bytes) -> np.ndarray:
    """``budget`` parcels of the band below the model's picks, those with the lowest keyed
    draws: each parcel of the band is drawn with probability exactly ``budget / band.size``."""
    if budget <= 0 or band.size == 0:
        return band[:0]
    draws = uniform_draws(key, ids[band])
    return band[np.argsort(draws, kind="stable")[:budget]]


def _inputs(
    flow: Flow, histories: np.ndarray, prior: np.ndarray, rows: slice | np.ndarray
) -> np.ndarray:
    return np.hstack([flow.parcel_matrix[rows], histories[rows], prior]).astype(np.float32)


def _retrain(
    learner: Learner,
    priors: Priors,
    flow: Flow,
    histories: np.ndarray,
    inspected: np.ndarray,
    weight: np.ndarray,
    now: int,
    config: LoopConfig,
    upto: int,
) -> dict[str, float] | None:
    """Retrain on every outcome recorded before ``now`` (trees on inverse-propensity weights
    clipped at ``train_weight_cap``, calibration on full weights of matured outcomes only, so
    that seizures still at the laboratory do not read as clean); thresholds from last week."""
    rows = np.flatnonzero(inspected[:upto] & (flow.known_us[:upto] < now))
    y = flow.found[rows]
    if y.sum() < config.min_seizures:
        return None if learner.booster is None else _cuts(learner, priors, flow, histories, upto)
    matured = flow.frame.posted_us[rows] < now - config.maturity_days * DAY_US
    w = weight[rows]
    if config.recent_half_life_weeks > 0:  # recent weeks count more: vendors adapt
        age = (now - flow.frame.posted_us[rows]) / (7 * DAY_US)
        w = w * 0.5 ** (age / config.recent_half_life_weeks)
    if config.unlabelled:  # PU: a sample of the flow never opened, as negatives
        never = np.flatnonzero(~inspected[:upto])
        rng = np.random.default_rng(config.seed + upto)
        sample = rng.choice(never, min(config.unlabelled, never.size), replace=False)
        rows = np.concatenate([rows, sample])
        y = np.concatenate([y, np.zeros(sample.size, bool)])
        w = np.concatenate([w, np.full(sample.size, never.size / max(sample.size, 1))])
        matured = np.concatenate([matured, np.zeros(sample.size, bool)])
    prior_weight = w if config.prior_full_weights else np.minimum(w, config.train_weight_cap)
    prior = priors.fit(rows, y, prior_weight)  # out of fold: a row's label is not its input
    learner.fit(_inputs(flow, histories, prior, rows), y, w, matured, config.train_weight_cap)
    return _cuts(learner, priors, flow, histories, upto)


def _cuts(
    learner: Learner, priors: Priors, flow: Flow, histories: np.ndarray, upto: int
) -> dict[str, float]:
    start = int(np.searchsorted(flow.day, flow.day[upto - 1] - 6))
    rows = slice(start, upto)
    return thresholds(learner.probability(_inputs(flow, histories, priors.values(rows), rows)))
