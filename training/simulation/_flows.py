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


def daily_volumes(config: SimulationConfig) -> np.ndarray:
    """Parcels per day: weekday pattern, a mid-November to December peak, exact total."""
    dates = [config.start + datetime.timedelta(days=d) for d in range(config.days)]
    weight = np.array([_WEEKDAY[d.weekday()] for d in dates])
    if config.peak_season:
        peak = np.array(
            [(d.month == 11 and d.day >= 15) or (d.month == 12 and d.day <= 22) for d in dates]
        )
        weight = weight * np.where(peak, 1.5, 1.0)
    exact = config.parcels * weight / weight.sum()
    counts = np.floor(exact).astype(np.int64)
    short = config.parcels - counts.sum()
    counts[np.argsort(counts - exact, kind="stable")[:short]] += 1
    return counts


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
    volumes = daily_volumes(config)
    vendor_share = config.vendor_parcel_share
    expected_vendor = config.prevalence * config.parcels * vendor_share / MEAN_VENDOR_ILLICIT_RATE
    population = build_population(config, rng, expected_vendor)
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
    known: dict[int, list[tuple[int, int, int]]] = defaultdict(list)
    epoch = datetime.datetime(
        config.start.year, config.start.month, config.start.day, tzinfo=datetime.UTC
    ).timestamp()
    start_us = int(epoch) * 1_000_000
    batches: list[Batch] = []
    inspections: list[Inspections] = []
    offset = 0
    for day, n in enumerate(volumes.tolist()):
        for vendor, name_key, address_key in known.pop(day, []):
            name_watch[name_key] = True
            address_watch[address_key] = True
            if vendor >= 0:
                state.react_to_seizure(
                    rng,
                    vendor,
                    config.identity_rotation_after_seizure,
                    config.cover_change_after_seizure,
                )
        day_us = start_us + day * _DAY_US
        active = (pop.vendor_start <= day) & (pop.vendor_end > day)
        mean_rate = (
            np.average(pop.vendor_rate[active], weights=pop.vendor_weight[active])
            if active.any()
            else 1.0
        )
        n_vendor = (
            int(round(vendor_share * config.prevalence * n / mean_rate)) if active.any() else 0
        )
        n_vendor = min(n_vendor, n // 2)
        legit = legit_parcels(world, rng, n - n_vendor, day_us)
        target = config.prevalence * n - (n_vendor * mean_rate)
        _calibrate_legit(rng, legit, max(target, 0.0), substance_w, grey_substances)
        parts = [legit]
        if n_vendor:
            parts.append(
                vendor_parcels(world, state, rng, n_vendor, day, day_us, substances, substance_w)
            )
        batch = concat(parts)
        batch = reorder(batch, np.argsort(batch.posted_us, kind="stable"))
        score = rule_scores(
            batch, name_watch, address_watch, pop.senders.name_key, pop.recipients.address_key
        )
        found = inspect(rng, config, batch, score)
        for i in np.flatnonzero(found.result == 0).tolist():
            parcel = int(found.parcel[i])
            known_day = int((found.recorded_us[i] - start_us) // _DAY_US) + 1
            known[known_day].append(
                (
                    int(batch.vendor_id[parcel]),
                    int(pop.senders.name_key[batch.sender_row[parcel]]),
                    int(pop.recipients.address_key[batch.recipient_row[parcel]]),
                )
            )
        found.parcel = found.parcel + offset
        offset += len(batch)
        batches.append(batch)
        inspections.append(found)
        if progress is not None and (day % 10 == 0 or day == config.days - 1):
            progress(f"simulated day {day + 1}/{config.days} ({offset} parcels)")
    return world, concat(batches), _stack(inspections)


def _stack(parts: list[Inspections]) -> Inspections:
    return Inspections(
        *(
            np.concatenate([getattr(p, f) for p in parts])
            for f in ("parcel", "reason", "probability", "result", "recorded_us", "officer")
        )
    )
