"""Decision policy under inspection capacity, with a random control share.

Of the capacity (share of the flow that can be opened), ``random_share`` goes to uniform random
control, which keeps labels unbiased (TKDE 2022, "Take a chance"); the rest to the highest
model scores. A parcel just below the model's cut goes to ``review`` (an officer decides).
Random draws are keyed hashes of the item ID, so a re-scored item gets the same decision and
the recorded selection probability is exact.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from data_contracts import SelectionReason

from ._pseudonymise import KeyedHash


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
    """Probability above which the given share of the reference flow scores (log-interpolated).

    A share of 0 (nobody) gives infinity.
    """
    if share <= 0:
        return float("inf")
    return _threshold(_points(thresholds), share)


def _points(thresholds: dict[str, float]) -> tuple[tuple[float, float], ...]:
    return tuple(sorted((float(k), v) for k, v in thresholds.items()))


@functools.lru_cache(maxsize=256)
def _threshold(points: tuple[tuple[float, float], ...], share: float) -> float:
    shares = np.log([s for s, _ in points])
    values = np.log([max(v, 1e-300) for _, v in points])
    return float(np.exp(np.interp(np.log(share), shares, values)))


_DRAW_PREFIX = b"random-control\x1f"


def decision_key(secret_key: str) -> bytes:
    """The key of the random-control draws, derived from the server secret (the HMAC-SHA256
    of ``decision-draws`` under it): the service and a batch run with the same secret draw
    the same number for an item, and the draws reveal nothing of the secret."""
    return hmac.new(secret_key.encode(), b"decision-draws", hashlib.sha256).digest()


@functools.lru_cache(maxsize=16)
def _keyed(key: bytes) -> KeyedHash:
    return KeyedHash(key)


def uniform_draw(key: bytes, item_id: str) -> float:
    """A number in [0, 1) fixed by the item ID and the key, unpredictable without the key.

    The HMAC-SHA256 of ``random-control\\x1f`` and the item ID; its first 8 bytes, read as a
    big-endian integer, over 2**64.
    """
    digest = _keyed(key).digest(_DRAW_PREFIX + item_id.encode())
    return int.from_bytes(digest[:8], "big") / 2**64


def uniform_draws(key: bytes, item_ids: Iterable[object]) -> np.ndarray:
    """:func:`uniform_draw` of many item IDs, float64 (bit for bit the same numbers).

    The first 8 digest bytes are read as a big-endian uint64; converting it to float64 rounds
    to nearest and dividing by 2**64 is exact, which is what ``int / 2**64`` computes.
    """
    prefix = _DRAW_PREFIX
    digests = _keyed(key).digests(prefix + str(i).encode() for i in item_ids)
    heads = b"".join([d[:8] for d in digests])
    return np.frombuffer(heads, dtype=">u8").astype(np.float64) / 2.0**64


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
    #: model, random_control or rule (while halted); None where the parcel passes or is reviewed
    selection_reason: SelectionReason | None
    selection_probability: float | None


def decide_many(
    item_ids: np.ndarray,
    probability: np.ndarray,
    rule_points: np.ndarray,
    thresholds: dict[str, float],
    policy: DecisionPolicy,
    key: bytes,
    rule_cut: float = 5.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Decisions of many parcels: (decision, band, selection_reason, selection_probability).

    The model inspects the top ``capacity * (1 - random_share)`` of the reference flow; any
    other parcel is drawn for random control with probability ``capacity * random_share``;
    while halted, rules replace the model. Parcels within ``review_factor`` times the model's
    share go to review. A selection probability of NaN means "not selected".
    """
    n = len(probability)
    points = _points(thresholds)

    def cut(share: float) -> float:
        return _threshold(points, share) if share > 0 else float("inf")

    band = np.full(n, Band.LOW.value, dtype=object)
    for level, share in reversed(BAND_SHARES):
        band[probability >= cut(share)] = level.value
    model_share = policy.capacity * (1 - policy.random_share)
    decision = np.full(n, Decision.PASS.value, dtype=object)
    reason = np.full(n, None, dtype=object)
    chosen = np.full(n, np.nan)
    if policy.halted:
        picked = rule_points >= rule_cut
        reason[picked] = SelectionReason.RULE.value
    else:
        picked = probability >= cut(model_share)
        reason[picked] = SelectionReason.MODEL.value
    decision[picked] = Decision.INSPECT.value
    chosen[picked] = 1.0
    rest = np.flatnonzero(~picked)
    draws = uniform_draws(key, np.asarray(item_ids, dtype=object)[rest])
    random = rest[draws < policy.random_rate]
    decision[random] = Decision.INSPECT.value
    reason[random] = SelectionReason.RANDOM_CONTROL.value
    chosen[random] = policy.random_rate
    if not policy.halted:
        review = np.zeros(n, dtype=bool)
        review[rest] = probability[rest] >= cut(model_share * policy.review_factor)
        review[random] = False
        decision[review] = Decision.REVIEW.value
    return decision, band, reason, chosen


def verdicts(
    item_ids: np.ndarray,
    probability: np.ndarray,
    rule_points: np.ndarray,
    thresholds: dict[str, float],
    policy: DecisionPolicy,
    key: bytes,
) -> list[Verdict]:
    """:func:`decide_many` as one Verdict per parcel."""
    decision, band, reason, chosen = decide_many(
        item_ids, probability, rule_points, thresholds, policy, key
    )
    return [
        Verdict(
            Decision(d),
            Band(b),
            None if r is None else SelectionReason(r),
            None if np.isnan(c) else float(c),
        )
        for d, b, r, c in zip(decision, band, reason, chosen, strict=True)
    ]


def decide(
    item_id: str,
    probability: float,
    rule_points: float,
    thresholds: dict[str, float],
    policy: DecisionPolicy,
    key: bytes,
) -> Verdict:
    """The decision for one parcel."""
    (verdict,) = verdicts(
        np.array([item_id], dtype=object),
        np.array([probability]),
        np.array([rule_points]),
        thresholds,
        policy,
        key,
    )
    return verdict
