"""PostgreSQL and Redis history backends against real servers: online replay equals memory."""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest

from screening import SQLiteBackend
from screening.history import (
    HISTORY_FEATURES,
    History,
    HistoryBackend,
    KnownOutcome,
    MemoryBackend,
    replay,
)
from tests.screening.helpers import stream

_HOUR_US = 3_600_000_000
_SEIZED = HISTORY_FEATURES.index("sender_prev_seizures")
PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/0"


def _unavailable(reason: str) -> None:
    """Skip on a developer's machine without the server; fail in CI, which runs both."""
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def _served(kind: str) -> Iterator[HistoryBackend]:
    """A backend on the real server of ``kind`` (postgres or redis), in a store of its own."""
    run = uuid.uuid4().hex[:12]
    if kind == "postgres":
        from screening.history._postgres import PostgresBackend

        try:
            pg = PostgresBackend(PG_URL, schema=f"test_{run}")
        except Exception as exc:  # noqa: BLE001 - a missing server is a skip, not an error
            _unavailable(f"PostgreSQL not reachable: {exc}")
        yield pg
        pg.drop()
        pg.close()
    else:
        from screening.history._redis import RedisBackend

        rd = RedisBackend(REDIS_URL, prefix=f"test-{run}:")
        try:
            rd._redis.ping()
        except Exception as exc:  # noqa: BLE001
            _unavailable(f"Redis not reachable: {exc}")
        yield rd
        rd.clear()
        rd.close()


@pytest.fixture(params=["postgres", "redis"])
def backend(request: pytest.FixtureRequest) -> Iterator[HistoryBackend]:
    yield from _served(request.param)


@pytest.mark.parametrize("order", ["time", "shuffled"])
def test_online_replay_equals_memory_replay(backend: HistoryBackend, order: str) -> None:
    specs: list[tuple[float, str, str]] = [
        (h, f"S{h % 3}", f"{h % 4} Main St") for h in range(0, 40, 2)
    ]
    frame = stream(specs)
    t0 = int(frame.posted_us[0])
    outcomes = [
        KnownOutcome(
            str(frame.item_id[i]), t0 + (2 * i + 5) * _HOUR_US, seized=i % 3 == 0, clean=i % 3 == 1
        )
        for i in range(0, 20, 2)
    ]
    if order == "shuffled":
        outcomes = outcomes[::-1]
    expected = replay(frame, outcomes)
    online = replay(frame, outcomes, History(backend))
    np.testing.assert_array_equal(online, expected)
    assert expected[:, _SEIZED].sum() > 0


def test_failed_update_leaves_no_trace(backend: HistoryBackend) -> None:
    """A transaction that raises half-way writes nothing (all-or-nothing)."""
    from screening.history import EntityStats

    with pytest.raises(RuntimeError), backend.transaction():
        backend.put("sender", "tok", EntityStats(parcels=1))
        raise RuntimeError("boom")
    assert backend.get("sender", "tok") is None


def test_partner_added_once(backend: HistoryBackend) -> None:
    assert backend.add_partner("sender", "a", "b") is True
    assert backend.add_partner("sender", "a", "b") is False


def test_observe_frame_equals_memory_row_after_row(backend: HistoryBackend) -> None:
    """The service's batched scoring path on PostgreSQL and Redis gives the memory features."""
    frame = stream([(h, f"S{h % 3}", f"{h % 4} Main St") for h in range(0, 30, 2)])
    frame.item_id[7] = frame.item_id[3]
    memory = History()
    expected = np.array([memory.observe(frame, row) for row in range(len(frame))])
    np.testing.assert_array_equal(History(backend).observe_frame(frame), expected)
    assert expected[:, HISTORY_FEATURES.index("sender_prev_parcels")].max() > 2


@pytest.fixture(params=["memory", "sqlite", "postgres", "redis"])
def any_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[HistoryBackend]:
    if request.param == "memory":
        yield MemoryBackend()
    elif request.param == "sqlite":
        sqlite = SQLiteBackend(tmp_path / "history.sqlite")
        yield sqlite
        sqlite.close()
    else:
        yield from _served(request.param)


def _pruned_world(backend: HistoryBackend) -> tuple[History, list[str], list[str], int]:
    """Old parcels (hours 0-10), recent ones (1000-1010), one sender in both; the cutoff."""
    specs = [(float(h), "Old Sender", "1 Old St") for h in range(0, 12, 2)]
    specs += [(0.0, "Both Sender", "2 Both St"), (1000.0, "Both Sender", "2 Both St")]
    specs += [(float(h), "New Sender", "3 New St") for h in range(1000, 1012, 2)]
    frame = stream(specs)
    history = History(backend)
    history.observe_frame(frame)
    items = [str(i) for i in frame.item_id]
    return history, items[:7], items[7:], int(frame.posted_us[0]) + 500 * _HOUR_US


def _prev_parcels(history: History, sender: str, street: str) -> float:
    frame = stream([(1020.0, sender, street)])
    frame.item_id[0] = "RR999999995NL"
    return float(history.observe_frame(frame)[0, HISTORY_FEATURES.index("sender_prev_parcels")])


def test_prune_forgets_entities_and_items_past_the_cutoff(any_backend: HistoryBackend) -> None:
    history, old_items, new_items, cutoff = _pruned_world(any_backend)
    dry = any_backend.prune(cutoff, dry_run=True)
    assert any_backend.get_item(old_items[0]) is not None  # a dry run deletes nothing
    real = any_backend.prune(cutoff)
    assert real == dry
    # Old Sender, 1 Old St and their pair; links Old Sender -> recipient, 1 Old St -> sender
    # (the sender's address, the recipient and the office are on recent parcels too)
    assert real == {"entities": 3, "partner_links": 2, "items": 7}
    assert [any_backend.get_item(i) is None for i in old_items] == [True] * 7
    assert all(any_backend.get_item(i) is not None for i in new_items)
    assert history.record_outcome(old_items[0], seized=True, clean=False) is False
    assert any_backend.prune(cutoff) == {"entities": 0, "partner_links": 0, "items": 0}
    assert _prev_parcels(history, "Old Sender", "1 Old St") == 0  # new again
    assert _prev_parcels(history, "New Sender", "3 New St") == 6
    assert _prev_parcels(history, "Both Sender", "2 Both St") == 2  # seen since: kept whole


def test_an_outcome_keeps_the_items_posting_time(any_backend: HistoryBackend) -> None:
    history, old_items, new_items, cutoff = _pruned_world(any_backend)
    assert history.record_outcome(old_items[1], seized=True, clean=False)
    assert history.record_outcome(new_items[1], seized=False, clean=True)
    any_backend.prune(cutoff)
    assert any_backend.get_item(old_items[1]) is None
    assert any_backend.get_item(new_items[1]) is not None


def test_a_corrected_outcome_moves_the_counts_once(any_backend: HistoryBackend) -> None:
    """Seized corrected to clean: each entity of the item has one seizure fewer and one clean
    inspection more; the same correction again changes nothing; an item linked before the
    kind was kept is corrected from what the caller says it counted."""
    from screening.history import LINKED

    history, _, recent, _ = _pruned_world(any_backend)
    items = recent[1:]  # parcels of one sender ("New Sender")
    tokens = any_backend.get_item(items[0])
    assert tokens is not None

    def sender() -> tuple[int, int]:
        stats = any_backend.get("sender", tokens["sender"])
        assert stats is not None
        return stats.seizures, stats.clean

    assert history.record_outcome(items[0], seized=True, clean=False)
    assert sender() == (1, 0)
    assert history.correct_outcome(items[0], seized=False, clean=True)
    assert sender() == (0, 1)
    assert history.correct_outcome(items[0], seized=False, clean=True)  # applied again
    assert sender() == (0, 1)
    assert history.correct_outcome(items[0], seized=False, clean=False)  # not inspected
    assert sender() == (0, 0)
    assert history.correct_outcome("RR999999995NL", seized=True, clean=False) is False
    assert history.correct_outcome(items[1], seized=True, clean=False)  # none linked: links
    assert sender() == (1, 0) and history.record_outcome(items[1], True, False) is False
    with any_backend.transaction():  # as a store wrote an outcome before it kept the kind
        any_backend.put_item(items[2], tokens, outcome=LINKED)
    with pytest.raises(ValueError, match="was="):
        history.correct_outcome(items[2], seized=False, clean=True)
    assert history.correct_outcome(items[2], seized=True, clean=False, was=(False, True))
    assert sender() == (2, 0)  # clean -1 floored at 0, seizures +1
    assert any_backend.item_outcome(items[0]) is not None


def test_an_older_sqlite_file_gains_posting_times_and_keeps_untimed_items(
    tmp_path: Path,
) -> None:
    path = tmp_path / "history.sqlite"
    with closing(sqlite3.connect(path)) as conn:  # the item table as it was made before
        conn.execute(
            "CREATE TABLE history_item (item_id TEXT PRIMARY KEY, tokens TEXT NOT NULL, "
            "outcome INTEGER NOT NULL)"
        )
        conn.execute("INSERT INTO history_item VALUES ('RR000000000NL', '{}', 0)")
        conn.commit()
    sqlite = SQLiteBackend(path)
    try:
        history, old_items, _, cutoff = _pruned_world(sqlite)
        assert sqlite.prune(cutoff)["items"] == 7
        assert sqlite.get_item("RR000000000NL") == {}  # no posting time: kept
    finally:
        sqlite.close()
