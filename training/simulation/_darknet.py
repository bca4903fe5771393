"""Darknet vendor shipments: who ships, under which identity, to whom, declared as what.

Shaped by DOMAIN.md "Darknet drug parcels": vendor countries and drug mix from RAND RR1607,
retail quantities, letters growing, covers (gift, documents, cosmetics, tea, DVDs/books,
clothing), intra-regional buyers with a few heavy repeat buyers, drop addresses shared by
vendors. A vendor's parcel is illicit with the vendor's own rate (below 1: vendors also ship
innocuous items), which is the oracle probability.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _goods as goods
from ._batch import CATEGORY_INDEX, KIND, Batch
from ._declare import Habits, declare
from ._geography import CURRENCY_INDEX, EUR_PER_UNIT, HOME_CURRENCY
from ._population import IDENTITIES_PER_VENDOR, VARIANT_WEIGHTS
from ._world import World, postal_charges, posting_times, services

# Retail quantity per substance: median grams and log-sd (assumption; DOMAIN: mostly small
# orders, orders above USD 1,000 are about a quarter of revenue -> a bulk tail).
QUANTITY_G = {
    "cannabis": (5.0, 0.9),
    "prescription": (6.0, 0.7),
    "stimulants": (2.0, 0.8),
    "ecstasy": (3.0, 0.9),
    "psychedelics": (0.3, 0.8),
    "opioids": (1.0, 0.8),
    "other": (2.0, 0.9),
}
_COVER_CATEGORIES = np.array(
    [CATEGORY_INDEX[c] for c in ("gift", "sale_of_goods", "commercial_sample", "other")]
)
_COVER_CATEGORY_W = np.array([0.45, 0.33, 0.12, 0.10])


@dataclass
class VendorState:
    """What each vendor currently does; changes after it learns of a seizure."""

    identity: np.ndarray
    cover: np.ndarray
    category: np.ndarray
    letter_bias: np.ndarray
    vague: np.ndarray
    usd: np.ndarray
    split: np.ndarray
    office_habit: np.ndarray

    @classmethod
    def start(cls, rng: np.random.Generator, n: int) -> VendorState:
        state = cls(
            np.zeros(n, np.int64),
            np.zeros(n, np.int64),
            np.zeros(n, np.int64),
            rng.normal(0.0, 0.15, n),
            rng.uniform(0.0, 0.4, n),
            rng.random(n) < 0.3,
            rng.random(n) < 0.1,
            rng.uniform(0.3, 0.9, n),
        )
        state.new_cover(rng, np.arange(n))
        return state

    def new_cover(self, rng: np.random.Generator, vendors: np.ndarray) -> None:
        w = goods.COVER_CHAPTER_WEIGHTS
        self.cover[vendors] = rng.choice(w.size, vendors.size, p=w / w.sum())
        self.category[vendors] = _COVER_CATEGORIES[
            rng.choice(_COVER_CATEGORIES.size, vendors.size, p=_COVER_CATEGORY_W)
        ]
        docs = self.cover[vendors] == goods.DOCUMENTS
        self.category[vendors[docs]] = CATEGORY_INDEX["documents"]

    def react_to_seizure(
        self, rng: np.random.Generator, world: World, vendor: int, day: int
    ) -> None:
        """After a seizure: drop the identity and its address for good (stop shipping here once
        all are burned), change cover goods, weights and posting office, maybe split orders."""
        cfg = world.config
        pop = world.population
        if rng.random() < cfg.identity_rotation_after_seizure:
            self.identity[vendor] += 1
            if self.identity[vendor] >= IDENTITIES_PER_VENDOR:
                self.identity[vendor] = IDENTITIES_PER_VENDOR - 1
                pop.vendor_end[vendor] = min(pop.vendor_end[vendor], day)
        if rng.random() < cfg.cover_change_after_seizure:
            self.new_cover(rng, np.array([vendor]))
            self.letter_bias[vendor] = rng.normal(0.0, 0.15)
            self.vague[vendor] = rng.uniform(0.0, 0.4)
            self.office_habit[vendor] = rng.uniform(0.3, 0.9)
            pop.vendor_office[vendor] = world.offices_by_country.sample(
                rng, pop.vendor_country[[vendor]]
            )[0]
        if rng.random() < cfg.split_after_seizure:
            self.split[vendor] = True


def vendor_parcels(
    world: World,
    state: VendorState,
    rng: np.random.Generator,
    n: int,
    day: int,
    day_us: int,
    substances: tuple[str, ...],
    substance_w: np.ndarray,
    reference: Batch,
) -> Batch:
    """``n`` parcels from vendors active on ``day``; labels drawn from the vendor's rate.

    ``reference`` is the day's legitimate parcels: vendors write net weights whose share of the
    gross weight is that of a legitimate parcel of about the same gross weight."""
    pop = world.population
    cfg = world.config
    active = np.flatnonzero((pop.vendor_start <= day) & (pop.vendor_end > day))
    weight = pop.vendor_weight[active]
    vendor = active[rng.choice(active.size, n, p=weight / weight.sum())]
    origin = pop.vendor_country[vendor]

    variant = rng.choice(VARIANT_WEIGHTS.size, n, p=VARIANT_WEIGHTS)
    sender = pop.vendor_identity_rows[vendor, state.identity[vendor], variant]
    stolen = rng.random(n) < cfg.stolen_identity_share
    sender = np.where(stolen, world.privates_by_country.sample(rng, origin), sender)
    kind = np.where(stolen, KIND["vendor_stolen_identity"], KIND["vendor"])

    destination = world.destinations(n)
    recipient = world.illicit_recipients.sample(rng, destination)
    recipient_kind = world.recipient_kinds(recipient)

    substance = np.where(
        rng.random(n) < 0.6,
        pop.vendor_substance[vendor],
        rng.choice(substance_w.size, n, p=substance_w),
    )
    median = np.array([QUANTITY_G.get(s, (2.0, 0.9))[0] for s in substances])[substance]
    sigma = np.array([QUANTITY_G.get(s, (2.0, 0.9))[1] for s in substances])[substance]
    grams = median * rng.lognormal(0.0, sigma).astype(np.float64)
    grams = np.round(np.where(rng.random(n) < 0.03, grams * rng.uniform(10, 40, n), grams), 2)
    grams = np.round(np.where(state.split[vendor], grams * 0.5, grams), 2).clip(0.05)

    progress = day / max(cfg.days - 1, 1)
    growth = cfg.letter_share_end - cfg.letter_share_start
    letter_share = cfg.letter_share_start + growth * progress
    letter = rng.random(n) < np.clip(letter_share + state.letter_bias[vendor], 0.05, 0.95)
    letter &= grams < 60
    chapter = state.cover[vendor]
    category = state.category[vendor]
    category = np.where(rng.random(n) < 0.1, _COVER_CATEGORIES[rng.integers(0, 4, n)], category)
    category = np.where(chapter == goods.DOCUMENTS, CATEGORY_INDEX["documents"], category)
    currency = np.where(state.usd[vendor], CURRENCY_INDEX["USD"], HOME_CURRENCY[origin])
    n_lines = np.where(rng.random(n) < 0.8, 1, 2)
    n_lines = np.where(chapter == goods.DOCUMENTS, 1, n_lines)
    habits = Habits(
        vague=state.vague[vendor],
        hs_given=np.full(n, 0.3),
        round_values=rng.random(n) < 0.7,
        zero_or_one=np.full(n, 0.03),
        mismatch=np.full(n, 0.03),
        value_scale=rng.uniform(0.4, 0.9, n),
    )
    declared = declare(rng, chapter, chapter, n_lines, currency, origin, habits)
    # The real content: the cover (tiny in letters), the drug and its packing. Declared net
    # weights are written to look like any sender's share of that gross weight.
    cover_kg = np.where(letter, np.minimum(declared.net_kg, 0.03), declared.net_kg)
    packaging = np.where(letter, rng.uniform(0.01, 0.04, n), rng.uniform(0.05, 0.3, n))
    gross = np.round(cover_kg + grams / 1000.0 * rng.uniform(1.05, 1.3, n) + packaging, 3)
    net_total = gross * _shares_like(rng, reference, gross)
    scale = net_total / np.maximum(declared.net_kg, 1e-6)
    line_net = np.round(declared.line_net_kg * scale[declared.line_parcel], 3).clip(0.001)
    office = np.where(
        rng.random(n) < state.office_habit[vendor],
        pop.vendor_office[vendor],
        world.offices_by_country.sample(rng, origin),
    )

    oracle = pop.vendor_rate[vendor]
    illicit = rng.random(n) < oracle
    return Batch(
        sender_row=sender,
        recipient_row=recipient,
        origin=origin,
        destination=destination,
        office=office,
        category=category,
        service=services(rng, gross, origin, letter),
        currency=currency,
        gross_kg=gross,
        declared_value=declared.declared_value,
        postal_charges=postal_charges(rng, gross, letter, EUR_PER_UNIT[currency]),
        posted_us=posting_times(rng, day_us, origin),
        oracle_p=oracle,
        illicit=illicit,
        substance=np.where(illicit, substance, -1),
        quantity_g=np.where(illicit, grams, np.nan),
        sender_kind=kind,
        vendor_id=vendor,
        recipient_kind=recipient_kind,
        line_parcel=declared.line_parcel,
        line_description=declared.line_description,
        line_quantity=declared.line_quantity,
        line_net_kg=line_net,
        line_value=declared.line_value,
        line_hs=declared.line_hs,
        line_hs_extra=declared.line_hs_extra,
        line_origin=declared.line_origin,
    )


def _shares_like(rng: np.random.Generator, reference: Batch, gross: np.ndarray) -> np.ndarray:
    """Net-over-gross shares of legitimate parcels close in gross weight (one of the 40
    nearest by rank), so that the declared ratio overlaps as packing makes it."""
    n_ref = len(reference)
    if n_ref == 0:
        return np.full(gross.size, 0.8)
    net = np.bincount(reference.line_parcel, weights=reference.line_net_kg, minlength=n_ref)
    order = np.argsort(reference.gross_kg, kind="stable")
    share = np.clip(net[order] / np.maximum(reference.gross_kg[order], 1e-6), 0.0, 1.5)
    rank = np.searchsorted(reference.gross_kg[order], gross)
    pick = np.clip(rank + rng.integers(-20, 20, gross.size), 0, n_ref - 1)
    return np.asarray(share[pick])
