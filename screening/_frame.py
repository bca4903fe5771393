"""The parcel frame: declarations as flat numpy columns, the one input of feature code.

Every scoring path (training, batch, HTTP, officer view) builds a frame from an Arrow table in
the contract's nested form (one request is a one-row table), so the features are computed by
one implementation everywhere. Names and addresses are replaced here by keyed tokens: no
clear-text personal data leaves this module.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from data_contracts import DECLARATION_SCHEMA, ParcelDeclaration, is_vague, mail_class, to_table

from ._pseudonymise import Pseudonymiser

#: Entity kinds whose history is tracked, and the declaration parts that identify each.
ENTITIES: dict[str, tuple[str, ...]] = {
    "sender": ("sender.name", "sender.country"),
    "sender_address": ("sender.street", "sender.postcode", "sender.city", "sender.country"),
    "recipient": ("recipient.name", "recipient.postcode", "recipient.country"),
    "recipient_address": (
        "recipient.street",
        "recipient.postcode",
        "recipient.city",
        "recipient.country",
    ),
    "office": ("origin_post", "origin_country"),  # not personal data; tokenised all the same
}


@dataclass
class ParcelFrame:
    """Flat columns of n parcels; ``tokens`` maps entity kind to pseudonymised keys."""

    item_id: np.ndarray
    posted_us: np.ndarray  # int64, microseconds since the epoch, UTC
    mail_class: np.ndarray
    category: np.ndarray
    origin: np.ndarray
    destination: np.ndarray
    currency: np.ndarray
    gross_weight_kg: np.ndarray
    declared_value: np.ndarray
    postal_charges: np.ndarray
    n_lines: np.ndarray
    line_value: np.ndarray
    line_net_weight: np.ndarray
    line_quantity: np.ndarray
    vague_lines: np.ndarray
    missing_hs_lines: np.ndarray
    foreign_origin_lines: np.ndarray
    hs_chapter: np.ndarray  # first line's HS chapter ("" when missing)
    description: np.ndarray  # all line descriptions, lower case, joined by " | "
    sender_missing: np.ndarray  # count of street, city, postcode missing
    recipient_missing: np.ndarray
    sender_contact: np.ndarray  # 1 if phone or e-mail given
    importer_ref: np.ndarray  # 1 if the recipient gave an importer reference
    tokens: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.item_id)


def _col(table: pa.Table, path: str) -> pa.ChunkedArray:
    parts = path.split(".")
    column = table.column(parts[0])
    for part in parts[1:]:
        column = pc.struct_field(column, part)
    return column


def _strings(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(pc.fill_null(array, "").to_numpy(zero_copy_only=False), dtype=object)


def _floats(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(pc.fill_null(array.cast(pa.float64()), np.nan).to_numpy(), dtype=np.float64)


def _per_item(values: np.ndarray, parents: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(parents, weights=values, minlength=n)


def frame_from_table(table: pa.Table, pseudonymiser: Pseudonymiser) -> ParcelFrame:
    """Build the frame of a table in the contract's nested form (validated beforehand)."""
    table = table.select(DECLARATION_SCHEMA.names).combine_chunks()
    n = table.num_rows
    lines_type = DECLARATION_SCHEMA.field("lines").type
    lines = table.column("lines").chunk(0) if n else pa.array([], lines_type)
    parents = pc.list_parent_indices(lines).to_numpy()
    flat = pc.list_flatten(lines)
    descriptions = _strings(pc.struct_field(flat, "description"))
    hs = _strings(pc.struct_field(flat, "hs_code"))
    line_origin = _strings(pc.struct_field(flat, "origin_country"))
    origin = _strings(table.column("origin_country"))
    offsets = lines.offsets.to_numpy()
    starts = offsets - offsets[0]  # a sliced array's offsets do not start at 0
    first_hs = np.array([hs[o][:2] if o < len(hs) else "" for o in starts[:-1]], dtype=object)
    vague = np.fromiter((is_vague(d) for d in descriptions), dtype=np.float64, count=len(flat))
    foreign = (line_origin != "") & (line_origin != origin[parents])
    lowered = [d.lower() for d in descriptions]
    bounds = zip(starts[:-1], starts[1:], strict=True)
    text = np.array([" | ".join(lowered[a:b]) for a, b in bounds], dtype=object)

    def missing(role: str) -> np.ndarray:
        parts = [_col(table, f"{role}.{p}") for p in ("street", "city", "postcode")]
        return sum(pc.is_null(p).to_numpy(zero_copy_only=False).astype(np.float64) for p in parts)

    def present(path: str) -> np.ndarray:
        return pc.is_valid(_col(table, path)).to_numpy(zero_copy_only=False).astype(np.float64)

    tokens = {
        kind: pseudonymiser.tokens(kind, [_col(table, path) for path in spec])
        for kind, spec in ENTITIES.items()
    }
    item_id = _strings(table.column("item_id"))
    return ParcelFrame(
        item_id=item_id,
        posted_us=table.column("posted_at").cast(pa.int64()).to_numpy(),
        mail_class=np.array([mail_class(i[:2]).value for i in item_id], dtype=object),
        category=_strings(table.column("category")),
        origin=origin,
        destination=_strings(table.column("destination_country")),
        currency=_strings(table.column("currency")),
        gross_weight_kg=_floats(table.column("gross_weight_kg")),
        declared_value=_floats(table.column("declared_value")),
        postal_charges=_floats(table.column("postal_charges")),
        n_lines=np.diff(starts).astype(np.float64),
        line_value=_per_item(_floats(pc.struct_field(flat, "value")), parents, n),
        line_net_weight=_per_item(_floats(pc.struct_field(flat, "net_weight_kg")), parents, n),
        line_quantity=_per_item(_floats(pc.struct_field(flat, "quantity")), parents, n),
        vague_lines=_per_item(vague, parents, n),
        missing_hs_lines=_per_item((hs == "").astype(np.float64), parents, n),
        foreign_origin_lines=_per_item(foreign.astype(np.float64), parents, n),
        hs_chapter=first_hs,
        description=text,
        sender_missing=missing("sender"),
        recipient_missing=missing("recipient"),
        sender_contact=np.maximum(present("sender.phone"), present("sender.email")),
        importer_ref=present("recipient.importer_ref"),
        tokens=tokens,
    )


def frame_from_declarations(
    declarations: list[ParcelDeclaration], pseudonymiser: Pseudonymiser
) -> ParcelFrame:
    """Frame of validated declarations (the HTTP path): through the same Arrow form."""
    return frame_from_table(to_table(declarations, "declaration"), pseudonymiser)
