"""Several authorities' flows that share vendors and buyers' drops (issue 21's simulator).

Each authority's flow is one run of the simulator (its own country as destination, its own
seed). Then identities are shared the way darknet trade shares them:

- vendors ship to many countries: a share of each later authority's vendors are vendors of
  an earlier authority (same sender names and addresses, identity rotations aligned in order);
- drops receive from several vendors and countries: a share of drop-bound vendor parcels
  entering at one authority are addressed to a drop of another authority's country (the EU's
  entry point screens items for other member states, ICS2);
- declarations carry typos: a share of parties get one edited character in the name, the
  street or the postcode.

Each authority sees only its own flow and its own outcomes; what it learns of the others'
seizures comes only through the exchange. The truth table gains ``vendor_key`` (the shared
vendor's name across flows, '' for none).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pyarrow as pa

from ._api import simulate
from ._config import SimulationConfig, SimulationResult

_LETTERS = "abcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True)
class AgenciesConfig:
    base: SimulationConfig
    authorities: tuple[str, ...] = ("NL", "BE", "DE")
    vendor_share: float = 0.5
    """Share of a later authority's vendors that are an earlier authority's vendor (assumption)."""
    drop_transit_share: float = 0.3
    """Share of drop-bound vendor parcels addressed to another authority's drop (assumption)."""
    typo_rate: float = 0.1
    """Share of parties declared with one typo in name, street or postcode (assumption)."""


def typo(text: str, rng: np.random.Generator) -> str:
    """One edit (substitution, deletion, insertion or swap) at a letter or digit of ``text``."""
    spots = [i for i, c in enumerate(text) if c.isalnum()]
    if not spots:
        return text
    i = int(rng.choice(spots))
    op = int(rng.integers(4))
    c = _LETTERS[int(rng.integers(26))] if text[i].isalpha() else str(int(rng.integers(10)))
    if op == 0:
        return text[:i] + c + text[i + 1 :]
    if op == 1 and len(spots) > 2:
        return text[:i] + text[i + 1 :]
    if op == 2:
        return text[:i] + c + text[i:]
    j = i + 1 if i + 1 < len(text) else i - 1
    a, b = sorted((i, j))
    return text[:a] + text[b] + text[a] + text[b + 1 :]


def with_typo(party: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    fields = [f for f in ("name", "street", "postcode") if party.get(f)]
    if not fields:
        return party
    field = fields[int(rng.integers(len(fields)))]
    return {**party, field: typo(str(party[field]), rng)}


def _identity(party: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(party.get(f) for f in ("name", "street", "city", "postcode", "country"))


def _vendor_identities(
    decls: list[dict[str, Any]], truth: list[dict[str, Any]]
) -> dict[int, list[dict[str, Any]]]:
    """Vendor id -> its distinct sender identities in order of first use."""
    out: dict[int, list[dict[str, Any]]] = {}
    seen: set[tuple[Any, ...]] = set()
    for d, t in zip(decls, truth, strict=True):
        v = t["vendor_id"]
        if v is None:
            continue
        key = (v, *_identity(d["sender"]))
        if key not in seen:
            seen.add(key)
            out.setdefault(int(v), []).append(d["sender"])
    return out


def simulate_agencies(config: AgenciesConfig) -> dict[str, SimulationResult]:
    rng = np.random.default_rng(config.base.seed + 7_777)
    flows: dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]], SimulationResult]] = {}
    for n, authority in enumerate(config.authorities):
        result = simulate(
            replace(config.base, authority=authority, seed=config.base.seed * 101 + n)
        )
        flows[authority] = (result.declarations.to_pylist(), result.truth.to_pylist(), result)
    pools = {a: _vendor_identities(d, t) for a, (d, t, _) in flows.items()}
    drops = {
        a: [d["recipient"] for d, t in zip(dd, tt, strict=True) if t["recipient_kind"] == "drop"]
        for a, (dd, tt, _) in flows.items()
    }
    for n, authority in enumerate(config.authorities):
        decls, truth, _ = flows[authority]
        earlier = config.authorities[:n]
        mapping: dict[int, tuple[str, int]] = {}
        if earlier:
            for v in pools[authority]:
                if rng.random() < config.vendor_share:
                    other = earlier[int(rng.integers(len(earlier)))]
                    keys = list(pools[other])
                    mapping[v] = (other, keys[int(rng.integers(len(keys)))])
        order: dict[int, list[tuple[Any, ...]]] = {}
        for d, t in zip(decls, truth, strict=True):
            v = t["vendor_id"]
            t["vendor_key"] = f"{authority}:{v}" if v is not None else ""
            if v is not None and int(v) in mapping:
                other, u = mapping[int(v)]
                t["vendor_key"] = f"{other}:{u}"
                own = order.setdefault(int(v), [])
                ident = _identity(d["sender"])
                if ident not in own:
                    own.append(ident)
                theirs = pools[other][u]
                d["sender"] = dict(theirs[min(own.index(ident), len(theirs) - 1)])
            others = [a for a in config.authorities if a != authority and drops[a]]
            if (
                t["recipient_kind"] == "drop"
                and others
                and rng.random() < config.drop_transit_share
            ):
                pool = drops[others[int(rng.integers(len(others)))]]
                d["recipient"] = dict(pool[int(rng.integers(len(pool)))])
        for d in decls:
            for role in ("sender", "recipient"):
                if rng.random() < config.typo_rate:
                    d[role] = with_typo(d[role], rng)
    out = {}
    for authority, (decls, truth, result) in flows.items():
        out[authority] = SimulationResult(
            declarations=pa.Table.from_pylist(decls, schema=result.declarations.schema),
            outcomes=result.outcomes,
            truth=pa.Table.from_pylist(truth),
        )
    return out


def authorities_of(results: dict[str, SimulationResult]) -> Sequence[str]:
    return list(results)
