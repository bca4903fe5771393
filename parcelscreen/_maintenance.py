"""What the commands that work on the record database share.

The maintenance commands (``audit``, ``state``, ``history prune``) need an existing record
database: opening a missing SQLite file would create an empty one, and the command would
report that it found nothing to do. What they delete is recorded in the decision log (a dry
run's count is only printed). Every command opens the database through its driver only
(:class:`serving.Record`); none touches its files.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from serving import Record, Settings


def configured() -> bool:
    """Whether the environment names the record database (else it is the default
    ``runs/serving/state.sqlite``, relative to wherever the command runs)."""
    return any(
        os.environ.get(f"PARCELSCREEN_{name}") for name in ("DATA_DIR", "STATE_DB", "DATABASE_URL")
    )


def open_record(settings: Settings, must_exist: bool = True) -> Record | None:
    """The record database, or None (and a message naming the file and the settings).

    A command that may start a new record database (``must_exist=False``: keys, users,
    history load) does so only where the environment names its place; at the default
    place, relative to the folder the command runs in, a missing file is far more often a
    command run from the wrong folder, and a new empty database there is a record no
    service reads."""
    from serving import LegacyStores, Record, SchemaMismatch, StoreMissing

    if not must_exist and not configured() and not settings.state_path.is_file():
        print(
            f"error: no record database at {settings.state_path} (the default "
            f"PARCELSCREEN_DATA_DIR, in {Path.cwd()}); run the command where the service "
            "runs, or set PARCELSCREEN_DATA_DIR (or PARCELSCREEN_STATE_DB) to the service's "
            "folder; to start a new record database, set it to the new folder",
            file=sys.stderr,
        )
        return None
    try:
        return Record(settings, must_exist=must_exist)
    except (StoreMissing, LegacyStores, SchemaMismatch) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None


def record_and_print(record: Record, kind: str, result: dict[str, Any], dry_run: bool) -> int:
    """Append ``result`` to the decision log as a ``kind`` record (unless a dry run); print it."""
    if not dry_run:
        from serving import Entry

        record.audit.append(Entry(kind, caller="cli", detail=result))
    print(json.dumps(result))
    return 0
