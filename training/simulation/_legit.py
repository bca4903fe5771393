"""Legitimate postal flows: e-commerce merchants and private senders.

Merchant volumes are heavy-tailed (Pareto); a few "grey" merchants (online pharmacies,
supplement shops) carry a small latent illicit rate. Private people send gifts, documents and
returns, often with poor declarations. Noise levels follow DOMAIN's WCO list (assumption on
the rates, scaled by ``legit_noise``).
"""

from __future__ import annotations

import numpy as np

from . import _goods as goods
from ._batch import CATEGORY_INDEX, KIND, Batch, weighted
from ._declare import Habits, declare, net_share
from ._geography import CURRENCY_INDEX, EUR_PER_UNIT, HOME_CURRENCY
from ._population import (
    MERCHANT_SHARE_OF_LEGIT,
    MERCHANT_VARIANT_WEIGHTS,
    PRIVATE_VARIANT_WEIGHTS,
)
from ._world import World, postal_charges, posting_times, services

_PRIVATE_CATEGORY = np.array(
    [
        CATEGORY_INDEX[c]
        for c in ("gift", "returned_goods", "sale_of_goods", "other", "commercial_sample")
    ]
)
_PRIVATE_CATEGORY_W = np.array([0.55, 0.12, 0.18, 0.10, 0.05])


def legit_parcels(world: World, rng: np.random.Generator, n: int, day_us: int) -> Batch:
    """``n`` legitimate parcels posted on the day starting at ``day_us``; oracle not set yet."""
    pop = world.population
    noise = world.config.legit_noise
    merchant = rng.random(n) < MERCHANT_SHARE_OF_LEGIT
    m = weighted(rng, pop.merchant_weight, n)
    p = weighted(rng, pop.private_weight, n)
    m_variant = rng.choice(3, n, p=MERCHANT_VARIANT_WEIGHTS)
    p_variant = rng.choice(3, n, p=PRIVATE_VARIANT_WEIGHTS)
    sender = np.where(
        merchant, pop.merchant_variant_rows[m, m_variant], pop.private_variant_rows[p, p_variant]
    )
    origin = pop.senders.country[sender]
    grey = merchant & pop.merchant_grey[m]
    kind = np.where(
        merchant, np.where(grey, KIND["grey_merchant"], KIND["merchant"]), KIND["private"]
    )

    main = np.where(rng.random(n) < 0.75, pop.merchant_chapters[m, 0], pop.merchant_chapters[m, 1])
    grey_chapter = goods.CHAPTER_INDEX["21"]
    main = np.where(grey, grey_chapter, main)
    private_chapter = weighted(rng, goods.PRIVATE_CHAPTER_WEIGHTS, n)
    chapter = np.where(merchant, main, private_chapter)
    second = np.where(merchant, pop.merchant_chapters[m, 1], chapter)
    docs = chapter == goods.DOCUMENTS

    category = np.where(
        rng.random(n) < pop.merchant_gift_habit[m],
        CATEGORY_INDEX["gift"],
        CATEGORY_INDEX["sale_of_goods"],
    )
    category = np.where(rng.random(n) < 0.03, CATEGORY_INDEX["commercial_sample"], category)
    private_category = _PRIVATE_CATEGORY[
        rng.choice(_PRIVATE_CATEGORY.size, n, p=_PRIVATE_CATEGORY_W)
    ]
    category = np.where(merchant, category, private_category)
    category = np.where(docs, CATEGORY_INDEX["documents"], category)

    home = HOME_CURRENCY[origin]
    other = np.where(rng.random(n) < 0.6, CURRENCY_INDEX["USD"], CURRENCY_INDEX["EUR"])
    currency = np.where(
        merchant,
        np.where(pop.merchant_usd[m], CURRENCY_INDEX["USD"], home),
        np.where(rng.random(n) < 0.85, home, other),
    )
    n_lines = np.where(merchant, rng.geometric(0.75, n), rng.geometric(0.75, n)).clip(1, 5)
    n_lines = np.where(docs, 1, n_lines)

    habits = Habits(
        vague=np.where(merchant, 0.03, 0.10) * noise,
        hs_given=np.where(merchant, 0.80, 0.25),
        round_values=~merchant,
        zero_or_one=np.where(merchant, 0.01, 0.04) * noise,
        mismatch=np.full(n, 0.03 * noise),
        value_scale=np.where(category == CATEGORY_INDEX["gift"], rng.uniform(0.3, 1.0, n), 1.0),
    )
    declared = declare(rng, chapter, second, n_lines, currency, origin, habits)
    letter = (declared.net_kg < 1.5) & (rng.random(n) < np.where(merchant, 0.75, 0.6))
    gross = np.round(declared.net_kg / net_share(rng, letter, declared.net_kg), 3)
    gross = np.where(
        rng.random(n) < 0.01 * noise, np.round(gross * rng.uniform(0.3, 0.9, n), 3), gross
    )
    office = np.where(
        merchant, pop.merchant_office[m], world.offices_by_country.sample(rng, origin)
    )
    destination = world.destinations(n)
    recipient = world.recipients.sample(rng, destination)
    recipient_kind = world.recipient_kinds(recipient)
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
        oracle_p=np.zeros(n),
        illicit=np.zeros(n, bool),
        substance=np.full(n, -1),
        quantity_g=np.full(n, np.nan),
        sender_kind=kind,
        vendor_id=np.full(n, -1),
        recipient_kind=recipient_kind,
        line_parcel=declared.line_parcel,
        line_description=declared.line_description,
        line_quantity=declared.line_quantity,
        line_net_kg=declared.line_net_kg,
        line_value=declared.line_value,
        line_hs=declared.line_hs,
        line_hs_extra=declared.line_hs_extra,
        line_origin=declared.line_origin,
    )
