"""What the commands that work on the record database share.

The maintenance commands (``audit``, ``state``, ``history prune``) need an existing record
database: opening a missing SQLite file would create an empty one, and the command would
report that it found nothing to do. What they delete is recorded in the decision log (a dry
run's count is only printed). Every command opens the database through its driver only
(:class:`serving.Record`); none touches its files.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from serving import Record, Settings


def open_record(settings: Settings, must_exist: bool = True) -> Record | None:
    """The record database, or None (and a message naming the file and the settings)."""
    from serving import LegacyStores, Record, StoreMissing

    try:
        return Record(settings, must_exist=must_exist)
    except (StoreMissing, LegacyStores) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None


def record_and_print(record: Record, kind: str, result: dict[str, Any], dry_run: bool) -> int:
    """Append ``result`` to the decision log as a ``kind`` record (unless a dry run); print it."""
    if not dry_run:
        from serving import Entry

        record.audit.append(Entry(kind, caller="cli", detail=result))
    print(json.dumps(result))
    return 0
