"""Arrow schemas of the contracts: the Parquet form (lines nested) and batch processing.

The declaration schema is version 2's: version 1 files lack the ``express`` column and the
parties' ``id_number``; :func:`conform_declarations` adds them, empty, so that every reader
sees one schema.
"""

from __future__ import annotations

import pyarrow as pa

_TS = pa.timestamp("us", tz="UTC")

PARTY_TYPE = pa.struct(
    [
        ("name", pa.string()),
        ("street", pa.string()),
        ("city", pa.string()),
        ("postcode", pa.string()),
        ("country", pa.string()),
        ("phone", pa.string()),
        ("email", pa.string()),
        ("importer_ref", pa.string()),
        ("id_number", pa.string()),  # version 2
    ]
)
EXPRESS_TYPE = pa.struct(
    [
        ("carrier", pa.string()),
        ("house_consignment", pa.string()),
        ("transport_document", pa.string()),
    ]
)
LINE_TYPE = pa.struct(
    [
        ("description", pa.string()),
        ("quantity", pa.int32()),
        ("net_weight_kg", pa.float64()),
        ("value", pa.float64()),
        ("hs_code", pa.string()),
        ("origin_country", pa.string()),
    ]
)
DECLARATION_SCHEMA = pa.schema(
    [
        ("contract_version", pa.string()),
        ("item_id", pa.string()),
        ("posted_at", _TS),
        ("origin_post", pa.string()),
        ("origin_country", pa.string()),
        ("destination_country", pa.string()),
        ("sender", PARTY_TYPE),
        ("recipient", PARTY_TYPE),
        ("category", pa.string()),
        ("gross_weight_kg", pa.float64()),
        ("declared_value", pa.float64()),
        ("currency", pa.string()),
        ("postal_charges", pa.float64()),
        ("lines", pa.list_(LINE_TYPE)),
        ("express", EXPRESS_TYPE),  # version 2
    ]
)
#: Columns (and party fields) version 2 added: a file may lack them.
V2_COLUMNS = ("express",)
V2_PARTY_FIELDS = ("id_number",)

OUTCOME_SCHEMA = pa.schema(
    [
        ("contract_version", pa.string()),
        ("item_id", pa.string()),
        ("recorded_at", _TS),
        ("inspected", pa.bool_()),
        ("selection_reason", pa.string()),
        ("selection_probability", pa.float64()),
        ("result", pa.string()),
        ("substance", pa.string()),
        ("quantity_g", pa.float64()),
        ("officer_ref", pa.string()),
    ]
)


def _party_conformed(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """A party column with every field of PARTY_TYPE (those it lacks empty), in its order."""
    chunks = []
    for chunk in column.chunks:
        if chunk.offset:
            chunk = chunk.take(pa.array(range(len(chunk)), pa.int64()))  # a slice, made whole
        kind = chunk.type
        children = [
            chunk.field(f.name)
            if kind.get_field_index(f.name) >= 0
            else pa.nulls(len(chunk), f.type)
            for f in PARTY_TYPE
        ]
        chunks.append(
            pa.StructArray.from_arrays(children, names=PARTY_TYPE.names, mask=chunk.is_null())
        )
    if not chunks:
        return pa.chunked_array([], PARTY_TYPE)
    return pa.chunked_array(chunks)


def conform_declarations(table: pa.Table) -> pa.Table:
    """A declaration table with version 2's columns and party fields, those it lacks (a
    version 1 file's) empty; other columns as they are (a table that has them all is
    returned unchanged)."""
    for name in V2_COLUMNS:
        if name not in table.column_names:
            field = DECLARATION_SCHEMA.field(name)
            table = table.append_column(field, pa.nulls(table.num_rows, field.type))
    for role in ("sender", "recipient"):
        if role not in table.column_names:
            continue
        kind = table.schema.field(role).type
        if pa.types.is_struct(kind) and any(kind.get_field_index(n) < 0 for n in V2_PARTY_FIELDS):
            index = table.column_names.index(role)
            table = table.set_column(index, role, _party_conformed(table.column(role)))
    return table


#: The declaration schema of version 1 files (no ``express``, parties without ``id_number``).
V1_DECLARATION_SCHEMA = pa.schema(
    [
        pa.field(f.name, pa.struct([p for p in PARTY_TYPE if p.name not in V2_PARTY_FIELDS]))
        if f.name in ("sender", "recipient")
        else f
        for f in DECLARATION_SCHEMA
        if f.name not in V2_COLUMNS
    ]
)


def declaration_column_problems(schema: pa.Schema) -> list[str]:
    """What keeps a table of ``schema`` from being read as declarations: a contract column
    missing or of another type (a version 1 file's columns and types are accepted)."""
    problems = []
    for field in DECLARATION_SCHEMA:
        if field.name not in schema.names:
            if field.name not in V2_COLUMNS:
                problems.append(f"column {field.name} missing")
            continue
        kind = schema.field(field.name).type
        older = (
            V1_DECLARATION_SCHEMA.field(field.name).type
            if field.name not in V2_COLUMNS
            else field.type
        )
        if not kind.equals(field.type) and not kind.equals(older):
            problems.append(f"column {field.name} is {kind}, expected {field.type}")
    return problems
