"""The stores' SQL, written for SQLite, as PostgreSQL runs it.

The stores speak one dialect: SQLite's, with ``?`` and ``:name`` parameters. Where the
record database is PostgreSQL (``PARCELSCREEN_DATABASE_URL``), :func:`translate` rewrites
each statement once (cached) into PostgreSQL's, so that a store's SQL is written once:

- parameters ``?`` and ``:name`` become psycopg's ``%s`` and ``%(name)s`` (a literal ``%``
  is doubled), outside quoted text only;
- ``INSERT OR IGNORE`` becomes ``INSERT ... ON CONFLICT DO NOTHING``; ``INSERT OR REPLACE``
  an upsert on the table's primary key, setting every other column it names (the table's
  columns come from the catalogue, :class:`Catalogue`);
- ``json_extract(x, '$.k')`` becomes ``(x::jsonb ->> 'k')`` (text; where SQLite's answer
  is read as a truth value, ``json_true``); ``instr`` ``strpos``; ``zeroblob(n)`` ``n``
  zero bytes; ``IN (SELECT value FROM json_each(x))`` an ``IN`` over the JSON array's
  elements;
- ``PRAGMA table_info(t)`` reads the catalogue; ``PRAGMA integrity_check`` and
  ``quick_check`` answer ``ok`` (PostgreSQL checks its pages itself; its backups and
  replication are the operator's), any other ``PRAGMA`` does nothing;
- ``CREATE``, ``ALTER`` and ``DROP`` do nothing: PostgreSQL's schema is made and changed by
  the numbered migrations only (``parcelscreen db upgrade``), never by a starting store.

It is not a general translator: it knows the constructs the stores use, and a test runs
every store against PostgreSQL (``tests/serving/test_postgres_record.py``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

#: What a statement became: SQL to run, or a reply computed without running anything.
SKIP = ""

_QUOTED = re.compile(r"('(?:[^']|'')*'|\"[^\"]*\")")
_NAMED = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
_JSON_TRUE = re.compile(
    r"json_extract\(([\w.]+), '\$\.(\w+)'\)\s+(?=AND|THEN|OR\b|\))", re.IGNORECASE
)
_JSON = re.compile(r"json_extract\(([\w.]+), '\$\.(\w+)'\)", re.IGNORECASE)
_JSON_EACH_ROWID = re.compile(r"rowid IN \(SELECT value FROM json_each\(([^)]+)\)\)", re.I)
_JSON_EACH = re.compile(r"IN \(SELECT value FROM json_each\(([^)]+)\)\)", re.IGNORECASE)
#: JSON members read as numbers.
_NUMBERS = {"probability", "score"}
_COALESCE_TRUE = re.compile(r"coalesce\(([^,()]+ = [^,()]+), 1\)", re.IGNORECASE)
_TABLE_INFO = re.compile(r"\s*PRAGMA\s+table_info\((\w+)\)\s*", re.IGNORECASE)
_CHECK = re.compile(r"\s*PRAGMA\s+(integrity_check|quick_check)\s*", re.IGNORECASE)
_DDL = re.compile(r"\s*(CREATE|ALTER|DROP)\b", re.IGNORECASE)
_UPSERT = re.compile(
    r"\s*INSERT\s+OR\s+(IGNORE|REPLACE)\s+INTO\s+(\w+)\s*(\(([^)]*)\))?", re.IGNORECASE
)
_RETURNING = re.compile(r"\sRETURNING\s", re.IGNORECASE)


@dataclass(frozen=True)
class Table:
    """A table as the catalogue describes it."""

    columns: tuple[str, ...]
    key: tuple[str, ...]


#: The tables of the record's schema by name (read from PostgreSQL's catalogue).
Catalogue = Callable[[str], Table]


def _outside_quotes(sql: str, change: Callable[[str], str]) -> str:
    parts = _QUOTED.split(sql)
    return "".join(p if i % 2 else change(p) for i, p in enumerate(parts))


def _parameters(text: str) -> str:
    text = text.replace("%", "%%").replace("?", "%s")
    return _NAMED.sub(r"%(\1)s", text)


def _functions(text: str) -> str:
    text = re.sub(r"\binstr\(", "strpos(", text, flags=re.IGNORECASE)
    return re.sub(
        r"\bzeroblob\(([^)]*)\)", r"decode(repeat('00', \1), 'hex')", text, flags=re.IGNORECASE
    )


def _json(sql: str) -> str:
    # before the parameters: the paths are quoted text, and the rewrite adds none
    sql = _JSON_TRUE.sub(r"coalesce((\1::jsonb ->> '\2') IN ('true', '1'), false) ", sql)
    sql = _JSON.sub(
        lambda m: (
            f"(({m[1]}::jsonb ->> '{m[2]}')::double precision)"
            if m[2] in _NUMBERS
            else f"({m[1]}::jsonb ->> '{m[2]}')"
        ),
        sql,
    )
    sql = _COALESCE_TRUE.sub(r"coalesce(\1, true)", sql)
    sql = _JSON_EACH_ROWID.sub(
        r"rowid IN (SELECT value::bigint FROM json_array_elements_text(\1::json) AS j(value))", sql
    )
    return _JSON_EACH.sub(
        r"IN (SELECT value FROM json_array_elements_text(\1::json) AS j(value))", sql
    )


def _upsert(sql: str, catalogue: Catalogue) -> str:
    match = _UPSERT.match(sql)
    if match is None:
        return sql
    how, table, _, named = match.groups()
    info = catalogue(table)
    columns = (
        [c.strip() for c in named.split(",")]
        if named
        else [c for c in info.columns if c != "rowid"]
    )
    head = f"INSERT INTO {table} ({', '.join(columns)})"
    rest = sql[match.end() :]
    if how.upper() == "IGNORE":
        action = " ON CONFLICT DO NOTHING"
    else:
        others = [c for c in columns if c not in info.key]
        sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in others)
        action = f" ON CONFLICT ({', '.join(info.key)}) " + (
            f"DO UPDATE SET {sets}" if sets else "DO NOTHING"
        )
    returning = _RETURNING.search(rest)
    if returning is None:
        return head + " " + rest.strip() + action
    return head + " " + rest[: returning.start()].strip() + action + rest[returning.start() :]


def translate(sql: str, catalogue: Catalogue) -> str:
    """The statement in PostgreSQL's dialect, or :data:`SKIP` (schema statements), or a
    query of the catalogue (``PRAGMA table_info``)."""
    if _DDL.match(sql):
        return SKIP
    info = _TABLE_INFO.fullmatch(sql)
    if info is not None:
        return (
            "SELECT ordinal_position - 1, column_name FROM information_schema.columns "
            f"WHERE table_schema = current_schema() AND table_name = '{info.group(1)}' "
            "ORDER BY ordinal_position"
        )
    if _CHECK.fullmatch(sql):
        return "SELECT 'ok'"
    if sql.lstrip().upper().startswith("PRAGMA"):
        return SKIP
    sql = _upsert(_json(sql), catalogue)
    return _outside_quotes(sql, lambda part: _functions(_parameters(part)))
