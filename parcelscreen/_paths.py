"""Stores a maintenance command works on must exist: opening a missing SQLite file would
create an empty one, and the command would report that it found nothing to do."""

from __future__ import annotations

import sys
from pathlib import Path


def missing_store(path: Path, what: str) -> bool:
    """True (and a message naming the file and the settings) when ``path`` does not exist."""
    if path.is_file():
        return False
    print(f"error: no {what} at {path} (set PARCELSCREEN_DATA_DIR, or the store's own "
          "setting, to the service's)", file=sys.stderr)  # fmt: skip
    return True
