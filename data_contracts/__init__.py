"""Data contracts of parcel screening: declarations (CN23/ITMATT) and inspection outcomes.

This package imports nothing else of the project. Every form (JSON, JSON Lines, CSV,
Parquet) carries the same meaning; bad input gets a Problem naming record, field and reason.
"""

from ._arrow import DECLARATION_SCHEMA, LINE_TYPE, OUTCOME_SCHEMA, PARTY_TYPE
from ._codes import COUNTRIES, CURRENCIES
from ._errors import ContractError, FormError, Problem, RecordInvalid
from ._forms import (
    DECLARATION_CSV_COLUMNS,
    OUTCOME_CSV_COLUMNS,
    flatten_declaration,
    form_of,
    group_csv_rows,
    iter_csv,
    iter_records,
    same_item,
    to_table,
    write_records,
)
from ._models import (
    CONTRACT_VERSION,
    ContentLine,
    InspectionOutcome,
    InspectionResult,
    ItemCategory,
    ParcelDeclaration,
    Party,
    SelectionReason,
)
from ._quality import (
    VAGUE_WORDS,
    is_vague,
    lines_value_mismatch,
    lines_weight_excess,
    quality_warnings,
)
from ._s10 import S10, MailClass, S10Error, check_digit, mail_class, make_s10, parse_s10
from ._schema import SCHEMA_DIR, json_schemas, write_json_schemas
from ._table_validate import validate_table, validate_table_indexed
from ._validate import (
    Labelled,
    ValidationReport,
    validate_declarations,
    validate_one,
    validate_outcomes,
    validate_records,
)

__all__ = [
    "CONTRACT_VERSION",
    "COUNTRIES",
    "CURRENCIES",
    "ContentLine",
    "ContractError",
    "DECLARATION_CSV_COLUMNS",
    "DECLARATION_SCHEMA",
    "FormError",
    "InspectionOutcome",
    "InspectionResult",
    "ItemCategory",
    "LINE_TYPE",
    "Labelled",
    "MailClass",
    "OUTCOME_CSV_COLUMNS",
    "OUTCOME_SCHEMA",
    "PARTY_TYPE",
    "ParcelDeclaration",
    "Party",
    "Problem",
    "RecordInvalid",
    "S10",
    "S10Error",
    "SCHEMA_DIR",
    "SelectionReason",
    "VAGUE_WORDS",
    "ValidationReport",
    "check_digit",
    "flatten_declaration",
    "form_of",
    "group_csv_rows",
    "is_vague",
    "iter_csv",
    "iter_records",
    "json_schemas",
    "lines_value_mismatch",
    "lines_weight_excess",
    "mail_class",
    "make_s10",
    "parse_s10",
    "quality_warnings",
    "same_item",
    "to_table",
    "validate_declarations",
    "validate_one",
    "validate_outcomes",
    "validate_records",
    "validate_table",
    "validate_table_indexed",
    "write_json_schemas",
    "write_records",
]
