"""Partners' indicators in the record database, in tables of their own (never the history).

``exchange_indicators``: one row per (source, ref): the bundle it came in, when it was
imported (``known_us``: from then on it may match), ``valid_until`` and its facts as JSON.
``exchange_tokens``: token -> (source, ref), for exact lookup. ``prune`` deletes what is past
its ``valid_until`` (``history prune`` calls it); a partner's newer bundle replaces the
indicators of the same reference. ``exchange_bundles``: per partner, the ``created`` time of
the last bundle imported: a bundle of that partner created at or before it is refused (a
replayed or older bundle never overwrites newer rows).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, date, datetime

from .._database import Database
from ._bundle import ExchangeRefused
from ._match import PartnerIndex
from ._records import Indicator

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS exchange_indicators (
        source TEXT NOT NULL, ref TEXT NOT NULL, bundle TEXT NOT NULL, known_us INTEGER NOT NULL,
        valid_until TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (source, ref))""",
    """CREATE TABLE IF NOT EXISTS exchange_tokens (
        token TEXT NOT NULL, source TEXT NOT NULL, ref TEXT NOT NULL,
        PRIMARY KEY (token, source, ref))""",
    """CREATE TABLE IF NOT EXISTS exchange_bundles (
        source TEXT PRIMARY KEY, created TEXT NOT NULL, bundle TEXT NOT NULL)""",
)


class PartnerStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        for statement in SCHEMA:
            db.execute(statement)

    def last_bundle(self, source: str) -> tuple[str, str] | None:
        """(created, bundle name) of ``source``'s last imported bundle, if any."""
        rows = self.db.execute(
            "SELECT created, bundle FROM exchange_bundles WHERE source = ?", (source,)
        )
        return (str(rows[0][0]), str(rows[0][1])) if rows else None

    def add(
        self,
        indicators: Sequence[Indicator],
        bundle: str,
        known_us: int,
        source: str | None = None,
        created: str | None = None,
    ) -> int:
        """Store ``indicators``; with ``source`` and ``created`` (the manifest's, a UTC time),
        only if no bundle of ``source`` created at or after it was imported (else
        :class:`ExchangeRefused`, nothing stored)."""
        with self.db.transaction() as db:
            if source is not None and created is not None:
                when = datetime.fromisoformat(created).astimezone(UTC).isoformat()
                last = self.last_bundle(source)
                if last is not None and last[0] >= when:
                    raise ExchangeRefused(
                        f"exchange bundle {bundle}: created {created}, not after {source}'s "
                        f"bundle {last[1]} imported already (created {last[0]}): an older or "
                        "replayed bundle does not replace newer indicators"
                    )
                db.execute("DELETE FROM exchange_bundles WHERE source = ?", (source,))
                db.execute("INSERT INTO exchange_bundles VALUES (?, ?, ?)", (source, when, bundle))
            for ind in indicators:
                db.execute(
                    "DELETE FROM exchange_tokens WHERE source = ? AND ref = ?",
                    (ind.source, ind.ref),
                )
                db.execute(
                    "INSERT OR REPLACE INTO exchange_indicators VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        ind.source,
                        ind.ref,
                        bundle,
                        known_us,
                        ind.valid_until,
                        json.dumps(ind.as_dict(), sort_keys=True),
                    ),
                )
                db.executemany(
                    "INSERT OR IGNORE INTO exchange_tokens VALUES (?, ?, ?)",
                    [(t["token"], ind.source, ind.ref) for t in ind.tokens],
                )
        return len(indicators)

    def count(self) -> dict[str, int]:
        ((indicators,),) = self.db.execute("SELECT COUNT(*) FROM exchange_indicators")
        ((tokens,),) = self.db.execute("SELECT COUNT(*) FROM exchange_tokens")
        return {"indicators": int(indicators), "tokens": int(tokens)}

    def state(self) -> tuple[int, int]:
        """(indicators, newest ``known_us``): what changes when a bundle is imported or
        pruned (a cached index is read again then)."""
        ((n, newest),) = self.db.execute(
            "SELECT COUNT(*), COALESCE(MAX(known_us), 0) FROM exchange_indicators"
        )
        return int(n), int(newest)

    def valid_until(self) -> dict[tuple[str, str], str]:
        rows = self.db.execute("SELECT source, ref, valid_until FROM exchange_indicators")
        return {(str(s), str(r)): str(v) for s, r, v in rows}

    def index(self) -> PartnerIndex:
        index = PartnerIndex()
        for known_us, body in self.db.execute("SELECT known_us, body FROM exchange_indicators"):
            index.add(Indicator.from_dict(json.loads(body), "partner store"), int(known_us))
        return index

    def prune(self, today: date, dry_run: bool = False) -> dict[str, int]:
        """Delete indicators whose last valid day is before ``today``, and their tokens."""
        cutoff = today.isoformat()
        ((n,),) = self.db.execute(
            "SELECT COUNT(*) FROM exchange_indicators WHERE valid_until < ?", (cutoff,)
        )
        ((t,),) = self.db.execute(
            "SELECT COUNT(*) FROM exchange_tokens AS t JOIN exchange_indicators AS i "
            "ON t.source = i.source AND t.ref = i.ref WHERE i.valid_until < ?",
            (cutoff,),
        )
        if not dry_run:
            with self.db.transaction() as db:
                db.execute(
                    "DELETE FROM exchange_tokens WHERE (source, ref) IN (SELECT source, ref "
                    "FROM exchange_indicators WHERE valid_until < ?)",
                    (cutoff,),
                )
                db.execute("DELETE FROM exchange_indicators WHERE valid_until < ?", (cutoff,))
        return {"partner_indicators": int(n), "partner_tokens": int(t)}
