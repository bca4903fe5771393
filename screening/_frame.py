"""The parcel frame: declarations as flat numpy columns, the one input of feature code.

Every scoring path (training, batch, HTTP, officer view) builds a frame from an Arrow table in
the contract's nested form (one request is a one-row table), so the features are computed by
one implementation everywhere. Names, addresses and identification numbers are replaced
here by keyed tokens: no clear-text personal data leaves this module.

A party that gives an identification number (contract version 2: an EORI or national trader
ID) is keyed on it in the entity history, whatever name it gives; one without is keyed on its
name as before (``IDENTIFIED``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from operator import attrgetter

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from data_contracts import (
    DECLARATION_SCHEMA,
    ContentLine,
    ParcelDeclaration,
    Party,
    conform_declarations,
    is_vague,
    item_class,
)

from ._pseudonymise import Pseudonymiser, id_number_key

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
#: Entity kinds keyed on the party's identification number where it has one (instead of the
#: parts above), and the field that holds it. Its token is of kind ``KIND#id``: a number
#: never collides with a name.
IDENTIFIED: dict[str, str] = {"sender": "sender.id_number", "recipient": "recipient.id_number"}


ADDRESS_PARTS = ("street", "city", "postcode")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NOT_KEY = "[^A-Za-z0-9]+"  # what id_number_key drops (the contract's IDs are ASCII)


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


def _distinct(array: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, list[str]]:
    """Per-value index into the distinct values (null as ""), and those values."""
    encoded = pc.dictionary_encode(pc.fill_null(array, ""))
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    codes = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    return codes, encoded.dictionary.to_pylist()


def _empty(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """1.0 where a string is missing or empty, else 0.0."""
    flags = pc.equal(pc.fill_null(array, ""), "")
    return np.asarray(flags.to_numpy(zero_copy_only=False), dtype=np.float64)


def frame_from_table(table: pa.Table, pseudonymiser: Pseudonymiser) -> ParcelFrame:
    """Build the frame of a table in the contract's nested form (validated beforehand).

    Work on text is done once per distinct value (descriptions, HS codes and identity parts
    repeat a great deal within a manifest) and then spread back to the rows.
    """
    table = conform_declarations(table).select(DECLARATION_SCHEMA.names).combine_chunks()
    n = table.num_rows
    lines_type = DECLARATION_SCHEMA.field("lines").type
    lines = table.column("lines").chunk(0) if n else pa.array([], lines_type)
    parents = pc.list_parent_indices(lines).to_numpy()
    flat = pc.list_flatten(lines)
    n_flat = len(flat)
    offsets = lines.offsets.to_numpy()
    starts = offsets - offsets[0]  # a sliced array's offsets do not start at 0

    # descriptions: vague or not, and the parcel's text (lower case, joined by " | ")
    desc_codes, desc_values = _distinct(pc.struct_field(flat, "description"))
    vague_of = np.array([is_vague(d) for d in desc_values], dtype=np.float64)
    vague = vague_of[desc_codes] if n_flat else np.zeros(0)
    lowered = pa.array([d.lower() for d in desc_values], pa.string())
    per_parcel = pa.ListArray.from_arrays(
        pa.array(starts.astype(np.int32), pa.int32()), lowered.take(pa.array(desc_codes))
    )
    text = np.asarray(
        pc.binary_join(per_parcel, " | ").to_numpy(zero_copy_only=False), dtype=object
    )

    # HS codes: missing or not, the first line's chapter
    hs_codes, hs_values = _distinct(pc.struct_field(flat, "hs_code"))
    chapter_of = np.array([h[:2] for h in hs_values] + [""], dtype=object)
    first = starts[:-1]
    has_first = first < n_flat
    first_code = np.full(n, -1, dtype=np.int64)  # -1: the "" at the end of chapter_of
    first_code[has_first] = hs_codes[first[has_first]]
    first_hs = chapter_of[first_code]
    missing_hs = (
        np.array([not h for h in hs_values], dtype=np.float64)[hs_codes] if n_flat else np.zeros(0)
    )

    origin_arrow = pc.fill_null(table.column("origin_country"), "")
    line_origin = pc.fill_null(pc.struct_field(flat, "origin_country"), "")
    parcel_origin = origin_arrow.take(pa.array(parents)) if n_flat else line_origin
    foreign = pc.and_(pc.not_equal(line_origin, ""), pc.not_equal(line_origin, parcel_origin))
    foreign_flags = np.asarray(foreign.to_numpy(zero_copy_only=False), dtype=np.float64)

    def missing(role: str) -> np.ndarray:  # a party known by its number needs no address
        total = np.zeros(n, dtype=np.float64)
        for part in ADDRESS_PARTS:
            total += _empty(_col(table, f"{role}.{part}"))
        return np.asarray(total * _empty(_col(table, f"{role}.id_number")), dtype=np.float64)

    def present(path: str) -> np.ndarray:
        return 1.0 - _empty(_col(table, path))

    tokens = {
        kind: pseudonymiser.tokens_of_columns(kind, [_col(table, p) for p in parts])
        for kind, parts in ENTITIES.items()
    }
    for kind, path in IDENTIFIED.items():
        numbers = _col(table, path)
        if numbers.null_count < n:
            keys = pc.replace_substring_regex(numbers, _NOT_KEY, "")
            by_number = pseudonymiser.tokens_of_columns(f"{kind}#id", [keys])
            tokens[kind] = np.where(by_number != "", by_number, tokens[kind])
    item_id = _strings(table.column("item_id"))
    classes: dict[str, str] = {}
    for i in item_id:
        prefix = i if ":" in i else i[:2]  # an express ID is its own class
        if prefix not in classes:
            classes[prefix] = item_class(prefix)
    return ParcelFrame(
        item_id=item_id,
        posted_us=table.column("posted_at").cast(pa.int64()).to_numpy(),
        mail_class=np.array([classes[i if ":" in i else i[:2]] for i in item_id], dtype=object),
        category=_strings(table.column("category")),
        origin=_strings(origin_arrow),
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
        missing_hs_lines=_per_item(missing_hs, parents, n),
        foreign_origin_lines=_per_item(foreign_flags, parents, n),
        hs_chapter=first_hs,
        description=text,
        sender_missing=missing("sender"),
        recipient_missing=missing("recipient"),
        sender_contact=np.maximum(present("sender.phone"), present("sender.email")),
        importer_ref=present("recipient.importer_ref"),
        tokens=tokens,
    )


def _getter(spec: tuple[str, ...]) -> Callable[[ParcelDeclaration], tuple[object, ...]]:
    get = attrgetter(*spec)  # one C-level getter; of one name it gives the value, not a tuple
    return get if len(spec) > 1 else lambda decl: (get(decl),)


#: Each entity's parts of a declaration.
_PARTS = {kind: _getter(spec) for kind, spec in ENTITIES.items()}


def _parts(decl: ParcelDeclaration, kind: str) -> tuple[str, ...]:
    """An entity's parts of one declaration, a missing one as ""."""
    return tuple(str(value or "") for value in _PARTS[kind](decl))


def _row_tokens(
    rows: Sequence[ParcelDeclaration], kind: str, pseudonymiser: Pseudonymiser
) -> np.ndarray:
    """An entity's token of each declaration: by identification number where the kind is
    keyed on one and the party gives it, else by its parts."""
    tokens = pseudonymiser.tokens(kind, (_parts(d, kind) for d in rows))
    if kind in IDENTIFIED:
        role = IDENTIFIED[kind].split(".", 1)[0]
        for i, decl in enumerate(rows):
            number = getattr(decl, role).id_number
            if number:
                token = pseudonymiser.token(f"{kind}#id", [id_number_key(number)])
                tokens[i] = token or tokens[i]
    return tokens


def _missing(party: Party) -> float:
    """Address parts a party lacks (none for a party known by its identification number:
    its address is on record with customs, as the quality warnings hold too)."""
    return 0.0 if party.id_number else float(sum(not getattr(party, p) for p in ADDRESS_PARTS))


def _epoch_us(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


def frame_from_declarations(
    declarations: Sequence[ParcelDeclaration], pseudonymiser: Pseudonymiser
) -> ParcelFrame:
    """Frame of validated declarations, built row by row (the low-latency HTTP path).

    Gives exactly what :func:`frame_from_table` gives for the same declarations (a parity
    test holds them together); the features themselves have one implementation.
    """
    rows = list(declarations)

    def column(values: Iterable[object], dtype: type = object) -> np.ndarray:
        return np.array(list(values), dtype=dtype)

    def floats(values: Iterable[float | None]) -> np.ndarray:
        return np.array([np.nan if v is None else v for v in values], dtype=np.float64)

    def count(decl: ParcelDeclaration, test: Callable[[ContentLine], bool]) -> float:
        return float(sum(1 for line in decl.lines if test(line)))

    def total(values: Iterable[float]) -> float:
        out = 0.0
        for v in values:
            out += v
        return out

    return ParcelFrame(
        item_id=column(d.item_id for d in rows),
        posted_us=column((_epoch_us(d.posted_at) for d in rows), np.int64),
        mail_class=column(item_class(d.item_id) for d in rows),
        category=column(d.category.value for d in rows),
        origin=column(d.origin_country for d in rows),
        destination=column(d.destination_country for d in rows),
        currency=column(d.currency for d in rows),
        gross_weight_kg=floats(d.gross_weight_kg for d in rows),
        declared_value=floats(d.declared_value for d in rows),
        postal_charges=floats(d.postal_charges for d in rows),
        n_lines=floats(float(len(d.lines)) for d in rows),
        line_value=floats(total(line.value for line in d.lines) for d in rows),
        line_net_weight=floats(total(line.net_weight_kg for line in d.lines) for d in rows),
        line_quantity=floats(total(float(line.quantity) for line in d.lines) for d in rows),
        vague_lines=floats(count(d, lambda line: is_vague(line.description)) for d in rows),
        missing_hs_lines=floats(count(d, lambda line: not line.hs_code) for d in rows),
        foreign_origin_lines=floats(
            count(
                d,
                lambda line, d=d: (
                    bool(line.origin_country)  # type: ignore[misc]
                    and line.origin_country != d.origin_country
                ),
            )
            for d in rows
        ),
        hs_chapter=column((d.lines[0].hs_code or "")[:2] for d in rows),
        description=column(" | ".join(line.description.lower() for line in d.lines) for d in rows),
        sender_missing=floats(_missing(d.sender) for d in rows),
        recipient_missing=floats(_missing(d.recipient) for d in rows),
        sender_contact=floats(float(bool(d.sender.phone or d.sender.email)) for d in rows),
        importer_ref=floats(float(bool(d.recipient.importer_ref)) for d in rows),
        tokens={kind: _row_tokens(rows, kind, pseudonymiser) for kind in ENTITIES},
    )
