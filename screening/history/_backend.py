"""What a history backend stores, and what every backend must implement.

Entity stats by (kind, token), partner links and items (their entities' tokens, what their
outcome counts, their posting time). :class:`HistoryBackend` is the abstract base class of the
backends (memory, SQLite, PostgreSQL, Redis): the primitives are abstract, the bulk operations
are built on them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

#: Entity kinds whose stats are kept, each with the kind of its counterpart (distinct count).
KINDS: dict[str, str | None] = {
    "sender": "recipient",
    "sender_address": "sender",
    "recipient": "sender",
    "recipient_address": "sender",
    "pair": None,
    "office": None,
}


@dataclass(slots=True)
class EntityStats:
    """What is known of one entity at a point in time."""

    parcels: int = 0
    first_us: int = 0
    last_us: int = 0
    seizures: int = 0
    clean: int = 0
    partners: int = 0  # distinct counterparts (recipients of a sender, senders of an address)


#: What an item's linked outcome counts in its entities' stats: the item's ``outcome`` field
#: in every backend (0: none linked; 1: linked before the kind was kept, see
#: :meth:`History.correct_outcome`).
NO_OUTCOME, LINKED, SEIZED, CLEAN, UNCOUNTED = 0, 1, 2, 3, 4
#: What each outcome code counts: (seized, clean).
OUTCOME_COUNTS = {SEIZED: (True, False), CLEAN: (False, True), UNCOUNTED: (False, False)}
_BULK = 200  # keys per get_many call in the default bulk reads


def outcome_code(seized: bool, clean: bool) -> int:
    """The item ``outcome`` field of an outcome that counts as seized, clean or neither."""
    return SEIZED if seized else CLEAN if clean else UNCOUNTED


class HistoryBackend(ABC):
    """Where entity stats live: memory for training, SQLite/PostgreSQL/Redis for serving.

    A backend implements the abstract primitives: entity stats by (kind, token), partner
    links, items (their entities' tokens, what their outcome counts, their posting time), a
    transaction that makes one ``History`` update atomic, and retention (``prune``). The bulk
    operations are built on the primitives here; a backend overrides them where it has a
    faster way (one SQL statement, one Redis pipeline) and must give the same answers.
    ``close`` releases what the backend holds (nothing by default).
    """

    # -- primitives -------------------------------------------------------------------------

    @abstractmethod
    def get(self, kind: str, token: str) -> EntityStats | None:
        """The entity's stats (None: unknown)."""

    @abstractmethod
    def put(self, kind: str, token: str, stats: EntityStats) -> None:
        """Store the entity's stats, replacing what was there."""

    @abstractmethod
    def add_partner(self, kind: str, token: str, partner: str) -> bool:
        """Link a counterpart to the entity; False where it was linked already."""

    @abstractmethod
    def get_item(self, item_id: str) -> dict[str, str] | None:
        """The recorded item's entity tokens (None: not recorded)."""

    @abstractmethod
    def put_item(
        self, item_id: str, tokens: Mapping[str, str], outcome: int, posted_us: int | None = None
    ) -> None:
        """Record the item with what its outcome counts (``NO_OUTCOME``...); without a
        posting time (an outcome's update) the item keeps the one it has."""

    @abstractmethod
    def item_outcome(self, item_id: str) -> int | None:
        """What the item's linked outcome counts (``NO_OUTCOME``...); None: unknown item."""

    @abstractmethod
    def transaction(self) -> AbstractContextManager[object]:
        """One atomic, isolated update; nested calls join the outer one."""

    @abstractmethod
    def prune(self, cutoff_us: int, dry_run: bool = False) -> dict[str, int]:
        """Delete entities last seen before ``cutoff_us`` with their partner links, and items
        posted before it; the counts (``entities``, ``partner_links``, ``items``) of what was
        (with ``dry_run``: would be) deleted."""

    def copy_to_sqlite(self, path: Path) -> int:
        """Copy the whole history into a new SQLite file (a batch run's snapshot); the items
        copied. Only the SQL backends can."""
        raise ValueError(f"a {type(self).__name__} history cannot be copied to SQLite")

    def known_links(self, triples: Sequence[tuple[str, str, str]]) -> set[tuple[str, str, str]]:
        """Which of these (kind, token, partner) links are stored, changing nothing (what a
        batch run reads of its snapshot). Only the memory and SQL backends can."""
        raise ValueError(f"a {type(self).__name__} history cannot list its partner links")

    def close(self) -> None:  # noqa: B027 - a backend that holds nothing closes nothing
        """Release the connections or files the backend opened itself."""

    # -- bulk operations, built on the primitives -------------------------------------------

    def get_many(self, keys: Sequence[tuple[str, str]]) -> list[EntityStats | None]:
        """Stats of many (kind, token) entities, in order (None: unknown)."""
        return [self.get(kind, token) for kind, token in keys]

    def get_tokens(self, kind: str, tokens: Sequence[str]) -> list[EntityStats | None]:
        """Stats of many entities of one kind, in order (None: unknown)."""
        out: list[EntityStats | None] = []
        for start in range(0, len(tokens), _BULK):
            out.extend(self.get_many([(kind, token) for token in tokens[start : start + _BULK]]))
        return out

    def get_keys(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], EntityStats]:
        """Stats of the known entities among (kind, token) keys."""
        found: dict[tuple[str, str], EntityStats] = {}
        for kind in dict.fromkeys(kind for kind, _ in keys):
            tokens = [token for k, token in keys if k == kind]
            found.update(
                ((kind, token), stats)
                for token, stats in zip(tokens, self.get_tokens(kind, tokens), strict=True)
                if stats is not None
            )
        return found

    def put_many(self, entities: Sequence[tuple[str, str, EntityStats]]) -> None:
        """Store many entities' stats."""
        for kind, token, stats in entities:
            self.put(kind, token, stats)

    def add_partners(self, triples: Sequence[tuple[str, str, str]]) -> set[tuple[str, str, str]]:
        """Add (kind, token, partner) links in order; the set of those that were new."""
        return {triple for triple in triples if self.add_partner(*triple)}

    def known_items(self, item_ids: Sequence[str]) -> set[str]:
        """Which of these items are recorded."""
        return {item for item in item_ids if self.get_item(item) is not None}

    def put_many_items(self, items: Sequence[tuple[str, Mapping[str, str], int]]) -> None:
        """Record many new items (item, tokens, posting time), no outcome linked yet."""
        for item_id, tokens, posted_us in items:
            self.put_item(item_id, tokens, outcome=NO_OUTCOME, posted_us=posted_us)

    def item_has_outcome(self, item_id: str) -> bool:
        """Whether an outcome is linked to the item."""
        return bool(self.item_outcome(item_id))

    def add_outcome_counts(self, tokens: Mapping[str, str], seizures: int, clean: int) -> None:
        """Move the seizure and clean counts of a parcel's entities (never below zero)."""
        if not seizures and not clean:
            return
        for kind in KINDS:
            token = tokens.get(kind, "")
            stats = self.get(kind, token) if token else None
            if stats is None:
                continue
            stats.seizures = max(0, stats.seizures + seizures)
            stats.clean = max(0, stats.clean + clean)
            self.put(kind, token, stats)
