"""Arrow tables in the data contract's shape, UPU S10 item identifiers, and file writing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from data_contracts import (
    CONTRACT_VERSION,
    DECLARATION_CSV_COLUMNS,
    DECLARATION_SCHEMA,
    EXPRESS_TYPE,
    LINE_TYPE,
    PARTY_TYPE,
)

from . import _goods as goods
from ._batch import CATEGORIES, RECIPIENT_KINDS, SENDER_KINDS, SERVICES, Batch
from ._config import SimulationResult
from ._geography import CODES, CURRENCIES
from ._inspection import REASONS, RESULTS, Inspections
from ._population import PartyTable
from ._world import World

S10_WEIGHTS = np.array([8, 6, 4, 2, 3, 5, 9, 7])
_UTC_US = DECLARATION_SCHEMA.field("posted_at").type


def s10_check_digit(serial: np.ndarray) -> np.ndarray:
    """UPU S10 check digit of 8-digit serials (DOMAIN: weights 8 6 4 2 3 5 9 7)."""
    digits = (serial[:, None] // 10 ** np.arange(7, -1, -1)) % 10
    c = 11 - (digits @ S10_WEIGHTS) % 11
    return np.asarray(np.where(c == 10, 0, np.where(c == 11, 5, c)))


def item_ids(rng: np.random.Generator, service: np.ndarray, origin: np.ndarray) -> pa.Array:
    """Unique S10 identifiers: service indicator, random unique serial, check digit, country."""
    n = service.size
    serial = rng.choice(100_000_000, size=n, replace=False)
    chars = np.empty((n, 13), np.uint8)
    letters = np.frombuffer("".join(SERVICES).encode(), np.uint8).reshape(-1, 2)
    chars[:, 0:2] = letters[service]
    chars[:, 2:10] = ord("0") + (serial[:, None] // 10 ** np.arange(7, -1, -1)) % 10
    chars[:, 10] = ord("0") + s10_check_digit(serial)
    country = np.frombuffer("".join(CODES).encode(), np.uint8).reshape(-1, 2)
    chars[:, 11:13] = country[origin]
    return pa.array(chars.view("S13").ravel()).cast(pa.string())


def _lookup(values: tuple[str, ...] | list[str], index: np.ndarray) -> pa.Array:
    """Strings by index; negative indices become nulls."""
    return pa.array(values, pa.string()).take(pa.array(index, mask=index < 0))


def _party(table: PartyTable, rows: np.ndarray) -> pa.StructArray:
    take = pa.array(rows)
    columns = [
        table.name.take(take),
        table.street.take(take),
        table.city.take(take),
        table.postcode.take(take),
        _lookup(CODES, table.country[rows]),
        table.phone.take(take),
        table.email.take(take),
        table.importer_ref.take(take),
        pa.nulls(len(rows), pa.string()),  # id_number (contract version 2): not simulated
    ]
    return pa.StructArray.from_arrays(columns, fields=list(PARTY_TYPE))


def _nullable(values: np.ndarray) -> pa.Array:
    return pa.array(values, pa.float64(), mask=np.isnan(values))


def _lines(b: Batch) -> pa.ListArray:
    hs6 = goods.HS6.take(pa.array(np.clip(b.line_hs, 0, None)))
    suffix = _lookup(["", "00", "0000"], b.line_hs_extra // 2)
    hs = pc.if_else(
        pa.array(b.line_hs < 0),
        pa.scalar(None, pa.string()),
        pc.binary_join_element_wise(hs6, suffix, ""),
    )
    struct = pa.StructArray.from_arrays(
        [
            goods.DESCRIPTIONS.take(pa.array(b.line_description)),
            pa.array(b.line_quantity, pa.int32()),
            pa.array(b.line_net_kg, pa.float64()),
            pa.array(b.line_value, pa.float64()),
            hs,
            _lookup(CODES, b.line_origin),
        ],
        fields=list(LINE_TYPE),
    )
    offsets = np.concatenate([[0], np.cumsum(np.bincount(b.line_parcel, minlength=len(b)))])
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), struct)


def _constant(value: str, n: int) -> pa.Array:
    return pa.array([value], pa.string()).take(pa.array(np.zeros(n, np.int64)))


def build_tables(
    world: World, batch: Batch, found: Inspections, rng: np.random.Generator
) -> SimulationResult:
    """Turn the stacked parcels and inspections into the three contract tables."""
    n = len(batch)
    pop = world.population
    ids = item_ids(rng, batch.service, batch.origin)
    declarations = pa.table(
        {
            "contract_version": _constant(CONTRACT_VERSION, n),
            "item_id": ids,
            "posted_at": pa.array(batch.posted_us, _UTC_US),
            "origin_post": _lookup(pop.office_codes, batch.office),
            "origin_country": _lookup(CODES, batch.origin),
            "destination_country": _lookup(CODES, batch.destination),
            "sender": _party(pop.senders, batch.sender_row),
            "recipient": _party(pop.recipients, batch.recipient_row),
            "category": _lookup(CATEGORIES, batch.category),
            "gross_weight_kg": pa.array(batch.gross_kg, pa.float64()),
            "declared_value": pa.array(batch.declared_value, pa.float64()),
            "currency": _lookup(CURRENCIES, batch.currency),
            "postal_charges": _nullable(batch.postal_charges),
            "lines": _lines(batch),
            "express": pa.nulls(n, EXPRESS_TYPE),  # postal items only: no express consignment
        }
    )
    substances = [s for s, _ in world.config.substance_mix]
    seized = found.result == 0
    measured = batch.quantity_g[found.parcel] * rng.uniform(0.95, 1.05, found.parcel.size)
    officers = [f"OFF-{i:03d}" for i in range(60)]
    outcomes = pa.table(
        {
            "contract_version": _constant(CONTRACT_VERSION, found.parcel.size),
            "item_id": ids.take(pa.array(found.parcel)),
            "recorded_at": pa.array(found.recorded_us, _UTC_US),
            "inspected": pa.array(np.ones(found.parcel.size, bool)),
            "selection_reason": _lookup(REASONS, found.reason),
            "selection_probability": _nullable(found.probability),
            "result": _lookup(RESULTS, found.result),
            "substance": _lookup(substances, np.where(seized, batch.substance[found.parcel], -1)),
            "quantity_g": _nullable(np.where(seized, np.round(measured, 2), np.nan)),
            "officer_ref": _lookup(officers, found.officer),
        }
    )
    truth = pa.table(
        {
            "item_id": ids,
            "illicit": pa.array(batch.illicit),
            "oracle_probability": pa.array(batch.oracle_p, pa.float64()),
            "substance": _lookup(substances, batch.substance),
            "sender_kind": _lookup(SENDER_KINDS, batch.sender_kind),
            "vendor_id": pa.array(batch.vendor_id, pa.int64(), mask=batch.vendor_id < 0),
            "recipient_kind": _lookup(RECIPIENT_KINDS, batch.recipient_kind),
            "sender_party": pa.array(batch.sender_row, pa.int64()),
            "recipient_party": pa.array(batch.recipient_row, pa.int64()),
            "quantity_g": _nullable(batch.quantity_g),
        }
    )
    return SimulationResult(declarations, outcomes, truth)


def _declarations_csv(table: pa.Table) -> pa.Table:
    """The contract's CSV form of declarations (``data_contracts.DECLARATION_CSV_COLUMNS``):
    one row per content line, item fields repeated, ``sender_name``... and ``line_value``..."""
    lines = table.column("lines").combine_chunks()
    rows = table.take(pc.list_parent_indices(lines))  # an item's rows stay contiguous
    content = pc.list_flatten(lines)
    columns: dict[str, pa.Array | pa.ChunkedArray] = {
        f"line_{f.name}": content.field(f.name) for f in LINE_TYPE
    }
    for role in ("sender", "recipient"):
        party = rows.column(role)
        columns.update({f"{role}_{f.name}": pc.struct_field(party, f.name) for f in PARTY_TYPE})
    express = rows.column("express")
    columns.update({f"express_{f.name}": pc.struct_field(express, f.name) for f in EXPRESS_TYPE})
    return pa.table(
        {
            name: columns[name] if name in columns else rows.column(name)
            for name in DECLARATION_CSV_COLUMNS
        }
    )


def write_tables(result: SimulationResult, out_dir: Path, csv: bool) -> dict[str, Path]:
    """Write Parquet (zstd, no statistics-dependent randomness) and optional CSV copies."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    named = {
        "declarations": result.declarations,
        "outcomes": result.outcomes,
        "truth": result.truth,
    }
    for name, table in named.items():
        path = out_dir / f"{name}.parquet"
        pq.write_table(table, path, compression="zstd")
        paths[name] = path
    if csv:
        for name in ("declarations", "outcomes"):
            path = out_dir / f"{name}.csv"
            pacsv.write_csv(
                _declarations_csv(named[name]) if name == "declarations" else named[name], path
            )
            paths[f"{name}_csv"] = path
    return paths
