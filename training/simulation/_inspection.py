"""Today's inspection policy and what inspections find.

Capacity is ``inspection_rate`` of the day's flow. Tip-offs come first, then a uniform random
control sample (``random_share`` of capacity), then a rules baseline of the kind customs use
today, filled from the highest rule score down; the marginal score tier is sampled, so its
selection probability is below 1. Leftover capacity, if any, goes to unflagged items
(reason ``other``). Seizures become known after a lab/paperwork delay (DOMAIN: late outcomes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _goods as goods
from ._batch import CATEGORY_INDEX, LETTER_SERVICES, Batch
from ._config import SimulationConfig
from ._geography import EUR_PER_UNIT, INDEX, REGIONS

REASONS: tuple[str, ...] = ("random_control", "rule", "tip_off", "other")
RESULTS: tuple[str, ...] = ("seized", "clean", "other_irregularity")
RISKY_ORIGINS = np.array([INDEX[c] for c in ("NL", "BE", "ES", "DE", "GB", "US", "CA")])
"""Origins a typical customs rule set flags for drugs (assumption)."""
FALSE_TIP_RATE = 1e-4
"""Chance a legitimate item is named by a wrong tip-off (assumption)."""
_DAY_US = 86_400_000_000


@dataclass
class Inspections:
    parcel: np.ndarray
    reason: np.ndarray
    probability: np.ndarray
    result: np.ndarray
    recorded_us: np.ndarray
    officer: np.ndarray
    correction: np.ndarray
    """True for a later row that corrects an earlier one of the same parcel (the lab's)."""


def rule_scores(
    batch: Batch,
    name_watch: np.ndarray,
    address_watch: np.ndarray,
    sender_name_key: np.ndarray,
    recipient_address_key: np.ndarray,
) -> np.ndarray:
    """Integer risk score of each item under today's customs rules (observable data only)."""
    n = len(batch)
    value_eur = batch.declared_value * EUR_PER_UNIT[batch.currency]
    vague = (
        np.bincount(
            batch.line_parcel, weights=batch.line_description >= goods.VAGUE_START, minlength=n
        )
        > 0
    )
    no_hs = np.bincount(batch.line_parcel, weights=batch.line_hs < 0, minlength=n) > 0
    letter = LETTER_SERVICES[batch.service]
    docs = batch.category == CATEGORY_INDEX["documents"]
    score = np.isin(batch.origin, RISKY_ORIGINS).astype(np.int64)
    score += (batch.category == CATEGORY_INDEX["gift"]) & (value_eur < 30)
    score += vague
    score += letter & (batch.gross_kg < 0.1) & ~docs
    score += docs & (batch.gross_kg > 0.06)
    score += no_hs & (batch.category == CATEGORY_INDEX["sale_of_goods"])
    score += value_eur <= 1.0
    score += 3 * (
        name_watch[sender_name_key[batch.sender_row]]
        | address_watch[recipient_address_key[batch.recipient_row]]
    )
    return score


def inspect(
    rng: np.random.Generator, config: SimulationConfig, batch: Batch, score: np.ndarray
) -> Inspections:
    """Select today's inspections, record why and with what probability, and their results."""
    n = len(batch)
    capacity = int(round(config.inspection_rate * n))
    tipped = rng.random(n) < np.where(batch.illicit, config.tip_off_rate, FALSE_TIP_RATE)
    tips = np.flatnonzero(tipped)[:capacity]
    free = np.flatnonzero(~tipped)
    n_random = min(int(round(config.random_share * capacity)), capacity - tips.size, free.size)
    random_rate = n_random / max(free.size, 1)
    chosen_random = rng.choice(free, n_random, replace=False)
    left = np.ones(n, bool)
    left[tips] = False
    left[chosen_random] = False
    budget = capacity - tips.size - n_random

    # Rules: take whole tiers from the top score down, sample the marginal tier.
    rule_p = np.zeros(n)
    chosen_rule: list[np.ndarray] = []
    for tier in range(int(score.max(initial=0)), -1, -1):
        members = np.flatnonzero(left & (score == tier))
        all_members = score == tier
        if budget <= 0:
            break
        take = min(budget, members.size)
        if take == 0:
            continue
        q = take / members.size
        rule_p[all_members] = q
        chosen_rule.append(rng.choice(members, take, replace=False))
        budget -= take
    rule = np.concatenate(chosen_rule) if chosen_rule else np.zeros(0, np.int64)

    policy_p = random_rate + (1 - random_rate) * rule_p
    parcel = np.concatenate([tips, chosen_random, rule]).astype(np.int64)
    reason = np.concatenate(
        [np.full(tips.size, 2), np.zeros(n_random, np.int64), np.where(score[rule] > 0, 1, 3)]
    )
    # A tip-off is chosen knowing the label: no propensity describes it, none is recorded.
    probability = np.where(reason == 2, np.nan, np.clip(policy_p[parcel], 1e-9, 1.0))

    m = parcel.size
    illicit = batch.illicit[parcel]
    found = illicit & (rng.random(m) < config.inspection_sensitivity)
    irregular = ~found & (rng.random(m) < config.other_irregularity_rate)
    suspect = ~illicit & ~irregular & (rng.random(m) < config.false_seizure_rate)
    result = np.where(found | suspect, 0, np.where(irregular, 2, 1))
    same_region = REGIONS[batch.origin[parcel]] == REGIONS[batch.destination[parcel]]
    transit = np.where(same_region, rng.uniform(2, 5, m), rng.uniform(4, 12, m))
    low, high = config.seizure_delay_days
    delay = np.select(
        [result == 0, result == 2],
        [rng.uniform(low, high + 1, m), rng.uniform(1, 10, m)],
        rng.uniform(0.1, 1.5, m),
    )
    recorded = batch.posted_us[parcel] + ((transit + delay) * _DAY_US).astype(np.int64)
    officer = np.where(rng.random(m) < 0.95, rng.integers(0, 60, m), -1)
    # The laboratory corrects a suspected seizure of a legitimate item to clean, later.
    fix = np.flatnonzero(suspect)
    lab = recorded[fix] + (rng.uniform(5, 40, fix.size) * _DAY_US).astype(np.int64)
    parcel = np.concatenate([parcel, parcel[fix]])
    reason = np.concatenate([reason, reason[fix]])
    probability = np.concatenate([probability, probability[fix]])
    result = np.concatenate([result, np.ones(fix.size, np.int64)])
    recorded = np.concatenate([recorded, lab])
    officer = np.concatenate([officer, officer[fix]])
    correction = np.concatenate([np.zeros(m, bool), np.ones(fix.size, bool)])
    order = np.lexsort((recorded, parcel))
    return Inspections(
        parcel[order],
        reason[order],
        probability[order],
        result[order],
        recorded[order],
        officer[order],
        correction[order],
    )
