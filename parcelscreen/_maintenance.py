"""What the maintenance commands (``audit``, ``state`` and ``history prune``) share.

The stores they work on must exist: opening a missing SQLite file would create an empty one,
and the command would report that it found nothing to do. What they delete is recorded in the
decision log (a dry run's count is only printed).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def missing_store(path: Path, what: str) -> bool:
    """True (and a message naming the file and the settings) when ``path`` does not exist."""
    if path.is_file():
        return False
    print(f"error: no {what} at {path} (set PARCELSCREEN_DATA_DIR, or the store's own "
          "setting, to the service's)", file=sys.stderr)  # fmt: skip
    return True


def record_and_print(audit_path: Path, kind: str, result: dict[str, Any], dry_run: bool) -> int:
    """Append ``result`` to the decision log as a ``kind`` record (unless a dry run); print it."""
    if not dry_run:
        from serving import DecisionLog, Entry

        log = DecisionLog(audit_path)
        try:
            log.append(Entry(kind, caller="cli", detail=result))
        finally:
            log.close()
    print(json.dumps(result))
    return 0
