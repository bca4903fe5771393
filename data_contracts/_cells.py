"""Cells of a CSV file a person opens in a spreadsheet: no cell runs as a formula.

A spreadsheet reads a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a formula (and a
tab or carriage return before one as the same); a value from outside (a source export, a
declaration) written raw could run one on the reader's machine. Every CSV the project writes
for people (the officer's exports, the import's quarantine) passes its cells through
:func:`spreadsheet_cell`.
"""

from __future__ import annotations

from typing import Any

#: The first characters that make a spreadsheet cell a formula (or hide one).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(value: Any) -> Any:
    """``value`` as a CSV cell: text starting like a formula gets an apostrophe before it;
    None is an empty cell; anything else is kept."""
    if isinstance(value, str) and value[:1] in FORMULA_STARTS:
        return "'" + value
    return "" if value is None else value
