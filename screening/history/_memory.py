"""The in-memory history backend: what a training replay uses."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext

from ._backend import EntityStats, HistoryBackend


class MemoryBackend(HistoryBackend):
    """Dictionaries; what a training replay uses."""

    def __init__(self) -> None:
        self.entities: dict[tuple[str, str], EntityStats] = {}
        self.items: dict[str, tuple[dict[str, str], int, int | None]] = {}
        self.partners: set[tuple[str, str, str]] = set()

    def get(self, kind: str, token: str) -> EntityStats | None:
        return self.entities.get((kind, token))

    def get_many(self, keys: Sequence[tuple[str, str]]) -> list[EntityStats | None]:
        return [self.entities.get(key) for key in keys]

    def get_tokens(self, kind: str, tokens: Sequence[str]) -> list[EntityStats | None]:
        if not self.entities:
            return [None] * len(tokens)
        get = self.entities.get
        return [get((kind, token)) for token in tokens]

    def put(self, kind: str, token: str, stats: EntityStats) -> None:
        self.entities[(kind, token)] = stats

    def add_partner(self, kind: str, token: str, partner: str) -> bool:
        key = (kind, token, partner)
        if key in self.partners:
            return False
        self.partners.add(key)
        return True

    def transaction(self) -> AbstractContextManager[object]:
        return nullcontext()

    def get_item(self, item_id: str) -> dict[str, str] | None:
        found = self.items.get(item_id)
        return None if found is None else found[0]

    def put_item(
        self, item_id: str, tokens: Mapping[str, str], outcome: int, posted_us: int | None = None
    ) -> None:
        if posted_us is None and item_id in self.items:
            posted_us = self.items[item_id][2]  # an outcome keeps the posting time
        self.items[item_id] = (dict(tokens), int(outcome), posted_us)

    def prune(self, cutoff_us: int, dry_run: bool = False) -> dict[str, int]:
        entities = [key for key, stats in self.entities.items() if stats.last_us < cutoff_us]
        items = [
            item
            for item, (_, _, posted) in self.items.items()
            if posted is not None and posted < cutoff_us
        ]
        gone = set(entities)
        partners = [p for p in self.partners if (p[0], p[1]) in gone]
        if not dry_run:
            for key in entities:
                del self.entities[key]
            self.partners.difference_update(partners)
            for item in items:
                del self.items[item]
        return {"entities": len(entities), "partner_links": len(partners), "items": len(items)}

    def known_links(self, triples: Sequence[tuple[str, str, str]]) -> set[tuple[str, str, str]]:
        return {triple for triple in triples if triple in self.partners}

    def known_items(self, item_ids: Sequence[str]) -> set[str]:
        return {item for item in item_ids if item in self.items}

    def item_outcome(self, item_id: str) -> int | None:
        found = self.items.get(item_id)
        return None if found is None else found[1]
