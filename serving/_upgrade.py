"""Merge an older release's separate stores into the record database.

Releases before the one record database kept the decision log in ``audit.sqlite`` and the
entity history in ``history.sqlite``. :func:`merge_legacy` copies their tables into
``state.sqlite`` in one transaction (through SQLite: ``ATTACH``), then renames each merged
file to ``<name>.merged`` so that nothing reads it again and the operator keeps it as a
backup. Run it with the service stopped; the record database must not hold records of the
same kind yet (two decision-log chains cannot be merged into one).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from screening import Database, SQLiteBackend

from ._audit import SCHEMA as AUDIT_SCHEMA
from ._audit import DecisionLog, Entry

#: The tables each older file held, in the order they are copied.
TABLES = {
    "audit.sqlite": ("decision_log", "decision_log_head"),
    "history.sqlite": ("history_entity", "history_partner", "history_item"),
}


class UpgradeError(ValueError):
    """The older files cannot be merged as they are (the message says why)."""


def _columns(db: Database, schema: str, table: str) -> list[str]:
    return [row[1] for row in db.execute(f"PRAGMA {schema}.table_info({table})")]


def merge_legacy(state: Path, files: list[Path]) -> dict[str, Any]:
    """Copy every table of ``files`` into the record database at ``state``; rename them."""
    db = Database(state)
    try:
        for statement in AUDIT_SCHEMA:
            db.execute(statement)
        SQLiteBackend(db)  # the history tables
        copied: dict[str, int] = {}
        for n, path in enumerate(files):
            if path.name not in TABLES:
                raise UpgradeError(
                    f"{path}: not a store of an older release (expected one of {', '.join(TABLES)})"
                )
            db.execute(f"ATTACH DATABASE ? AS old{n}", (str(path),))
        try:
            with db.transaction():  # every file, or none
                for n, path in enumerate(files):
                    for table in TABLES[path.name]:
                        copied[table] = _copy(db, f"old{n}", path, table)
        finally:
            for n in range(len(files)):
                db.execute(f"DETACH DATABASE old{n}")
        renamed = []
        for path in files:  # closed by SQLite (detached) before the rename
            target = path.with_name(path.name + ".merged")
            path.rename(target)
            renamed.append(str(target))
        result = {"merged": [str(p) for p in files], "renamed": renamed, "rows": copied}
        DecisionLog(db).append(Entry("store_upgrade", caller="cli", detail=result))
        return result
    finally:
        db.close()


def _copy(db: Database, old: str, path: Path, table: str) -> int:
    if not db.execute(
        f"SELECT 1 FROM {old}.sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ):
        return 0
    if table == "decision_log_head":
        db.execute("DELETE FROM main.decision_log_head")
    elif db.execute(f"SELECT 1 FROM main.{table} LIMIT 1"):
        raise UpgradeError(
            f"{path}: the record database already holds {table} rows; merge "
            "before the new release records anything"
        )
    columns = [c for c in _columns(db, old, table) if c in _columns(db, "main", table)]
    names = ", ".join(columns)
    db.execute(f"INSERT INTO main.{table} ({names}) SELECT {names} FROM {old}.{table}")
    return int(db.execute(f"SELECT count(*) FROM main.{table}")[0][0])
