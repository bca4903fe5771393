"""The key custodian (a national contact point): evaluates blinded elements under its epoch
keys, never sees an input, rate-limits and logs every request.

A custodian's folder holds ``keys.json`` (mode 0600: per epoch its name, the last day its
tokens are valid, its share index and key share, or none once destroyed) and
``requesters.json`` (mode 0600: the requesters this custodian knows and each one's daily quota,
written by ``exchange custody init --requesters`` or :meth:`Custodian.allow`, never by a
requester) and ``requests.sqlite`` (one row per request: time, requester, epoch, how many
elements, whether it was refused). A requester the custodian does not know is refused; a known
one may have its quota of elements evaluated per UTC day; a request beyond it is refused whole.
Every request, refused or not, is logged. Destroying an epoch's key overwrites it in the file:
nobody can compute that epoch's tokens again, so tokens already handed out match nothing new.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from .._errors import ScreeningError
from . import _oprf

DEFAULT_QUOTA = 200_000


class QuotaExceeded(ScreeningError):
    """A requester asked for more evaluations than its daily quota allows."""


@dataclass
class Epoch:
    name: str
    not_after: str  # ISO date: the last day its tokens are valid
    index: int  # this custodian's share index (1..n)
    share: str | None  # hex scalar; None once destroyed


class Custodian:
    """One custodian's keys (one share per epoch) and request log, in a folder of its own."""

    def __init__(
        self, folder: Path, on_request: Callable[[dict[str, Any]], None] | None = None
    ) -> None:
        self.folder = Path(folder)
        keys = self.folder / "keys.json"
        if not keys.is_file():
            raise ScreeningError(f"{self.folder}: no custodian here (keys.json is missing)")
        self.on_request = on_request
        self._log = sqlite3.connect(  # a service asks from its worker threads, one at a time
            self.folder / "requests.sqlite", isolation_level=None, check_same_thread=False
        )
        self._log.execute(
            "CREATE TABLE IF NOT EXISTS requests (time TEXT, day TEXT, requester TEXT, "
            "epoch TEXT, elements INTEGER, refused TEXT)"
        )

    # -- keys -------------------------------------------------------------------------------
    @property
    def epochs(self) -> dict[str, Epoch]:
        data = json.loads((self.folder / "keys.json").read_text())
        return {e["name"]: Epoch(**e) for e in data["epochs"]}

    def _write(self, epochs: dict[str, Epoch]) -> None:
        _write_private(self.folder / "keys.json", {"epochs": [asdict(e) for e in epochs.values()]})

    # -- requesters (the custodian's own list; a requester's settings play no part) ----------
    @property
    def requesters(self) -> dict[str, int]:
        """Known requester -> its daily quota of evaluated elements."""
        path = self.folder / "requesters.json"
        if not path.is_file():
            return {}
        return {str(k): int(v) for k, v in json.loads(path.read_text())["requesters"].items()}

    def allow(self, requester: str, quota: int = DEFAULT_QUOTA) -> None:
        """Know ``requester`` from now on, with ``quota`` elements a day (0: refused)."""
        if not requester or quota < 0:
            raise ScreeningError(
                f"{self.folder}: requester {requester!r}, quota {quota}: "
                "expected a code and a quota of at least 0"
            )
        _write_private(
            self.folder / "requesters.json", {"requesters": {**self.requesters, requester: quota}}
        )

    def add_epoch(self, epoch: Epoch) -> None:
        epochs = self.epochs
        if epoch.name in epochs:
            raise ScreeningError(f"{self.folder}: epoch {epoch.name} exists already")
        epochs[epoch.name] = epoch
        self._write(epochs)

    def destroy(self, name: str) -> None:
        epochs = self.epochs
        if name not in epochs:
            raise ScreeningError(f"{self.folder}: no epoch {name}")
        epochs[name].share = None
        self._write(epochs)

    def expire(self, today: date) -> list[str]:
        """Destroy the key of every epoch whose last valid day is before ``today``."""
        gone = [
            e.name
            for e in self.epochs.values()
            if e.share is not None and date.fromisoformat(e.not_after) < today
        ]
        for name in gone:
            self.destroy(name)
        return gone

    def live(self, today: date) -> list[str]:
        return sorted(
            e.name
            for e in self.epochs.values()
            if e.share is not None and date.fromisoformat(e.not_after) >= today
        )

    # -- requests ---------------------------------------------------------------------------
    def used_today(self, requester: str, day: str) -> int:
        ((n,),) = self._log.execute(
            "SELECT COALESCE(SUM(elements), 0) FROM requests WHERE requester = ? AND day = ? "
            "AND refused IS NULL",
            (requester, day),
        ).fetchall()
        return int(n)

    def requests(self) -> list[dict[str, Any]]:
        cur = self._log.execute("SELECT time, requester, epoch, elements, refused FROM requests")
        return [
            dict(zip(("time", "requester", "epoch", "elements", "refused"), row, strict=True))
            for row in cur
        ]

    def evaluate(
        self, requester: str, epoch: str, blinded: Sequence[bytes], now: datetime | None = None
    ) -> tuple[int, list[bytes]]:
        """(share index, ``k_i * B`` for each blinded element); refused whole beyond quota."""
        now = now or datetime.now(UTC)
        day = now.date().isoformat()
        found = self.epochs.get(epoch)
        refused = None
        quota = self.requesters.get(requester)
        if not requester:
            refused = "no requester named"
        elif quota is None:
            refused = f"{requester} is not a requester this custodian knows"
        elif found is None or found.share is None:
            refused = f"epoch {epoch} has no key here (never made, or destroyed)"
        elif date.fromisoformat(found.not_after) < now.date():
            refused = f"epoch {epoch} expired on {found.not_after}"
        elif self.used_today(requester, day) + len(blinded) > quota:
            refused = (
                f"quota: {requester} may have {quota} elements evaluated per day; "
                f"{self.used_today(requester, day)} used, {len(blinded)} asked"
            )
        row = {
            "time": now.isoformat(),
            "requester": requester,
            "epoch": epoch,
            "elements": len(blinded),
            "refused": refused,
        }
        self._log.execute(
            "INSERT INTO requests VALUES (?, ?, ?, ?, ?, ?)",
            (row["time"], day, requester, epoch, len(blinded), refused),
        )
        if self.on_request is not None:
            self.on_request({**row, "custodian": self.folder.name})
        if refused is not None:
            error = QuotaExceeded if refused.startswith("quota") else ScreeningError
            raise error(f"custodian {self.folder.name} refused {requester}'s request: {refused}")
        assert found is not None and found.share is not None
        key = bytes.fromhex(found.share)
        return found.index, [_oprf.evaluate(key, b) for b in blinded]

    def close(self) -> None:
        self._log.close()


def _write_private(path: Path, data: dict[str, Any]) -> None:
    """``data`` as JSON, mode 0600, replacing ``path`` whole."""
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def create_custodians(
    folder: Path, names: Sequence[str], threshold: int, requesters: Mapping[str, int]
) -> list[Path]:
    """Folders for ``names`` custodians, any ``threshold`` of which answer (no epoch yet),
    each knowing ``requesters`` (code -> daily quota) and no one else."""
    if not 1 <= threshold <= len(names):
        raise ScreeningError(f"a threshold of {threshold} of {len(names)} custodians is impossible")
    out = []
    for name in names:
        path = Path(folder) / name
        path.mkdir(parents=True, exist_ok=False)
        (path / "keys.json").write_text(json.dumps({"epochs": []}))
        os.chmod(path / "keys.json", 0o600)
        _write_private(path / "requesters.json", {"requesters": dict(requesters)})
        out.append(path)
    (Path(folder) / "custody.json").write_text(
        json.dumps({"custodians": list(names), "threshold": threshold})
    )
    return out


def deal_epoch(custodians: Sequence[Custodian], threshold: int, name: str, not_after: str) -> None:
    """A new epoch key, Shamir-split across the custodians; the whole key is then forgotten.

    The dealer is this function, for one instant (a distributed key generation, where no one
    ever holds the key, is left to do)."""
    key = _oprf.random_scalar()
    for custodian, (index, share) in zip(
        custodians, _oprf.split_key(key, threshold, len(custodians)), strict=True
    ):
        custodian.add_epoch(Epoch(name, not_after, index, share.hex()))
