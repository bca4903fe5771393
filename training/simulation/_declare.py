"""Content lines and declared totals, shared by legitimate and illicit parcels.

The same code writes both, with the same kinds of noise (vague words, values of 0 or 1,
missing HS codes, lines that do not add up: DOMAIN, WCO list of bad advance data), so that a
data-quality problem is a weak risk signal and never a label.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _goods as goods
from ._geography import EUR_PER_UNIT


@dataclass
class Declared:
    line_parcel: np.ndarray
    line_description: np.ndarray
    line_quantity: np.ndarray
    line_net_kg: np.ndarray
    line_value: np.ndarray
    line_hs: np.ndarray
    line_hs_extra: np.ndarray
    line_origin: np.ndarray
    declared_value: np.ndarray
    net_kg: np.ndarray


@dataclass
class Habits:
    """Per-parcel declaration habits of the sender (probabilities unless said otherwise)."""

    vague: np.ndarray
    hs_given: np.ndarray
    round_values: np.ndarray
    zero_or_one: np.ndarray
    mismatch: np.ndarray
    value_scale: np.ndarray


def declare(
    rng: np.random.Generator,
    chapter: np.ndarray,
    second: np.ndarray,
    n_lines: np.ndarray,
    currency: np.ndarray,
    origin: np.ndarray,
    habits: Habits,
) -> Declared:
    """Draw content lines for parcels of a main ``chapter`` (``second`` for extra lines)."""
    n = chapter.size
    parcel = np.repeat(np.arange(n), n_lines)
    first = np.ones(parcel.size, bool)
    first[1:] = parcel[1:] != parcel[:-1]
    use_second = ~first & (rng.random(parcel.size) < 0.5)
    ch = np.where(use_second, second[parcel], chapter[parcel])
    docs = ch == goods.DOCUMENTS

    max_q = goods.MAX_QUANTITY[ch]
    quantity = np.minimum(rng.geometric(0.7, parcel.size), max_q).astype(np.int32)
    unit_kg = goods.WEIGHT_MEDIAN[ch] * rng.lognormal(0.0, goods.WEIGHT_SIGMA[ch])
    net = np.round(unit_kg * quantity, 3).clip(0.001)
    unit_eur = goods.VALUE_MEDIAN[ch] * rng.lognormal(0.0, np.maximum(goods.VALUE_SIGMA[ch], 1e-9))
    rate = EUR_PER_UNIT[currency[parcel]]
    value = unit_eur * quantity * habits.value_scale[parcel] / rate
    value = np.where(habits.round_values[parcel], np.ceil(value), np.round(value, 2))

    description = goods.descriptions_for(rng, ch)
    vague = rng.random(parcel.size) < habits.vague[parcel]
    description = np.where(vague & ~docs, goods.vague_descriptions(rng, parcel.size), description)
    hs = goods.hs_codes_for(rng, ch)
    hs_given = (rng.random(n) < habits.hs_given)[parcel] & ~docs
    hs = np.where(hs_given, hs, -1)
    hs_extra = np.where(rng.random(parcel.size) < 0.3, rng.choice([2, 4], parcel.size), 0)
    line_origin = np.where(rng.random(parcel.size) < 0.7, origin[parcel], -1)

    # Values of 0 or 1 (DOMAIN: WCO) on the whole item, then lines that do not add up.
    zero_one = rng.random(n) < habits.zero_or_one
    token = rng.integers(0, 2, n).astype(float)
    value = np.where(zero_one[parcel], token[parcel] / np.maximum(n_lines[parcel], 1), value)
    value = np.where(docs, 0.0, value)
    declared = np.bincount(parcel, weights=value, minlength=n)
    mismatch = rng.random(n) < habits.mismatch
    declared = np.where(mismatch, np.round(declared * rng.uniform(0.4, 1.6, n), 2), declared)
    net_kg = np.bincount(parcel, weights=net, minlength=n)
    return Declared(
        parcel,
        description,
        quantity,
        net,
        np.round(value, 2),
        hs,
        hs_extra,
        line_origin,
        np.round(declared, 2),
        net_kg,
    )


def net_share(rng: np.random.Generator, letter: np.ndarray, net_kg: np.ndarray) -> np.ndarray:
    """Declared net weight over gross weight, as packing makes it: goods plus 0-20% inner
    packing plus a mailer (letters 5-40 g, boxes 30-300 g), and a tenth of senders who write the
    gross weight as net (assumption). Vendors declare their lines with the same shares, so the
    ratio is no giveaway; what differs is the real content, not the arithmetic."""
    n = net_kg.size
    packaging = np.where(letter, rng.uniform(0.005, 0.04, n), rng.uniform(0.03, 0.3, n))
    gross = net_kg * rng.uniform(1.0, 1.2, n) + packaging
    share = np.where(rng.random(n) < 0.1, 1.0, net_kg / np.maximum(gross, 1e-6))
    return np.asarray(np.clip(share, 0.02, 1.0))
