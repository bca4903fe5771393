"""Entity history features, computed as of each parcel's own time and never later.

One engine serves training (a replay of the whole stream in time order) and scoring (one
parcel at a time against a persistent store). Which features there are, and how each is
computed per row and per column, is declared once in ``_features``.
Entities are pseudonymised tokens (see ``_frame.ENTITIES``) plus the sender-recipient pair.

A seizure counts for an entity only from the moment its outcome was recorded (label delay):
an outcome recorded at time T is applied before a parcel posted strictly after T.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._frame import ParcelFrame
from ._backend import (
    KINDS,
    LINKED,
    NO_OUTCOME,
    OUTCOME_COUNTS,
    EntityStats,
    HistoryBackend,
    outcome_code,
)
from ._features import HISTORY_FEATURES, STATS_FIELDS, column_features, row_features
from ._memory import MemoryBackend


def entity_tokens(frame: ParcelFrame, row: int) -> dict[str, str]:
    """Tokens of one parcel's entities, the pair included (empty token: no linkable entity)."""
    tokens = {kind: str(frame.tokens[kind][row]) for kind in frame.tokens}
    sender, recipient = tokens["sender"], tokens["recipient"]
    tokens["pair"] = f"{sender}:{recipient}" if sender and recipient else ""
    return tokens


def _factorise(values: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Per-row index into the distinct values (first-seen order), and those values."""
    codes, distinct = pd.factorize(np.asarray(values, dtype=object))
    return np.asarray(codes, dtype=np.int64), distinct.tolist()


def _pairs(
    sender: tuple[np.ndarray, list[str]], recipient: tuple[np.ndarray, list[str]]
) -> tuple[np.ndarray, list[str]]:
    """The sender-recipient pair token of each row, as :func:`entity_tokens` builds it."""
    (s_codes, senders), (r_codes, recipients) = sender, recipient
    if not len(s_codes):
        return s_codes, []
    key = s_codes * max(len(recipients), 1) + r_codes
    _, first, codes = np.unique(key, return_index=True, return_inverse=True)
    distinct = []
    for row in first.tolist():
        s, r = senders[s_codes[row]], recipients[r_codes[row]]
        distinct.append(f"{s}:{r}" if s and r else "")
    return codes.reshape(-1), distinct


def _counted(stats: EntityStats | None, posted_us: int, new_partner: bool) -> EntityStats:
    """An entity's stats with one more parcel posted at ``posted_us`` (changed in place)."""
    stats = stats or EntityStats(first_us=posted_us)
    stats.parcels += 1
    stats.first_us = min(stats.first_us, posted_us)
    stats.last_us = max(stats.last_us, posted_us)
    stats.partners += int(new_partner)
    return stats


class History:
    """The history engine over one backend."""

    def __init__(self, backend: HistoryBackend | None = None) -> None:
        self.backend: HistoryBackend = backend or MemoryBackend()

    def _stats(self, tokens: Mapping[str, str]) -> dict[str, EntityStats | None]:
        """Current stats of each entity of a parcel, in one backend call (None: unknown)."""
        kinds = [kind for kind in KINDS if tokens.get(kind, "")]
        found = self.backend.get_many([(kind, tokens[kind]) for kind in kinds])
        stats: dict[str, EntityStats | None] = dict.fromkeys(KINDS)
        stats.update(zip(kinds, found, strict=True))
        return stats

    def features(self, tokens: Mapping[str, str], now_us: int) -> list[float]:
        """History features of a parcel with these entities, as of ``now_us``."""
        return row_features(self._stats(tokens), now_us)

    def snapshot_features(self, frame: ParcelFrame) -> np.ndarray:
        """History features of every parcel of a frame against the store as it stands now,
        recording nothing: what :meth:`features` gives row by row, as an (n, k) matrix.

        Each distinct entity is read from the store once (in bulk where the backend can) and
        the features are computed column-wise; a test holds this equal to the row path.
        """
        return column_features(self.snapshot_stats(frame), np.asarray(frame.posted_us, np.int64))

    def snapshot_stats(self, frame: ParcelFrame) -> dict[str, dict[str, np.ndarray]]:
        """The stats of every parcel's entities in the store as it stands now, as columns:
        kind -> :data:`STATS_FIELDS` -> one value per parcel (zeros: unknown or no entity)."""
        n = len(frame)
        stats: dict[str, dict[str, np.ndarray]] = {}
        backend = self.backend
        if isinstance(backend, MemoryBackend) and not backend.entities:  # nothing known yet
            zeros = np.zeros(n, dtype=np.int64)
            stats = {kind: dict.fromkeys(STATS_FIELDS, zeros) for kind in KINDS}
        else:
            columns = {kind: _factorise(frame.tokens[kind]) for kind in frame.tokens}
            columns["pair"] = _pairs(columns["sender"], columns["recipient"])
            for kind in KINDS:
                codes, distinct = columns.get(kind, (np.zeros(n, dtype=np.int64), [""]))
                stats[kind] = self._gathered(kind, codes, distinct)
        return stats

    def _gathered(self, kind: str, codes: np.ndarray, distinct: list[str]) -> dict[str, np.ndarray]:
        """Stats columns of each row's entity of one kind (zeros where unknown or no token)."""
        names = np.asarray(distinct, dtype=object)
        wanted = np.flatnonzero(names != "")
        found = self.backend.get_tokens(kind, names[wanted].tolist())
        table = np.zeros((len(distinct), len(STATS_FIELDS)), dtype=np.int64)
        known = [
            (i, stats) for i, stats in zip(wanted.tolist(), found, strict=True) if stats is not None
        ]
        if known:
            table[[i for i, _ in known]] = [
                (s.parcels, s.first_us, s.last_us, s.seizures, s.clean, s.partners)
                for _, s in known
            ]
        rows = table[codes]
        return {name: rows[:, j] for j, name in enumerate(STATS_FIELDS)}

    def record_parcel(self, item_id: str, tokens: Mapping[str, str], posted_us: int) -> bool:
        """Add a parcel to its entities' history; False (and no change) if already recorded."""
        with self.backend.transaction():
            if self.backend.get_item(item_id) is not None:
                return False
            self._add(item_id, tokens, posted_us, self._stats(tokens))
            return True

    def _add(
        self,
        item_id: str,
        tokens: Mapping[str, str],
        posted_us: int,
        found: Mapping[str, EntityStats | None],
    ) -> None:
        """Count a parcel in the stats just read (inside the caller's transaction)."""
        for kind, partner_kind in KINDS.items():
            token = tokens.get(kind, "")
            if not token:
                continue
            partner = tokens.get(partner_kind, "") if partner_kind else ""
            new_partner = bool(partner) and self.backend.add_partner(kind, token, partner)
            stats = _counted(found[kind], posted_us, new_partner)
            self.backend.put(kind, token, stats)
        self.backend.put_item(item_id, tokens, outcome=NO_OUTCOME, posted_us=posted_us)

    def record_outcome(self, item_id: str, seized: bool, clean: bool) -> bool:
        """Link an inspection outcome to the item's entities; once per item, known items only
        (a later outcome of the item is a correction: :meth:`correct_outcome`)."""
        with self.backend.transaction():
            tokens = self.backend.get_item(item_id)
            if tokens is None or self.backend.item_has_outcome(item_id):
                return False
            self.backend.add_outcome_counts(tokens, int(seized), int(clean))
            self.backend.put_item(item_id, tokens, outcome=outcome_code(seized, clean))
            return True

    def correct_outcome(
        self, item_id: str, seized: bool, clean: bool, was: tuple[bool, bool] | None = None
    ) -> bool:
        """Count the item's outcome as (``seized``, ``clean``) from now on, in place of what
        its linked outcome counted: each of its entities' seizure and clean counts moves by
        one where the result changed (seized corrected to clean: seizures -1, clean +1), in
        one transaction. An item with no outcome linked gets this one linked, as
        :meth:`record_outcome` does; an item unknown to the history is not (False).

        Idempotent: the item keeps what it counts, so a correction applied again changes
        nothing. ``was`` is what the item counted where a store linked it before the kind
        was kept (:data:`LINKED`); the caller knows it from its outcome records.
        """
        with self.backend.transaction():
            tokens = self.backend.get_item(item_id)
            if tokens is None:
                return False
            code = self.backend.item_outcome(item_id) or NO_OUTCOME
            if code == LINKED:
                if was is None:
                    raise ValueError(
                        f"item {item_id}: its outcome was linked without its "
                        "kind; say what it counted (was=)"
                    )
                before = was
            else:
                before = OUTCOME_COUNTS.get(code, (False, False))
            self.backend.add_outcome_counts(
                tokens, int(seized) - int(before[0]), int(clean) - int(before[1])
            )
            self.backend.put_item(item_id, tokens, outcome=outcome_code(seized, clean))
            return True

    def observe_frame(self, frame: ParcelFrame) -> np.ndarray:
        """``observe`` of every row in frame order, gathered into a few backend calls.

        One transaction: the frame's entities are read once, each parcel's features are taken
        from the stats as the parcels before it in the frame left them, and every changed
        entity and new item is written once at the end. Same features and same stored
        history as calling ``observe`` row after row (tested), in far fewer statements.
        """
        n = len(frame)
        out = np.empty((n, len(HISTORY_FEATURES)), dtype=np.float64)
        rows = [entity_tokens(frame, row) for row in range(n)]
        items = [str(item) for item in frame.item_id]
        with self.backend.transaction():
            keys = sorted({(kind, t[kind]) for t in rows for kind in KINDS if t.get(kind, "")})
            found_now = self.backend.get_keys(keys)
            current: dict[tuple[str, str], EntityStats | None] = {
                key: found_now.get(key) for key in keys
            }
            known = self.backend.known_items(items)
            new_rows = []  # rows whose item is recorded now (an item counts once)
            for row, item in enumerate(items):
                if item not in known:
                    known.add(item)
                    new_rows.append(row)
            partners = self.backend.add_partners(
                [
                    (kind, rows[row][kind], rows[row].get(partner_kind, ""))
                    for row in new_rows
                    for kind, partner_kind in KINDS.items()
                    if partner_kind and rows[row].get(kind, "") and rows[row].get(partner_kind, "")
                ]
            )
            is_new = set(new_rows)
            changed: dict[tuple[str, str], EntityStats] = {}
            new_items: list[tuple[str, dict[str, str], int]] = []
            for row, tokens in enumerate(rows):
                now = int(frame.posted_us[row])
                found = {
                    kind: current.get((kind, tokens[kind])) if tokens.get(kind, "") else None
                    for kind in KINDS
                }
                out[row] = row_features(found, now)
                if row not in is_new:
                    continue
                for kind, partner_kind in KINDS.items():
                    token = tokens.get(kind, "")
                    if not token:
                        continue
                    partner = tokens.get(partner_kind, "") if partner_kind else ""
                    new_partner = bool(partner) and (kind, token, partner) in partners
                    partners.discard((kind, token, partner))  # new only the first time
                    stats = _counted(found[kind], now, new_partner)
                    current[(kind, token)] = changed[(kind, token)] = stats
                new_items.append((items[row], tokens, now))
            self.backend.put_many(
                [(kind, token, stats) for (kind, token), stats in changed.items()]
            )
            self.backend.put_many_items(new_items)
        return out

    def observe(self, frame: ParcelFrame, row: int) -> list[float]:
        """Features of one parcel as of its posting time, then record it (the scoring path).

        One transaction: the stats read for the features are the ones updated, so replicas
        sharing a store never lose a count.
        """
        tokens = entity_tokens(frame, row)
        now = int(frame.posted_us[row])
        item_id = str(frame.item_id[row])
        with self.backend.transaction():
            found = self._stats(tokens)
            values = row_features(found, now)
            if self.backend.get_item(item_id) is None:
                self._add(item_id, tokens, now, found)
        return values


@dataclass(frozen=True, slots=True)
class KnownOutcome:
    """An outcome as the history sees it: which item, when it became known, what it was."""

    item_id: str
    known_us: int
    seized: bool
    clean: bool


def replay(
    frame: ParcelFrame, outcomes: Iterable[KnownOutcome], history: History | None = None
) -> np.ndarray:
    """History features of every parcel, replaying parcels and outcomes in time order.

    Parcels are taken by posting time (ties in frame order); an outcome is applied before the
    first parcel posted strictly after it was recorded. An item's later outcome corrects its
    earlier one (a laboratory's result), as the service's corrections do. Returns an (n, k)
    float64 matrix in frame order.
    """
    history = history or History()
    pending = sorted(outcomes, key=lambda o: o.known_us)
    order = np.argsort(frame.posted_us, kind="stable")
    out = np.empty((len(frame), len(HISTORY_FEATURES)), dtype=np.float64)
    next_outcome = 0
    for row in order:
        now = int(frame.posted_us[row])
        while next_outcome < len(pending) and pending[next_outcome].known_us < now:
            o = pending[next_outcome]
            history.correct_outcome(o.item_id, o.seized, o.clean)
            next_outcome += 1
        out[row] = history.observe(frame, int(row))
    return out


def copy_history(source: MemoryBackend, target: HistoryBackend) -> int:
    """Copy a replayed in-memory history into a persistent backend, in one transaction."""
    with target.transaction():
        for (kind, token), stats in source.entities.items():
            target.put(kind, token, stats)
        for kind, token, partner in source.partners:
            target.add_partner(kind, token, partner)
        for item_id, (tokens, outcome, posted_us) in source.items.items():
            target.put_item(item_id, tokens, outcome, posted_us)
    return len(source.items)
