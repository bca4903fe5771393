"""The fixed world of a run: population, samplers and the helpers both flows share
(mail class, posting time, postal charges)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._batch import SERVICE_INDEX, GroupSampler
from ._config import SimulationConfig
from ._geography import COUNTRIES, INDEX, UTC_OFFSET
from ._population import Population

N_COUNTRIES = len(COUNTRIES)
_SMALL = np.array([SERVICE_INDEX[s] for s in ("UA", "UB", "RR", "RB", "LX", "LA", "VV")])
_SMALL_W = np.array([0.34, 0.10, 0.25, 0.06, 0.15, 0.05, 0.05])
_PARCEL = np.array([SERVICE_INDEX[s] for s in ("CP", "CX", "EE", "EA", "HA", "HB")])
_PARCEL_W = np.array([0.35, 0.15, 0.15, 0.05, 0.18, 0.12])
_ECOM = np.array([SERVICE_INDEX[s] for s in ("HA", "HB")])
_EMS = np.array([SERVICE_INDEX[s] for s in ("EE", "EA")])


@dataclass
class World:
    config: SimulationConfig
    population: Population
    recipients: GroupSampler
    privates_by_country: GroupSampler
    offices_by_country: GroupSampler
    illicit_weight: np.ndarray
    """Current weight of each recipient row as an address for drug parcels: buyers, then drop
    aliases; it changes when buyers react to seizures."""
    illicit_recipients: GroupSampler

    def destinations(self, n: int) -> np.ndarray:
        """Every item goes to the authority's country (third-country inbound only)."""
        return np.full(n, self.population.authority, dtype=np.int64)

    def reweigh_illicit(self) -> None:
        """Rebuild the sampler of drug-parcel addresses after weights changed."""
        self.illicit_recipients = _illicit_sampler(
            self.population, self.illicit_weight, self.recipients
        )

    def recipient_kinds(self, rows: np.ndarray) -> np.ndarray:
        """0 ordinary, 1 buyer (currently ordering drugs to this row), 2 drop alias."""
        drop = self.population.drop_weight[rows] > 0
        return np.where(drop, 2, np.where(self.illicit_weight[rows] > 0, 1, 0))


def _illicit_sampler(pop: Population, weight: np.ndarray, fallback: GroupSampler) -> GroupSampler:
    return GroupSampler(pop.recipients.country, weight, N_COUNTRIES, fallback=fallback)


def build_world(config: SimulationConfig, population: Population) -> World:
    pop = population
    recips = pop.recipients
    recipients = GroupSampler(recips.country, pop.recipient_weight, N_COUNTRIES)
    sender_country = pop.senders.country
    private_weight = np.zeros(sender_country.size)
    private_weight[pop.private_rows] = 1.0
    privates = GroupSampler(sender_country, private_weight, N_COUNTRIES)
    offices = GroupSampler(pop.office_country, np.ones(pop.office_country.size), N_COUNTRIES)
    illicit_weight = pop.buyer_weight + pop.drop_weight
    return World(
        config,
        pop,
        recipients,
        privates,
        offices,
        illicit_weight,
        _illicit_sampler(pop, illicit_weight, recipients),
    )


def services(
    rng: np.random.Generator, gross_kg: np.ndarray, origin: np.ndarray, letter: np.ndarray
) -> np.ndarray:
    """Mail class: letters and small packets up to 2 kg, else parcels/EMS.

    ``letter`` marks items whose sender chose letter post; CN/HK e-commerce favours the
    H (e-commerce) and U/L classes, everyone else mixes (assumption).
    """
    n = gross_kg.size
    small = _SMALL[rng.choice(_SMALL.size, n, p=_SMALL_W)]
    parcel = _PARCEL[rng.choice(_PARCEL.size, n, p=_PARCEL_W)]
    out = np.where(letter & (gross_kg <= 2.0), small, parcel)
    china = np.isin(origin, [INDEX["CN"], INDEX["HK"]])
    ecom = _ECOM[rng.integers(0, 2, n)]
    out = np.where(china & (gross_kg <= 2.0) & (rng.random(n) < 0.3), ecom, out)
    return np.asarray(np.where(rng.random(n) < 0.03, _EMS[rng.integers(0, 2, n)], out))


def posting_times(rng: np.random.Generator, day_us: int, origin: np.ndarray) -> np.ndarray:
    """Microseconds since epoch (UTC) for postings during local office hours."""
    local_hour = np.clip(rng.normal(13.0, 2.8, origin.size), 7.0, 20.5)
    seconds = (local_hour - UTC_OFFSET[origin]) * 3600.0
    return np.asarray(day_us + (seconds * 1e6).astype(np.int64))


def postal_charges(
    rng: np.random.Generator, gross_kg: np.ndarray, letter: np.ndarray, rate: np.ndarray
) -> np.ndarray:
    """Postage in the declaration currency, missing (NaN) on 40% of items (assumption)."""
    eur = np.where(letter, 2.5 + 12.0 * gross_kg, 12.0 + 6.0 * gross_kg)
    value = np.round(eur * rng.uniform(0.8, 1.3, gross_kg.size) / rate, 2)
    return np.asarray(np.where(rng.random(gross_kg.size) < 0.4, np.nan, value))
