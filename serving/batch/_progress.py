"""Progress of a run: a tqdm bar on a terminal, a log line every few seconds otherwise."""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

log = logging.getLogger("serving.batch")


class Progress:
    """Counts records; draws a bar when stderr is a terminal, else logs periodically."""

    def __init__(self, total: int | None, bar: bool | None = None, every_s: float = 10.0) -> None:
        self.bar: Any = None
        self.total = total
        self.done = 0
        self.every_s = every_s
        self.started = self._last = time.monotonic()
        if bar if bar is not None else sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="rows", unit_scale=True, desc="screening")

    def update(self, rows: int) -> None:
        self.done += rows
        if self.bar is not None:
            self.bar.update(rows)
            return
        now = time.monotonic()
        if now - self._last >= self.every_s:
            self._last = now
            rate = self.done / max(now - self.started, 1e-9)
            of = f" of {self.total}" if self.total else ""
            log.info("screened %d%s rows (%.0f rows/s)", self.done, of, rate)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
