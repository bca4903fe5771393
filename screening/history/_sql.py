"""History backends over SQL: SQLite (embedded default) and PostgreSQL (several replicas).

Only pseudonymised tokens are stored. Each ``History`` update runs in one transaction.
"""

from __future__ import annotations

import json
from abc import abstractmethod
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from .._database import Database
from ._backend import EntityStats, HistoryBackend

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS history_entity (
        kind TEXT NOT NULL, token TEXT NOT NULL, parcels BIGINT NOT NULL, first_us BIGINT NOT NULL,
        last_us BIGINT NOT NULL, seizures BIGINT NOT NULL, clean BIGINT NOT NULL,
        partners BIGINT NOT NULL, PRIMARY KEY (kind, token))""",
    """CREATE TABLE IF NOT EXISTS history_partner (
        kind TEXT NOT NULL, token TEXT NOT NULL, partner TEXT NOT NULL,
        PRIMARY KEY (kind, token, partner))""",
    """CREATE TABLE IF NOT EXISTS history_item (
        item_id TEXT PRIMARY KEY, tokens TEXT NOT NULL, outcome INTEGER NOT NULL,
        posted_us BIGINT)""",
)
_COPIED = {
    "history_entity": "kind, token, parcels, first_us, last_us, seizures, clean, partners",
    "history_partner": "kind, token, partner",
    "history_item": "item_id, tokens, outcome, posted_us",
}
_UPSERT_ENTITY = """INSERT INTO history_entity
    (kind, token, parcels, first_us, last_us, seizures, clean, partners)
    VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p}, {p})
    ON CONFLICT (kind, token) DO UPDATE SET parcels = excluded.parcels,
    first_us = excluded.first_us, last_us = excluded.last_us, seizures = excluded.seizures,
    clean = excluded.clean, partners = excluded.partners"""

_PUT_ITEM = """INSERT INTO history_item (item_id, tokens, outcome, posted_us)
    VALUES ({p}, {p}, {p}, {p})
    ON CONFLICT (item_id) DO UPDATE SET outcome = excluded.outcome"""
_IN_BATCH = 500  # tokens per IN list (SQLite allows 999 parameters before 3.32)
_PRUNE_PAGE = 2_000  # rows read per page, and deleted per transaction, by ``prune``


class _SqlBackend(HistoryBackend):
    """Shared SQL of both dialects; ``_p`` is the parameter marker. A dialect runs the
    statements (``_execute``, ``_executemany``) and the transactions; the bulk operations are
    single statements over a few hundred keys each."""

    _p = "?"

    @abstractmethod
    def _execute(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Run one statement; its rows (none for a statement that returns none)."""

    @abstractmethod
    def _executemany(self, sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
        """Run one statement once per row of parameters."""

    def copy_to_sqlite(self, path: Path) -> int:
        """Copy every history table into a new SQLite file at ``path`` (a batch run's
        snapshot of a history kept in PostgreSQL, read in one transaction); the items copied."""
        target = SQLiteBackend(path)
        try:
            with self.transaction():
                tables = {
                    name: self._execute(f"SELECT {columns} FROM {name}")
                    for name, columns in _COPIED.items()
                }
            with target.transaction():
                for name, columns in _COPIED.items():
                    marks = ", ".join("?" * len(columns.split(", ")))
                    target.db.executemany(
                        f"INSERT INTO {name} ({columns}) VALUES ({marks})", tables[name]
                    )
        finally:
            target.close()
        return len(tables["history_item"])

    def get(self, kind: str, token: str) -> EntityStats | None:
        rows = self._execute(
            "SELECT parcels, first_us, last_us, seizures, clean, partners FROM history_entity "
            f"WHERE kind = {self._p} AND token = {self._p}",
            (kind, token),
        )
        return EntityStats(*rows[0]) if rows else None

    def get_many(self, keys: Sequence[tuple[str, str]]) -> list[EntityStats | None]:
        if not keys:
            return []
        one = (
            "SELECT kind, token, parcels, first_us, last_us, seizures, clean, partners "
            f"FROM history_entity WHERE kind = {self._p} AND token = {self._p}"
        )
        rows = self._execute(  # point lookups on the primary key, one round trip
            " UNION ALL ".join([one] * len(keys)), tuple(part for key in keys for part in key)
        )
        found = {(r[0], r[1]): EntityStats(*r[2:]) for r in rows}
        return [found.get(key) for key in keys]

    def get_tokens(self, kind: str, tokens: Sequence[str]) -> list[EntityStats | None]:
        """Stats of many entities of one kind (None: unknown), a few hundred per statement."""
        found: dict[str, EntityStats] = {}
        for start in range(0, len(tokens), _IN_BATCH):
            part = tuple(tokens[start : start + _IN_BATCH])
            rows = self._execute(
                "SELECT token, parcels, first_us, last_us, seizures, clean, partners FROM "
                f"history_entity WHERE kind = {self._p} AND token IN "
                f"({', '.join([self._p] * len(part))})",
                (kind, *part),
            )
            found.update((r[0], EntityStats(*r[1:])) for r in rows)
        return [found.get(token) for token in tokens]

    def get_keys(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], EntityStats]:
        """Stats of the known entities among (kind, token) keys, a few hundred per statement."""
        found: dict[tuple[str, str], EntityStats] = {}
        for start in range(0, len(keys), _IN_BATCH // 2):
            part = keys[start : start + _IN_BATCH // 2]
            pairs = ", ".join([f"({self._p}, {self._p})"] * len(part))
            rows = self._execute(  # a join on the key: "(kind, token) IN (...)" would scan
                f"WITH k (kind, token) AS (VALUES {pairs}) SELECT e.kind, e.token, e.parcels, "
                "e.first_us, e.last_us, e.seizures, e.clean, e.partners FROM k "
                "JOIN history_entity e ON e.kind = k.kind AND e.token = k.token",
                tuple(value for key in part for value in key),
            )
            found.update(((r[0], r[1]), EntityStats(*r[2:])) for r in rows)
        return found

    def known_items(self, item_ids: Sequence[str]) -> set[str]:
        """Which of these items are recorded already, a few hundred per statement."""
        known: set[str] = set()
        for start in range(0, len(item_ids), _IN_BATCH):
            part = tuple(item_ids[start : start + _IN_BATCH])
            rows = self._execute(
                f"SELECT item_id FROM history_item WHERE item_id IN "
                f"({', '.join([self._p] * len(part))})",
                part,
            )
            known.update(r[0] for r in rows)
        return known

    def known_links(self, triples: Sequence[tuple[str, str, str]]) -> set[tuple[str, str, str]]:
        """Which of these links are stored, a few hundred per statement."""
        found: set[tuple[str, str, str]] = set()
        for start in range(0, len(triples), _IN_BATCH // 3):
            part = triples[start : start + _IN_BATCH // 3]
            marks = ", ".join([f"({self._p}, {self._p}, {self._p})"] * len(part))
            rows = self._execute(
                f"SELECT kind, token, partner FROM history_partner WHERE (kind, token, partner) "
                f"IN (VALUES {marks})",
                tuple(value for triple in part for value in triple),
            )
            found.update((r[0], r[1], r[2]) for r in rows)
        return found

    def add_partners(self, triples: Sequence[tuple[str, str, str]]) -> set[tuple[str, str, str]]:
        """Add many (kind, token, partner) links; the set of those that were not there yet."""
        new: set[tuple[str, str, str]] = set()
        for start in range(0, len(triples), _IN_BATCH // 3):
            part = triples[start : start + _IN_BATCH // 3]
            marks = ", ".join([f"({self._p}, {self._p}, {self._p})"] * len(part))
            rows = self._execute(
                f"INSERT INTO history_partner (kind, token, partner) VALUES {marks} "
                "ON CONFLICT DO NOTHING RETURNING kind, token, partner",
                tuple(value for triple in part for value in triple),
            )
            new.update((r[0], r[1], r[2]) for r in rows)
        return new

    def put_many(self, entities: Sequence[tuple[str, str, EntityStats]]) -> None:
        """Write many entities' stats in one statement."""
        if entities:
            self._executemany(
                _UPSERT_ENTITY.format(p=self._p),
                [
                    (kind, token, s.parcels, s.first_us, s.last_us, s.seizures, s.clean, s.partners)
                    for kind, token, s in entities
                ],
            )

    def put_many_items(self, items: Sequence[tuple[str, Mapping[str, str], int]]) -> None:
        """Record many new items (no outcome yet; item, tokens, posting time) in one statement."""
        if items:
            self._executemany(
                _PUT_ITEM.format(p=self._p),
                [
                    (item, json.dumps(dict(tokens), sort_keys=True), 0, posted)
                    for item, tokens, posted in items
                ],
            )

    def put(self, kind: str, token: str, stats: EntityStats) -> None:
        self._execute(
            _UPSERT_ENTITY.format(p=self._p),
            (
                kind,
                token,
                stats.parcels,
                stats.first_us,
                stats.last_us,
                stats.seizures,
                stats.clean,
                stats.partners,
            ),
        )

    def add_partner(self, kind: str, token: str, partner: str) -> bool:
        rows = self._execute(
            "INSERT INTO history_partner (kind, token, partner) VALUES "
            f"({self._p}, {self._p}, {self._p}) ON CONFLICT DO NOTHING RETURNING 1",
            (kind, token, partner),
        )
        return bool(rows)

    def get_item(self, item_id: str) -> dict[str, str] | None:
        rows = self._execute(
            f"SELECT tokens FROM history_item WHERE item_id = {self._p}", (item_id,)
        )
        return json.loads(rows[0][0]) if rows else None

    def put_item(
        self, item_id: str, tokens: Mapping[str, str], outcome: int, posted_us: int | None = None
    ) -> None:
        self._execute(
            _PUT_ITEM.format(p=self._p),
            (item_id, json.dumps(dict(tokens), sort_keys=True), int(outcome), posted_us),
        )

    def prune(self, cutoff_us: int, dry_run: bool = False) -> dict[str, int]:
        """Delete entities whose last parcel was posted before ``cutoff_us``, with their
        partner links, and the item links of parcels posted before it.

        Pages through each table in key order (reads need no lock); each page's deletions are
        one short transaction that re-checks the time, so a parcel the service records
        meanwhile keeps its entity. Items recorded before posting times were stored (an older
        version) have none and are kept.
        """
        p, counts = self._p, {"entities": 0, "partner_links": 0, "items": 0}
        after: tuple[Any, ...] = ("", "")
        while rows := self._execute(
            "SELECT kind, token, last_us FROM history_entity WHERE (kind, token) > "
            f"({p}, {p}) ORDER BY kind, token LIMIT {_PRUNE_PAGE}",
            after,
        ):
            after = rows[-1][:2]
            old = [(kind, token) for kind, token, last in rows if last < cutoff_us]
            if dry_run or not old:
                counts["entities"] += len(old)
                continue
            with self.transaction():
                for key in old:
                    if self._execute(
                        f"DELETE FROM history_entity WHERE kind = {p} AND token = "
                        f"{p} AND last_us < {p} RETURNING 1",
                        (*key, cutoff_us),
                    ):
                        counts["entities"] += 1
                        counts["partner_links"] += len(
                            self._execute(
                                f"DELETE FROM history_partner WHERE kind = {p} AND token = {p} "
                                "RETURNING 1",
                                key,
                            )
                        )
        item_after = ""
        while rows := self._execute(
            f"SELECT item_id, posted_us FROM history_item WHERE item_id > {p} "
            f"ORDER BY item_id LIMIT {_PRUNE_PAGE}",
            (item_after,),
        ):
            item_after = rows[-1][0]
            old_items = [
                (item,) for item, posted in rows if posted is not None and posted < cutoff_us
            ]
            counts["items"] += len(old_items)
            if old_items and not dry_run:
                with self.transaction():
                    self._executemany(f"DELETE FROM history_item WHERE item_id = {p}", old_items)
        if dry_run:
            counts["partner_links"] = self._count_links(cutoff_us)
        return counts

    def _count_links(self, cutoff_us: int) -> int:
        ((n,),) = self._execute(
            "SELECT count(*) FROM history_partner l JOIN history_entity e ON e.kind = l.kind "
            f"AND e.token = l.token WHERE e.last_us < {self._p}",
            (cutoff_us,),
        )
        return int(n)

    def item_outcome(self, item_id: str) -> int | None:
        """What the item's linked outcome counts (``NO_OUTCOME``...); None: unknown."""
        rows = self._execute(
            f"SELECT outcome FROM history_item WHERE item_id = {self._p}", (item_id,)
        )
        return int(rows[0][0]) if rows else None


#: Page size of a new history file. Every parcel updates about ten rows of ~100 bytes at
#: random keys (keyed hashes), so each dirties its own page, and every dirty page is copied
#: into the WAL at commit and back at checkpoint: 1 KiB pages write 2.5 times fewer bytes
#: per parcel than SQLite's default 4 KiB (17 against 43 KB) for one more B-tree level.
HISTORY_PAGE_SIZE = 1024


class SQLiteBackend(_SqlBackend):
    """Embedded default: the history tables in a SQLite :class:`Database`.

    The service passes its record database, so a parcel's history increment commits with its
    decision (``History``'s transactions join the caller's); given a path, the backend opens
    a database of its own (a training replay's copy, a batch run's snapshot).
    """

    def __init__(
        self,
        store: Path | str | Database,
        background_checkpoints: bool = False,
        synchronous: str = "FULL",
    ) -> None:
        if isinstance(store, Database):
            self.db, self._owned = store, False
        else:
            self.db = Database(
                store,
                background_checkpoints=background_checkpoints,
                synchronous=synchronous,
                page_size=HISTORY_PAGE_SIZE,
            )
            self._owned = True
        for statement in _SCHEMA:
            self.db.execute(statement)
        columns = {row[1] for row in self.db.execute("PRAGMA table_info(history_item)")}
        if "posted_us" not in columns:  # a file from before items had a posting time
            with self.transaction():
                columns = {r[1] for r in self.db.execute("PRAGMA table_info(history_item)")}
                if "posted_us" not in columns:  # another worker may have added it meanwhile
                    self.db.execute("ALTER TABLE history_item ADD COLUMN posted_us BIGINT")

    def _execute(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        return self.db.execute(sql, params)

    def _executemany(self, sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
        self.db.executemany(sql, rows)

    def transaction(self) -> AbstractContextManager[object]:
        return self.db.transaction()

    def close(self) -> None:
        if self._owned:
            self.db.close()
