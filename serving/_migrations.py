"""Versioned schema migrations of the record in PostgreSQL (``parcelscreen db upgrade``).

The schema is made and changed only by the numbered SQL files of ``serving/migrations``
(``0001_record.sql``, ``0002_....sql``, ...), each applied once, in order, in one transaction
with its row in ``schema_version`` (version, file name, time), under the record's writer lock,
so that two replicas upgrading at once apply each file once. A replica (and every command)
opens the record only at the version it knows: behind it, it names the command that upgrades;
ahead of it (a newer release upgraded the database), it refuses, so that an older release
never writes to a schema it does not know. A store that needs a new table or column in
PostgreSQL brings a new file: files are never edited once released.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from importlib import resources
from typing import Any

from screening import PostgresDatabase

_FILE = re.compile(r"(\d{4})_[a-z0-9_]+\.sql")
_VERSION_TABLE = """CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"""


class SchemaMismatch(ValueError):
    """The record's schema is not the version this release knows."""


def migrations() -> list[tuple[int, str, str]]:
    """(version, file name, SQL) of every migration, in order."""
    found = []
    for entry in resources.files("serving").joinpath("migrations").iterdir():
        match = _FILE.fullmatch(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    versions = [v for v, _, _ in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"serving/migrations is not numbered 1..n: {versions}")
    return found


def known_version() -> int:
    """The schema version this release writes."""
    return len(migrations())


def current_version(db: PostgresDatabase) -> int:
    """The version of the record's schema (0: none yet)."""
    exists = db.execute("SELECT to_regclass('schema_version') IS NOT NULL")[0][0]
    if not exists:
        return 0
    (version,) = db.execute("SELECT coalesce(max(version), 0) FROM schema_version")[0]
    return int(version)


def upgrade_schema(db: PostgresDatabase) -> dict[str, Any]:
    """Apply every migration the schema lacks; what was applied."""
    applied = []
    with db.transaction():  # the writer lock: one upgrader at a time
        db.run_script(_VERSION_TABLE)
        before = current_version(db)
        if before > known_version():  # a newer release's schema: nothing here may touch it
            check_version(db)
        for version, name, sql in migrations():
            if version <= before:
                continue
            db.run_script(sql)
            db.execute(
                "INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)",
                (version, name, datetime.now(UTC).isoformat()),
            )
            applied.append(name)
    return {
        "database": db.name,
        "from_version": before,
        "to_version": known_version(),
        "applied": applied,
    }


def check_version(db: PostgresDatabase) -> None:
    """Refuse a schema this release does not know (:class:`SchemaMismatch`, naming both)."""
    have, know = current_version(db), known_version()
    if have == know:
        return
    if have > know:
        raise SchemaMismatch(
            f"the record ({db.name}) is at schema version {have}, newer than this release "
            f"knows ({know}): a newer release upgraded it; run that release (an older one "
            "would write to a schema it does not know)"
        )
    raise SchemaMismatch(
        f"the record ({db.name}) is at schema version {have}, this release needs {know}: "
        "run `parcelscreen db upgrade` (with PARCELSCREEN_DATABASE_URL set) first"
    )
