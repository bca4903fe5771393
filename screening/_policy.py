"""Decision policy under inspection capacity, with a random control share.

Of the capacity (share of the flow that can be opened), ``random_share`` goes to uniform random
control, which keeps labels unbiased (TKDE 2022, "Take a chance"); the rest to the highest
model scores. A parcel just below the model's cut goes to ``review`` (an officer decides).
Random draws are keyed hashes of the item ID, so a re-scored item gets the same decision and
the recorded selection probability is exact.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from enum import StrEnum

import numpy as np


class Decision(StrEnum):
    INSPECT = "inspect"
    REVIEW = "review"
    PASS = "pass"


class Band(StrEnum):
    VERY_HIGH = "very_high"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


#: Bands by the share of the flow scoring at least as high.
BAND_SHARES: tuple[tuple[Band, float], ...] = (
    (Band.VERY_HIGH, 0.005),
    (Band.HIGH, 0.02),
    (Band.MEDIUM, 0.10),
)


def threshold_at(thresholds: dict[str, float], share: float) -> float:
    """Probability above which the given share of the reference flow scores (log-interpolated)."""
    points = sorted((float(k), v) for k, v in thresholds.items())
    shares = np.log([s for s, _ in points])
    values = np.log([max(v, 1e-300) for _, v in points])
    return float(np.exp(np.interp(np.log(share), shares, values)))


def uniform_draw(key: bytes, item_id: str) -> float:
    """A number in [0, 1) fixed by the item ID and the key, unpredictable without the key."""
    digest = hmac.new(key, b"random-control\x1f" + item_id.encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass(frozen=True)
class DecisionPolicy:
    """Capacity settings; ``halted`` switches model-based selection off (rules + random)."""

    capacity: float = 0.02
    random_share: float = 0.10
    review_factor: float = 2.0
    halted: bool = False

    @property
    def random_rate(self) -> float:
        """Probability that any parcel is picked as random control."""
        return self.capacity * self.random_share


@dataclass(frozen=True, slots=True)
class Verdict:
    decision: Decision
    band: Band
    selection_reason: str | None  # model, random_control, rule (halted) or None (pass/review)
    selection_probability: float | None


def band_of(probability: float, thresholds: dict[str, float]) -> Band:
    for band, share in BAND_SHARES:
        if probability >= threshold_at(thresholds, share):
            return band
    return Band.LOW


def decide(
    item_id: str,
    probability: float,
    rule_points: float,
    thresholds: dict[str, float],
    policy: DecisionPolicy,
    key: bytes,
    rule_cut: float = 5.0,
) -> Verdict:
    """The decision for one parcel."""
    band = band_of(probability, thresholds)
    model_share = policy.capacity * (1 - policy.random_share)
    if policy.halted:
        if rule_points >= rule_cut:
            return Verdict(Decision.INSPECT, band, "rule", 1.0)
    elif probability >= threshold_at(thresholds, model_share):
        return Verdict(Decision.INSPECT, band, "model", 1.0)
    if uniform_draw(key, item_id) < policy.random_rate:
        return Verdict(Decision.INSPECT, band, "random_control", policy.random_rate)
    if not policy.halted and probability >= threshold_at(
        thresholds, model_share * policy.review_factor
    ):
        return Verdict(Decision.REVIEW, band, None, None)
    return Verdict(Decision.PASS, band, None, None)
