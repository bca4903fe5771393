"""Arrow schemas of the contracts: the Parquet form (lines nested) and batch processing."""

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
    ]
)
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
