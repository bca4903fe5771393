"""The history backends' abstract base class: the primitives are enough for every feature."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import astuple

import numpy as np
import pytest

from screening import HistoryBackend, MemoryBackend, ParcelFrame, SQLiteBackend
from screening.history import HISTORY_FEATURES, EntityStats, History, KnownOutcome, replay
from screening.history._postgres import PostgresBackend
from screening.history._redis import RedisBackend
from tests.screening.helpers import stream

_HOUR_US = 3_600_000_000
PRIMITIVES = {
    "get",
    "put",
    "add_partner",
    "get_item",
    "put_item",
    "item_outcome",
    "transaction",
    "prune",
}


class PrimitivesOnly(HistoryBackend):
    """A backend with the primitives alone: every bulk operation is the base class's."""

    def __init__(self) -> None:
        self.entities: dict[tuple[str, str], tuple[int, ...]] = {}
        self.partners: set[tuple[str, str, str]] = set()
        self.items: dict[str, tuple[dict[str, str], int, int | None]] = {}

    def get(self, kind: str, token: str) -> EntityStats | None:
        found = self.entities.get((kind, token))
        return None if found is None else EntityStats(*found)

    def put(self, kind: str, token: str, stats: EntityStats) -> None:
        self.entities[(kind, token)] = astuple(stats)  # a copy, as a store keeps it

    def add_partner(self, kind: str, token: str, partner: str) -> bool:
        new = (kind, token, partner) not in self.partners
        self.partners.add((kind, token, partner))
        return new

    def get_item(self, item_id: str) -> dict[str, str] | None:
        found = self.items.get(item_id)
        return None if found is None else dict(found[0])

    def put_item(
        self, item_id: str, tokens: Mapping[str, str], outcome: int, posted_us: int | None = None
    ) -> None:
        if posted_us is None and item_id in self.items:
            posted_us = self.items[item_id][2]
        self.items[item_id] = (dict(tokens), outcome, posted_us)

    def item_outcome(self, item_id: str) -> int | None:
        found = self.items.get(item_id)
        return None if found is None else found[1]

    def transaction(self) -> AbstractContextManager[object]:
        return nullcontext()

    def prune(self, cutoff_us: int, dry_run: bool = False) -> dict[str, int]:
        raise NotImplementedError("not needed here")


def _stream_and_outcomes() -> tuple[ParcelFrame, list[KnownOutcome]]:
    frame = stream([(h, f"S{h % 3}", f"{h % 4} Main St") for h in range(0, 40, 2)])
    t0 = int(frame.posted_us[0])
    outcomes = [
        KnownOutcome(
            str(frame.item_id[i]), t0 + (2 * i + 5) * _HOUR_US, seized=i % 3 == 0, clean=i % 3 == 1
        )
        for i in range(0, 20, 2)
    ]
    outcomes.append(
        KnownOutcome(
            str(frame.item_id[0]),
            t0 + 30 * _HOUR_US,  # a correction
            seized=False,
            clean=True,
        )
    )
    return frame, outcomes


def _held(backend: MemoryBackend | PrimitivesOnly) -> tuple[object, ...]:
    entities = {
        key: astuple(s) if isinstance(s, EntityStats) else s for key, s in backend.entities.items()
    }
    return entities, backend.partners, backend.items


def test_primitives_alone_give_the_memory_features_and_history() -> None:
    frame, outcomes = _stream_and_outcomes()
    memory, minimal = MemoryBackend(), PrimitivesOnly()
    expected = replay(frame, outcomes, History(memory))
    np.testing.assert_array_equal(replay(frame, outcomes, History(minimal)), expected)
    assert expected[:, HISTORY_FEATURES.index("sender_prev_seizures")].sum() > 0
    assert _held(minimal) == _held(memory)


def test_primitives_alone_give_the_batched_path() -> None:
    """``observe_frame`` (bulk reads, partner links, writes) and the snapshot read."""
    frame, _ = _stream_and_outcomes()
    frame.item_id[7] = frame.item_id[3]  # scored twice in one frame: counts once
    memory, minimal = MemoryBackend(), PrimitivesOnly()
    expected = History(memory).observe_frame(frame)
    np.testing.assert_array_equal(History(minimal).observe_frame(frame), expected)
    assert _held(minimal) == _held(memory)
    np.testing.assert_array_equal(
        History(minimal).snapshot_features(frame), History(memory).snapshot_features(frame)
    )


def test_the_primitives_are_what_a_backend_must_implement() -> None:
    assert HistoryBackend.__abstractmethods__ == PRIMITIVES


@pytest.mark.parametrize("missing", sorted(PRIMITIVES))
def test_a_backend_missing_a_primitive_cannot_be_made(missing: str) -> None:
    body = {name: getattr(PrimitivesOnly, name) for name in PRIMITIVES - {missing}}
    incomplete = type(f"Without_{missing}", (HistoryBackend,), body)
    with pytest.raises(TypeError, match=missing):
        incomplete()


@pytest.mark.parametrize("backend", [MemoryBackend, SQLiteBackend, PostgresBackend, RedisBackend])
def test_every_backend_is_a_history_backend(backend: type) -> None:
    assert issubclass(backend, HistoryBackend) and not backend.__abstractmethods__
