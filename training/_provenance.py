"""What a data folder says of its origin (``provenance.json``, written by ``import``): the
source and its attribution, what the label means, what is unknown about the selection. Data
the simulator wrote has no such file: then nothing is claimed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ._errors import DataError

PROVENANCE = "provenance.json"
_KEYS = ("source", "attribution", "label", "label_column", "selection")


def read_provenance(data_dir: Path) -> dict[str, Any]:
    """The provenance entries a model card names ({} where the folder has none)."""
    path = data_dir / PROVENANCE
    if not path.is_file():
        return {}
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not a JSON object: {exc}") from None
    if not isinstance(raw, dict):
        raise DataError(f"{path}: not a JSON object")
    return {f"data_{k}": str(raw[k]) for k in _KEYS if raw.get(k) is not None}
