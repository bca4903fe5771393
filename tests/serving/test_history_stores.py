"""PostgreSQL and Redis history backends against real servers: online replay equals memory."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import numpy as np
import pytest

from screening._history import HISTORY_FEATURES, History, HistoryBackend, KnownOutcome, replay
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


@pytest.fixture(params=["postgres", "redis"])
def backend(request: pytest.FixtureRequest) -> Iterator[HistoryBackend]:
    run = uuid.uuid4().hex[:12]
    if request.param == "postgres":
        from screening._history_pg import PostgresBackend

        try:
            pg = PostgresBackend(PG_URL, schema=f"test_{run}")
        except Exception as exc:  # noqa: BLE001 - a missing server is a skip, not an error
            _unavailable(f"PostgreSQL not reachable: {exc}")
        yield pg
        pg.drop()
        pg.close()
    else:
        from screening._history_redis import RedisBackend

        rd = RedisBackend(REDIS_URL, prefix=f"test-{run}:")
        try:
            rd._redis.ping()
        except Exception as exc:  # noqa: BLE001
            _unavailable(f"Redis not reachable: {exc}")
        yield rd
        rd.clear()
        rd.close()


@pytest.mark.parametrize("order", ["time", "shuffled"])
def test_online_replay_equals_memory_replay(backend: HistoryBackend, order: str) -> None:
    specs: list[tuple[float, str, str]] = [
        (h, f"S{h % 3}", f"{h % 4} Main St") for h in range(0, 40, 2)
    ]
    frame = stream(specs)
    t0 = int(frame.posted_us[0])
    outcomes = [
        KnownOutcome(str(frame.item_id[i]), t0 + (2 * i + 5) * _HOUR_US,
                     seized=i % 3 == 0, clean=i % 3 == 1)  # fmt: skip
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
    from screening._history import EntityStats

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
