"""The parties: merchants, private senders, vendors with their identities, recipients, drops.

Latent traits (vendor illicit rate, grey merchants, buyers, drop addresses) live here and only
reach the declarations through the parcels these parties send. Every party is one row of a
sender or recipient table; a parcel points at a row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import _goods as goods
from . import _names as names
from ._config import EU_MEMBERS, SimulationConfig
from ._geography import CODES, COUNTRIES, INDEX, offices

THIRD_COUNTRY = np.array([c.code not in EU_MEMBERS for c in COUNTRIES])
"""Countries whose items to an EU authority carry a customs declaration."""

IDENTITIES_PER_VENDOR = 8
"""Identities a vendor can burn through; it stops shipping here once all are burned."""
VARIANTS_PER_IDENTITY = 3
VARIANT_WEIGHTS = np.array([0.75, 0.15, 0.10])
"""Vendors: exact identity, typo of the name, same name with another street (assumption)."""
MERCHANT_VARIANT_WEIGHTS = np.array([0.92, 0.03, 0.05])
"""Merchants: exact, name written another way (platform, suffix), another warehouse (assumption)."""
PRIVATE_VARIANT_WEIGHTS = np.array([0.85, 0.08, 0.07])
"""Private senders: exact, misspelt name, another address (work, family) (assumption)."""
DROP_ALIASES = 5
PARCELS_PER_DROP = 6.0
"""Mean vendor parcels a drop address receives over a run (assumption)."""
MERCHANT_SHARE_OF_LEGIT = 0.72
"""Share of legitimate items sent by merchants; the rest by private people (assumption)."""
MEAN_VENDOR_ILLICIT_RATE = 0.8
"""Mean of Beta(8, 2): vendors also ship innocuous items (assumption)."""


@dataclass
class PartyTable:
    """String columns of a sender or recipient table plus its numeric keys."""

    name: pa.Array
    street: pa.Array
    city: pa.Array
    postcode: pa.Array
    country: np.ndarray
    phone: pa.Array
    email: pa.Array
    importer_ref: pa.Array
    name_key: np.ndarray
    address_key: np.ndarray


@dataclass
class Population:
    senders: PartyTable
    recipients: PartyTable
    office_codes: list[str]
    office_country: np.ndarray
    merchant_rows: np.ndarray
    merchant_variant_rows: np.ndarray
    merchant_weight: np.ndarray
    merchant_chapters: np.ndarray
    merchant_office: np.ndarray
    merchant_gift_habit: np.ndarray
    merchant_usd: np.ndarray
    merchant_grey: np.ndarray
    private_rows: np.ndarray
    private_variant_rows: np.ndarray
    private_weight: np.ndarray
    vendor_country: np.ndarray
    vendor_rate: np.ndarray
    vendor_weight: np.ndarray
    vendor_substance: np.ndarray
    vendor_start: np.ndarray
    vendor_end: np.ndarray
    vendor_office: np.ndarray
    vendor_identity_rows: np.ndarray
    recipient_weight: np.ndarray
    buyer_weight: np.ndarray
    drop_rows: np.ndarray
    drop_weight: np.ndarray
    authority: int


def _party_table(
    rng: np.random.Generator,
    country: np.ndarray,
    name: pa.Array,
    incomplete: float,
    phone_share: float,
    email_share: float,
) -> PartyTable:
    n = country.size
    missing = pa.array(rng.random(n) < incomplete)
    street = pc.if_else(missing, pa.scalar(None, pa.string()), names.streets(rng, country))
    postcode = pc.if_else(
        pa.array(rng.random(n) < incomplete * 0.7),
        pa.scalar(None, pa.string()),
        names.postcodes(rng, country),
    )
    city = pc.if_else(
        pa.array(rng.random(n) < incomplete * 0.3),
        pa.scalar(None, pa.string()),
        names.cities(rng, country),
    )
    phone = pc.if_else(
        pa.array(rng.random(n) < phone_share),
        names.phones(rng, country),
        pa.scalar(None, pa.string()),
    )
    email = pc.if_else(
        pa.array(rng.random(n) < email_share), names.emails(rng, name), pa.scalar(None, pa.string())
    )
    return PartyTable(
        name,
        street,
        city,
        postcode,
        country,
        phone,
        email,
        pa.nulls(n, pa.string()),
        np.zeros(n, np.int64),
        np.zeros(n, np.int64),
    )


def _concat(tables: list[PartyTable]) -> PartyTable:
    def cat(attr: str) -> pa.Array:
        parts = [getattr(t, attr) for t in tables]  # large draws can come back chunked
        return pa.concat_arrays(
            [p.combine_chunks() if isinstance(p, pa.ChunkedArray) else p for p in parts]
        )

    country = np.concatenate([t.country for t in tables])
    table = PartyTable(
        cat("name"),
        cat("street"),
        cat("city"),
        cat("postcode"),
        country,
        cat("phone"),
        cat("email"),
        cat("importer_ref"),
        np.zeros(country.size, np.int64),
        np.zeros(country.size, np.int64),
    )
    table.name_key = _factorize(pc.utf8_lower(table.name))
    address = names.join(
        pc.fill_null(table.street, ""),
        "|",
        pc.fill_null(table.postcode, ""),
        "|",
        pa.array(np.array(CODES)[country]),
    )
    table.address_key = _factorize(address)
    return table


def _factorize(values: pa.Array) -> np.ndarray:
    encoded = pc.dictionary_encode(values)
    return np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)


def _choice(rng: np.random.Generator, weights: np.ndarray, n: int) -> np.ndarray:
    return rng.choice(weights.size, size=n, p=weights / weights.sum())


def _country_offices(
    rng: np.random.Generator, office_country: np.ndarray, country: np.ndarray, exchange: np.ndarray
) -> np.ndarray:
    """A posting office in each party's country; ``exchange`` parties use the first one."""
    first = np.searchsorted(office_country, np.arange(len(COUNTRIES)))
    count = np.bincount(office_country, minlength=len(COUNTRIES))
    pick = (rng.random(country.size) * count[country]).astype(np.int64)
    return np.asarray(first[country] + np.where(exchange, 0, pick))


def build_population(
    config: SimulationConfig, rng: np.random.Generator, vendor_parcels: float
) -> Population:
    """Draw every party of the simulation; sizes scale with ``config.parcels``."""
    n = config.parcels
    noise = config.legit_noise
    office_codes, office_country, _ = offices()
    authority = INDEX[config.authority]
    export = np.array([c.export_weight for c in COUNTRIES]) * THIRD_COUNTRY
    imports = np.array([c.import_weight for c in COUNTRIES])

    # Merchants: heavy-tailed volumes (Pareto), a main and a side chapter, habits.
    n_merchants = max(40, n // 400)
    m_country = _choice(rng, export, n_merchants)
    merchant_weight = rng.pareto(1.1, n_merchants) + 0.05
    m_chapters = np.stack(
        [_choice(rng, goods.MERCHANT_CHAPTER_WEIGHTS, n_merchants) for _ in range(2)], axis=1
    )
    m_office = _country_offices(rng, office_country, m_country, merchant_weight > 2.0)
    cn_like = np.isin(m_country, [INDEX["CN"], INDEX["HK"]])
    gift_habit = np.where(
        rng.random(n_merchants) < np.where(cn_like, 0.3, 0.08) * noise,
        rng.uniform(0.3, 0.9, n_merchants),
        0.0,
    )
    merchant_usd = rng.random(n_merchants) < np.where(cn_like, 0.75, 0.1)
    merchant_grey = (rng.random(n_merchants) < 0.02) & ~np.isin(m_country, [INDEX["US"]])
    merchants = _with_variants(
        rng,
        _party_table(rng, m_country, names.company_names(rng, m_country), 0.03 * noise, 0.6, 0.7),
        0.03 * noise,
    )

    # Private senders: many, most send once or twice.
    n_private = max(200, int(n * (1 - MERCHANT_SHARE_OF_LEGIT) * 0.7))
    p_country = _choice(rng, np.sqrt(export * imports), n_private)
    third = np.flatnonzero(THIRD_COUNTRY)
    p_country[: third.size] = third  # every third country has senders
    privates = _with_variants(
        rng,
        _party_table(rng, p_country, names.person_names(rng, p_country), 0.10 * noise, 0.4, 0.3),
        0.10 * noise,
    )
    private_weight = rng.lognormal(0.0, 1.0, n_private)

    # Vendors: initial ones plus entrants, a lifetime, a substance, identities.
    n_vendors = max(config.min_vendors, int(round(vendor_parcels / config.vendor_mean_parcels)))
    n_initial = max(6, int(round(n_vendors / (1 + config.vendor_entry_share))))
    v_codes, v_w = zip(*config.vendor_country_weights, strict=True)
    v_country = np.array([INDEX[c] for c in v_codes])[
        _choice(rng, np.array(v_w, dtype=float), n_vendors)
    ]
    v_country[: len(v_codes)] = [INDEX[c] for c in v_codes[:n_vendors]]  # every country present
    substances, s_w = zip(*config.substance_mix, strict=True)
    v_substance = _choice(rng, np.array(s_w, dtype=float), n_vendors)
    v_start = np.zeros(n_vendors)
    takedown = config.takedown_at * config.days
    entrants = np.arange(n_initial, n_vendors)
    after = rng.random(entrants.size) < 0.5
    v_start[entrants] = np.where(
        after,
        takedown + rng.uniform(2, 25, entrants.size),
        rng.uniform(0, config.days, entrants.size),
    )
    v_end = np.full(n_vendors, np.inf)
    active_at_takedown = v_start < takedown
    stops = active_at_takedown & (rng.random(n_vendors) < config.takedown_exit_share)
    v_end[stops] = takedown
    quits = rng.random(n_vendors) < 0.15
    shortest = min(10.0, config.days)  # a quitter stays 10 days or more (or the whole period)
    v_end = np.where(
        quits, np.minimum(v_end, v_start + rng.uniform(shortest, config.days, n_vendors)), v_end
    )
    v_office = _country_offices(rng, office_country, v_country, np.zeros(n_vendors, bool))
    n_identities = n_vendors * IDENTITIES_PER_VENDOR
    id_country = np.repeat(v_country, IDENTITIES_PER_VENDOR)
    shop_like = rng.random(n_identities) < 0.3
    base = pc.if_else(
        pa.array(shop_like),
        names.company_names(rng, id_country),
        names.person_names(rng, id_country),
    )
    identities = _party_table(rng, id_country, base, 0.25, 0.2, 0.15)
    variants = [
        identities,
        _with_name(identities, [names.typo_variant(rng, s) for s in base.to_pylist()]),
        _party_table(rng, id_country, base, 0.25, 0.2, 0.15),
    ]
    vendors = _interleave(variants)

    # Recipients: people in the authority's country, returning customers (lognormal activity),
    # a subset buying drugs (10% of buyers make over half of purchases, most buy once: DOMAIN,
    # Norbutas 2018).
    n_recipients = max(500, int(n * 0.55))
    r_country = np.full(n_recipients, authority)
    recipients = _party_table(
        rng, r_country, names.person_names(rng, r_country), 0.05 * noise, 0.5, 0.5
    )
    business = rng.random(n_recipients) < 0.03
    vat = names.join(pa.array(np.array(CODES)[r_country]), names.digits(rng, n_recipients, 9))
    recipients.importer_ref = pc.if_else(pa.array(business), vat, pa.scalar(None, pa.string()))
    _share_households(rng, recipients, 0.15 * noise)
    recipient_weight = rng.lognormal(0.0, 1.2, n_recipients)
    n_buyers = max(50, int(vendor_parcels * 0.9))
    buyer_weight = np.zeros(n_recipients)
    buyers = rng.choice(n_recipients, size=min(n_buyers, n_recipients), replace=False)
    buyer_weight[buyers] = rng.lognormal(0.0, 1.7, buyers.size)

    # Drop addresses: one address, several names, several vendors (aliases share the address).
    n_drops = max(
        5, int(round(vendor_parcels * config.drop_share_of_vendor_parcels / PARCELS_PER_DROP))
    )
    d_country = np.full(n_drops * DROP_ALIASES, authority)
    drops = _party_table(rng, d_country, names.person_names(rng, d_country), 0.15, 0.3, 0.2)
    lead = np.repeat(np.arange(n_drops) * DROP_ALIASES, DROP_ALIASES)
    drops.street, drops.postcode, drops.city = (
        col.take(pa.array(lead)) for col in (drops.street, drops.postcode, drops.city)
    )
    # Drops take ``drop_share_of_vendor_parcels`` of the buyers' mass, spread over aliases.
    share = config.drop_share_of_vendor_parcels
    drop_weight = np.full(
        d_country.size, buyer_weight.sum() * share / max(1 - share, 1e-9) / d_country.size
    )

    senders = _concat([merchants, privates, vendors])
    recips = _concat([recipients, drops])
    vendor_base = 3 * (n_merchants + n_private)
    m_rows = np.arange(n_merchants)
    p_rows = 3 * n_merchants + np.arange(n_private)
    return Population(
        senders=senders,
        recipients=recips,
        office_codes=office_codes,
        office_country=office_country,
        merchant_rows=m_rows,
        merchant_variant_rows=m_rows[:, None] + n_merchants * np.arange(3)[None, :],
        merchant_weight=merchant_weight,
        merchant_chapters=m_chapters,
        merchant_office=m_office,
        merchant_gift_habit=gift_habit,
        merchant_usd=merchant_usd,
        merchant_grey=merchant_grey,
        private_rows=p_rows,
        private_variant_rows=p_rows[:, None] + n_private * np.arange(3)[None, :],
        private_weight=private_weight,
        vendor_country=v_country,
        vendor_rate=rng.beta(8.0, 2.0, n_vendors),
        vendor_weight=rng.lognormal(0.0, 0.7, n_vendors),
        vendor_substance=v_substance,
        vendor_start=v_start,
        vendor_end=v_end,
        vendor_office=v_office,
        vendor_identity_rows=vendor_base
        + np.arange(n_identities * VARIANTS_PER_IDENTITY).reshape(
            n_vendors, IDENTITIES_PER_VENDOR, VARIANTS_PER_IDENTITY
        ),
        recipient_weight=np.concatenate(
            [recipient_weight, rng.lognormal(0.0, 1.2, d_country.size)]
        ),
        buyer_weight=np.concatenate([buyer_weight, np.zeros(d_country.size)]),
        drop_rows=n_recipients + np.arange(d_country.size).reshape(n_drops, DROP_ALIASES),
        drop_weight=np.concatenate([np.zeros(n_recipients), drop_weight]),
        authority=authority,
    )


def _with_variants(rng: np.random.Generator, table: PartyTable, incomplete: float) -> PartyTable:
    """The table, then each party with its name written another way, then each party at
    another address (same order): legitimate senders vary too, so variants are no giveaway."""
    typo = _with_name(table, [names.typo_variant(rng, s) for s in table.name.to_pylist()])
    moved = _party_table(rng, table.country, table.name, incomplete, 0.4, 0.4)
    return _concat([table, typo, moved])


def _share_households(rng: np.random.Generator, table: PartyTable, share: float) -> None:
    """Let a ``share`` of people live at the address of another person of the same country
    (families, flatmates), so several names at one address is not a giveaway of a drop."""
    order = np.argsort(table.country, kind="stable")
    movers = order[1:][
        (rng.random(order.size - 1) < share)
        & (table.country[order[1:]] == table.country[order[:-1]])
    ]
    source = np.arange(table.country.size)
    position = np.empty_like(order)
    position[order] = np.arange(order.size)
    source[movers] = order[position[movers] - 1]
    take = pa.array(source)
    table.street, table.postcode, table.city = (
        col.take(take) for col in (table.street, table.postcode, table.city)
    )


def _with_name(table: PartyTable, name: list[str]) -> PartyTable:
    return PartyTable(
        pa.array(name),
        table.street,
        table.city,
        table.postcode,
        table.country,
        table.phone,
        table.email,
        table.importer_ref,
        table.name_key,
        table.address_key,
    )


def _interleave(variants: list[PartyTable]) -> PartyTable:
    """Rows ordered identity-major: identity 0 variants 0..2, identity 1 variants 0..2, ..."""
    k = len(variants)
    n = variants[0].country.size
    order = pa.array((np.arange(n * k).reshape(k, n).T).ravel())
    merged = _concat(variants)
    return PartyTable(
        *(
            merged.__dict__[f].take(order)
            if isinstance(merged.__dict__[f], pa.Array)
            else merged.__dict__[f][order.to_numpy()]
            for f in (
                "name",
                "street",
                "city",
                "postcode",
                "country",
                "phone",
                "email",
                "importer_ref",
                "name_key",
                "address_key",
            )
        )
    )
