"""A day's parcels as parallel numpy arrays, and the weighted samplers that fill them.

Strings are not built here: parcels hold row indices into the party tables and small lookup
tables, and ``_tables`` turns them into Arrow columns once at the end.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

SERVICES: tuple[str, ...] = (
    "UA",
    "UB",
    "RR",
    "RB",
    "LX",
    "LA",
    "VV",
    "CP",
    "CX",
    "EE",
    "EA",
    "HA",
    "HB",
)
"""S10 service indicators used: U/R/L/V letters and small packets, C parcels, E EMS,
H e-commerce parcels (DOMAIN: UPU S10)."""
SERVICE_INDEX = {s: i for i, s in enumerate(SERVICES)}
LETTER_SERVICES = np.array([s[0] in "URLV" for s in SERVICES])
CATEGORIES: tuple[str, ...] = (
    "gift",
    "documents",
    "commercial_sample",
    "returned_goods",
    "sale_of_goods",
    "other",
)
CATEGORY_INDEX = {c: i for i, c in enumerate(CATEGORIES)}
SENDER_KINDS: tuple[str, ...] = (
    "merchant",
    "grey_merchant",
    "private",
    "vendor",
    "vendor_stolen_identity",
)
KIND = {k: i for i, k in enumerate(SENDER_KINDS)}
RECIPIENT_KINDS: tuple[str, ...] = ("ordinary", "buyer", "drop")


@dataclass
class Batch:
    """Parcels (one entry each) and their content lines (``line_parcel`` points at parcels)."""

    sender_row: np.ndarray
    recipient_row: np.ndarray
    origin: np.ndarray
    destination: np.ndarray
    office: np.ndarray
    category: np.ndarray
    service: np.ndarray
    currency: np.ndarray
    gross_kg: np.ndarray
    declared_value: np.ndarray
    postal_charges: np.ndarray
    posted_us: np.ndarray
    oracle_p: np.ndarray
    illicit: np.ndarray
    substance: np.ndarray
    quantity_g: np.ndarray
    sender_kind: np.ndarray
    vendor_id: np.ndarray
    recipient_kind: np.ndarray
    line_parcel: np.ndarray
    line_description: np.ndarray
    line_quantity: np.ndarray
    line_net_kg: np.ndarray
    line_value: np.ndarray
    line_hs: np.ndarray
    line_hs_extra: np.ndarray
    line_origin: np.ndarray

    def __len__(self) -> int:
        return int(self.sender_row.size)


def concat(batches: list[Batch]) -> Batch:
    """Stack batches; line pointers are shifted to the stacked parcel positions."""
    offsets = np.cumsum([0] + [len(b) for b in batches[:-1]])
    columns = {}
    for f in fields(Batch):
        parts = [getattr(b, f.name) for b in batches]
        if f.name == "line_parcel":
            parts = [p + o for p, o in zip(parts, offsets, strict=True)]
        columns[f.name] = np.concatenate(parts)
    return Batch(**columns)


class GroupSampler:
    """Weighted sampling of members within a group (e.g. a recipient within a country).

    Weights are normalised within each group and laid end to end, group g on [g, g+1), so one
    ``searchsorted`` samples every item of a day at once. Groups without weight fall back to
    ``fallback`` (another sampler) or to -1.
    """

    def __init__(
        self,
        group: np.ndarray,
        weight: np.ndarray,
        n_groups: int,
        fallback: GroupSampler | None = None,
    ) -> None:
        keep = weight > 0
        members = np.flatnonzero(keep)
        order = np.lexsort((members, group[members]))
        self.members = members[order]
        g = group[self.members]
        w = weight[self.members]
        totals = np.bincount(g, weights=w, minlength=n_groups)
        cum = np.cumsum(w)
        starts = np.concatenate([[0.0], np.cumsum(totals)])[g]
        self.edges = g + (cum - starts) / totals[g]
        self.has = totals > 0
        self.fallback = fallback

    def sample(self, rng: np.random.Generator, group: np.ndarray) -> np.ndarray:
        u = group + rng.random(group.size)
        pos = np.minimum(np.searchsorted(self.edges, u, side="left"), self.members.size - 1)
        out = self.members[pos]
        missing = ~self.has[group]
        if missing.any():
            if self.fallback is None:
                out[missing] = -1
            else:
                out[missing] = self.fallback.sample(rng, group[missing])
        return np.asarray(out)


def choose_rows(rng: np.random.Generator, cumulative: np.ndarray, row: np.ndarray) -> np.ndarray:
    """Sample a column for each item from the row-stochastic matrix given as row cumsums."""
    u = rng.random(row.size)[:, None]
    return np.asarray((cumulative[row] < u).sum(axis=1).clip(0, cumulative.shape[1] - 1))


def weighted(rng: np.random.Generator, weights: np.ndarray, n: int) -> np.ndarray:
    return rng.choice(weights.size, size=n, p=weights / weights.sum())


def reorder(batch: Batch, order: np.ndarray) -> Batch:
    """Parcels in ``order``; lines follow their parcels so the list column stays grouped."""
    inverse = np.empty_like(order)
    inverse[order] = np.arange(order.size)
    new_parcel = inverse[batch.line_parcel]
    line_order = np.argsort(new_parcel, kind="stable")
    columns = {}
    for f in fields(Batch):
        values = getattr(batch, f.name)
        if f.name == "line_parcel":
            columns[f.name] = new_parcel[line_order]
        elif f.name.startswith("line_"):
            columns[f.name] = values[line_order]
        else:
            columns[f.name] = values[order]
    return Batch(**columns)
