"""Importing a foreign export (CSV, JSON Lines, Parquet) into contract files by a mapping.

A TOML mapping file names, for each contract field, the source column or a constant, code
translations, units, currencies, time formats and zones, and which column is the label. Rows
that do not map are quarantined with the column and the reason, never dropped in silence.
"""

from ._convert import RowProblem
from ._mapping import FieldSpec, LabelSpec, Mapping, MappingError, contract_targets, load_mapping
from ._run import PROVENANCE, QUARANTINE_COLUMNS, ImportReport, import_source, read_rows

__all__ = [
    "PROVENANCE",
    "QUARANTINE_COLUMNS",
    "FieldSpec",
    "ImportReport",
    "LabelSpec",
    "Mapping",
    "MappingError",
    "RowProblem",
    "contract_targets",
    "import_source",
    "load_mapping",
    "read_rows",
]
