"""Early, asynchronous write-back of the stores' files (Linux ``sync_file_range``).

Linux keeps written pages dirty in memory until 10% of memory is dirty or they are 30 s old.
A WAL checkpoint's ``fsync`` then has seconds of writes to flush at once, and the writers
appending to the WAL wait behind it: under full load that was most of the scoring service's
p99 latency. Asking the kernel every few tens of milliseconds to start writing the stores'
dirty pages, without waiting for it (``SYNC_FILE_RANGE_WRITE``), leaves each ``fsync`` little
to do. RocksDB's ``bytes_per_sync`` does the same. No guarantee changes: durability still
comes from SQLite's own syncs; this only starts the disk writes earlier. Where the call does
not exist (not Linux), nothing is done.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable
from pathlib import Path

_SYNC_FILE_RANGE_WRITE = 2  # start write-out of dirty pages not already under write-out


def _load() -> Callable[[int, int, int, int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    function.restype = ctypes.c_int
    return function


_SYNC_FILE_RANGE = _load()
#: Whether :func:`start_writeback` does anything on this system.
AVAILABLE = _SYNC_FILE_RANGE is not None


def start_writeback(path: Path | str) -> bool:
    """Ask the kernel to start writing the file's dirty pages now, without waiting for them.
    False where it cannot (no such call, no such file)."""
    if _SYNC_FILE_RANGE is None:
        return False
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        return _SYNC_FILE_RANGE(fd, 0, 0, _SYNC_FILE_RANGE_WRITE) == 0
    finally:
        os.close(fd)
