"""One run of the loop bench: its settings and constants."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

DAY_US = 86_400_000_000
KEY = b"bench-loop-key-0123456789abcdef"
POLICIES = ("oracle", "ours", "rules", "random")


@dataclass(frozen=True)
class LoopConfig:
    """One run of the loop (one seed, one prevalence)."""

    seed: int = 1
    prevalence: float = 0.0005
    weeks: int = 26
    capacity: float = 0.02
    parcels_per_week: int = 30_000
    random_share: float = 0.10  # ours' uniform random control, a share of the capacity
    warmup_random_share: float = 0.10  # today's customs in the warm-up (the simulator's)
    #: Exploration below the model's cut: this share of the capacity is drawn, a fixed number a
    #: day by keyed draws, from the ``band_width`` capacities ranked just below the model's picks
    #: (inclusion probability exactly drawn / band size); 0: off.
    band_share: float = 0.0
    band_width: float = 2.0
    start: datetime.date = datetime.date(2025, 8, 4)  # a Monday; 26 weeks hold the peak
    warmup_weeks: int = 8  # before the loop: today's customs (rules, watch list, random)
    min_seizures: int = 10  # known seizures before the model replaces the rules
    maturity_days: float = 45.0  # outcomes of parcels this old are final (transit + lab)
    rounds: int = 150
    max_depth: int = 4
    learning_rate: float = 0.1
    min_child_weight: float = 1.0  # at a seizure share of 4% and above (training.leaf_weight)
    train_weight_cap: float = 10.0
    calibrate_every: int = 4  # weeks between cross-fitted calibrations
    recent_half_life_weeks: float = 0.0  # training weights halve per this age (0: off)
    draw_salt: str = ""  # appended to the decision key: the same policy, other random draws
    unlabelled: int = 0  # PU learning: this many never-opened parcels as negatives (0: off)
    #: Empirical-Bayes priors (``_priors``): the categories, comma-separated ("": off), the
    #: Beta prior's worth in labels, the folds of the training rows' out-of-fold values, and
    #: whether labels weigh their full inverse propensities (else clipped as the trees').
    priors: str = ""
    prior_strength: float = 20.0
    prior_folds: int = 5
    prior_full_weights: bool = False
    rules_input: bool = False  # the rule score as one more learner input
    threads: int = 1  # XGBoost threads: 2 ran ten times slower on 2 shared, loaded cores
