"""The day loop: daily volumes, calibration of the illicit share, inspections and feedback.

Feedback runs through time: a seizure becomes known after its recording delay; from then on
the rules' watch list holds the sender name and recipient address, and the vendor may switch
identity or cover. Everything a day uses was known by that day.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Callable

import numpy as np

from ._batch import KIND, Batch, concat, reorder
from ._config import SimulationConfig
from ._darknet import VendorState, vendor_parcels
from ._inspection import Inspections, inspect, rule_scores
from ._legit import legit_parcels
from ._population import MEAN_VENDOR_ILLICIT_RATE, build_population
from ._world import World, build_world

_WEEKDAY = np.array([1.15, 1.10, 1.05, 1.05, 1.00, 0.45, 0.20])
"""Posting volume by weekday, Monday first (assumption)."""
LEGIT_MASS = {"grey_merchant": 0.4, "private": 0.5, "merchant": 0.1}
"""How the non-vendor illicit share splits between sender kinds (assumption)."""
_DAY_US = 86_400_000_000


def _allocate(total: int, weight: np.ndarray) -> np.ndarray:
    """Whole counts proportional to ``weight`` that add up to ``total`` exactly."""
    if total <= 0 or weight.sum() <= 0:
        return np.zeros(weight.size, np.int64)
    exact = total * weight / weight.sum()
    counts = np.floor(exact).astype(np.int64)
    short = total - counts.sum()
    counts[np.argsort(counts - exact, kind="stable")[:short]] += 1
    return np.asarray(counts)


def _dates(config: SimulationConfig) -> list[datetime.date]:
    return [config.start + datetime.timedelta(days=d) for d in range(config.days)]


def legit_day_weights(config: SimulationConfig) -> np.ndarray:
    """Relative legitimate volume by day: weekday pattern, growth, the e-commerce peak from
    mid-November to 22 December."""
    dates = _dates(config)
    weight = np.array([_WEEKDAY[d.weekday()] for d in dates])
    weight = weight * (1 + config.annual_growth) ** (np.arange(config.days) / 365.0)
    if config.peak_season:
        peak = np.array(
            [(d.month == 11 and d.day >= 15) or (d.month == 12 and d.day <= 22) for d in dates]
        )
        weight = weight * np.where(peak, 1.5, 1.0)
    return weight


def vendor_day_weights(config: SimulationConfig) -> np.ndarray:
    """Relative drug-parcel volume by day: weekdays and growth, no e-commerce peak, and the
    takedown's dip: the exiting vendors' share of the volume is lost and comes back linearly over
    ``takedown_recovery_days`` as their buyers move to other vendors."""
    dates = _dates(config)
    day = np.arange(config.days, dtype=np.float64)
    weight = np.array([_WEEKDAY[d.weekday()] for d in dates])
    weight = weight * (1 + config.annual_growth) ** (day / 365.0)
    takedown = config.takedown_at * config.days
    since = day - takedown
    recovered = np.clip(since / max(config.takedown_recovery_days, 1e-9), 0.0, 1.0)
    dip = np.where(since >= 0, config.takedown_exit_share * (1 - recovered), 0.0)
    return np.asarray(weight * (1 - dip))


def daily_volumes(config: SimulationConfig) -> tuple[np.ndarray, np.ndarray]:
    """(legitimate, vendor) parcels per day, adding up to ``config.parcels`` exactly."""
    vendors = int(
        round(
            config.vendor_parcel_share
            * config.prevalence
            * config.parcels
            / MEAN_VENDOR_ILLICIT_RATE
        )
    )
    vendors = min(vendors, config.parcels // 2)
    vendor = _allocate(vendors, vendor_day_weights(config))
    total = _allocate(config.parcels, legit_day_weights(config))
    vendor = np.minimum(vendor, total // 2)
    return total - vendor, vendor


def _calibrate_legit(
    rng: np.random.Generator,
    batch: Batch,
    target_mass: float,
    substance_w: np.ndarray,
    grey_substances: np.ndarray,
) -> None:
    """Set the small latent illicit probabilities of legitimate senders, then draw labels."""
    kind = batch.sender_kind
    grey = kind == KIND["grey_merchant"]
    private = kind == KIND["private"]
    merchant = kind == KIND["merchant"]
    grey_mass = LEGIT_MASS["grey_merchant"] * target_mass if grey.any() else 0.0
    p = np.zeros(len(batch))
    p[grey] = min(0.3, grey_mass / max(grey.sum(), 1))
    # Private senders to buyers or drop addresses are riskier (friends, reshippers).
    multiplier = np.where(
        batch.recipient_kind == 2, 10.0, np.where(batch.recipient_kind == 1, 3.0, 1.0)
    )
    private_mass = target_mass - grey_mass - LEGIT_MASS["merchant"] * target_mass
    p[private] = private_mass * multiplier[private] / max(multiplier[private].sum(), 1e-9)
    p[merchant] = LEGIT_MASS["merchant"] * target_mass / max(merchant.sum(), 1)
    p = np.clip(p, 0.0, 0.5)
    batch.oracle_p = p
    batch.illicit = rng.random(p.size) < p
    substance = np.where(
        grey,
        grey_substances[rng.integers(0, 2, p.size)],
        rng.choice(substance_w.size, p.size, p=substance_w),
    )
    batch.substance = np.where(batch.illicit, substance, -1)
    batch.quantity_g = np.where(batch.illicit, np.round(rng.lognormal(1.5, 0.9, p.size), 2), np.nan)


def run_days(
    config: SimulationConfig, rng: np.random.Generator, progress: Callable[[str], None] | None
) -> tuple[World, Batch, Inspections]:
    """Generate every day's parcels and inspections; returns the world and stacked results."""
    legit_volumes, vendor_volumes = daily_volumes(config)
    population = build_population(config, rng, float(vendor_volumes.sum()))
    world = build_world(config, population)
    pop = population
    substances = tuple(s for s, _ in config.substance_mix)
    substance_w = np.array([w for _, w in config.substance_mix], dtype=float)
    substance_w /= substance_w.sum()
    grey_substances = np.array(
        [substances.index(s) if s in substances else 0 for s in ("prescription", "other")]
    )
    state = VendorState.start(rng, pop.vendor_country.size)
    name_watch = np.zeros(pop.senders.name_key.max() + 1, bool)
    address_watch = np.zeros(pop.recipients.address_key.max() + 1, bool)
    known: dict[int, list[tuple[int, int, int, int]]] = defaultdict(list)
    epoch = datetime.datetime(
        config.start.year, config.start.month, config.start.day, tzinfo=datetime.UTC
    ).timestamp()
    start_us = int(epoch) * 1_000_000
    batches: list[Batch] = []
    inspections: list[Inspections] = []
    offset = 0
    for day, (n_legit, n_vendor) in enumerate(
        zip(legit_volumes.tolist(), vendor_volumes.tolist(), strict=True)
    ):
        moved = False
        for vendor, name_key, address_key, recipient in known.pop(day, []):
            name_watch[name_key] = True
            address_watch[address_key] = True
            if vendor >= 0:
                state.react_to_seizure(rng, world, vendor, day)
            moved |= _buyer_reacts(rng, world, recipient)
        if moved:
            world.reweigh_illicit()
        day_us = start_us + day * _DAY_US
        active = (pop.vendor_start <= day) & (pop.vendor_end > day)
        if not active.any():
            n_legit, n_vendor = n_legit + n_vendor, 0
        legit = legit_parcels(world, rng, n_legit, day_us)
        target = (1 - config.vendor_parcel_share) * config.prevalence * (n_legit + n_vendor)
        _calibrate_legit(rng, legit, target, substance_w, grey_substances)
        parts = [legit]
        if n_vendor:
            parts.append(
                vendor_parcels(
                    world, state, rng, n_vendor, day, day_us, substances, substance_w, legit
                )
            )
        batch = concat(parts)
        batch = reorder(batch, np.argsort(batch.posted_us, kind="stable"))
        score = rule_scores(
            batch, name_watch, address_watch, pop.senders.name_key, pop.recipients.address_key
        )
        found = inspect(rng, config, batch, score)
        first_seizure = (found.result == 0) & ~found.correction
        for i in np.flatnonzero(first_seizure).tolist():
            parcel = int(found.parcel[i])
            known_day = int((found.recorded_us[i] - start_us) // _DAY_US) + 1
            known[known_day].append(
                (
                    int(batch.vendor_id[parcel]),
                    int(pop.senders.name_key[batch.sender_row[parcel]]),
                    int(pop.recipients.address_key[batch.recipient_row[parcel]]),
                    int(batch.recipient_row[parcel]),
                )
            )
        found.parcel = found.parcel + offset
        offset += len(batch)
        batches.append(batch)
        inspections.append(found)
        if progress is not None and (day % 10 == 0 or day == config.days - 1):
            progress(f"simulated day {day + 1}/{config.days} ({offset} parcels)")
    return world, concat(batches), _stack(inspections)


def _buyer_reacts(rng: np.random.Generator, world: World, recipient: int) -> bool:
    """A buyer (or drop) whose parcel was seized may stop using that address: a buyer moves
    to another address (a friend's) or, one time in three, to a drop address; a drop alias is
    given up. True if the weights changed."""
    weight = world.illicit_weight
    pop = world.population
    if weight[recipient] <= 0 or rng.random() >= world.config.buyer_move_after_seizure:
        return False
    if pop.drop_weight[recipient] > 0:
        weight[recipient] = 0.0
        return True
    drops = pop.drop_rows.ravel()
    open_drops = drops[weight[drops] > 0]
    if open_drops.size and rng.random() < 1 / 3:
        target = int(open_drops[rng.integers(0, open_drops.size)])
    else:
        ordinary = pop.drop_rows.min()  # rows before the drops are ordinary recipients
        target = int(rng.integers(0, ordinary))
    weight[target] += weight[recipient]
    weight[recipient] = 0.0
    return True


def _stack(parts: list[Inspections]) -> Inspections:
    return Inspections(
        *(
            np.concatenate([getattr(p, f) for p in parts])
            for f in (
                "parcel",
                "reason",
                "probability",
                "result",
                "recorded_us",
                "officer",
                "correction",
            )
        )
    )
