"""Published JSON Schema files of the contracts, generated from the models.

The files of the current version are generated; those of earlier versions stay as they were
published (``FROZEN``), for whoever validates an old file against its own version's schema.
The current schema reads every version the models read (``contract_version`` names which).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from ._models import CONTRACT_VERSION, InspectionOutcome, ParcelDeclaration

SCHEMA_DIR = Path(__file__).parent / "schemas"
#: Published files of earlier versions, kept unchanged (never regenerated).
FROZEN = ("parcel-declaration.v1.schema.json", "inspection-outcome.v1.schema.json")
_MODELS: dict[str, type[BaseModel]] = {
    "parcel-declaration": ParcelDeclaration,
    "inspection-outcome": InspectionOutcome,
}


def json_schemas() -> dict[str, dict[str, Any]]:
    """File name -> JSON Schema (2020-12) of each contract at the current version."""
    out = {}
    for name, model in _MODELS.items():
        schema = model.model_json_schema(mode="validation")
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["$id"] = f"urn:parcelscreen:contract:{name}:v{CONTRACT_VERSION}"
        out[f"{name}.v{CONTRACT_VERSION}.schema.json"] = schema
    return out


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def write_json_schemas(directory: Path = SCHEMA_DIR) -> list[Path]:
    """Write the schema files (the published ones live in ``data_contracts/schemas``)."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in json_schemas().items():
        path = directory / name
        path.write_text(render(schema), encoding="utf-8")
        written.append(path)
    return written
