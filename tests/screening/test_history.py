from pathlib import Path

import numpy as np
import pytest

from screening.history import (
    HISTORY_FEATURES,
    History,
    KnownOutcome,
    MemoryBackend,
    SQLiteBackend,
    replay,
)
from tests.screening.helpers import stream

_HOUR_US = 3_600_000_000
_SEIZED = HISTORY_FEATURES.index("sender_prev_seizures")
_PREV = HISTORY_FEATURES.index("sender_prev_parcels")
_ADDR_SENDERS = HISTORY_FEATURES.index("recipient_address_distinct_senders")


def _hours(frame_posted: int, hours: float) -> int:
    return int(frame_posted + hours * _HOUR_US)


def test_counts_only_earlier_parcels() -> None:
    frame = stream([(0, "Ann", "1 A St"), (1, "Ann", "2 B St"), (2, "Bob", "2 B St")])
    h = replay(frame, [])
    assert h[:, _PREV].tolist() == [0, 1, 0]
    assert h[:, _ADDR_SENDERS].tolist() == [0, 0, 1]


def test_name_variants_share_a_token() -> None:
    frame = stream([(0, "Zoë  Müller", "1 A St"), (1, "zoe muller", "1 A St")])
    assert frame.tokens["sender"][0] == frame.tokens["sender"][1]
    assert replay(frame, [])[1, _PREV] == 1


def test_planted_future_seizure_does_not_leak() -> None:
    """A seizure recorded after a parcel was posted must not show in that parcel's features."""
    frame = stream([(0, "Ann", "1 A St"), (10, "Ann", "1 A St"), (30, "Ann", "1 A St")])
    t0 = int(frame.posted_us[0])
    seizure = KnownOutcome(str(frame.item_id[0]), _hours(t0, 20), seized=True, clean=False)
    h = replay(frame, [seizure])
    # parcel 2 (hour 10) is posted before the seizure of parcel 1 is known (hour 20)
    assert h[:, _SEIZED].tolist() == [0, 0, 1]


def test_seizure_known_exactly_at_posting_time_is_not_yet_counted() -> None:
    frame = stream([(0, "Ann", "1 A St"), (10, "Ann", "1 A St")])
    t0 = int(frame.posted_us[0])
    seizure = KnownOutcome(str(frame.item_id[0]), _hours(t0, 10), seized=True, clean=False)
    assert replay(frame, [seizure])[1, _SEIZED] == 0


def test_outcome_counted_once() -> None:
    frame = stream([(0, "Ann", "1 A St"), (10, "Ann", "1 A St")])
    t0 = int(frame.posted_us[0])
    twice = [KnownOutcome(str(frame.item_id[0]), _hours(t0, h), True, False) for h in (1, 2)]
    assert replay(frame, twice)[1, _SEIZED] == 1


def test_a_later_outcome_corrects_the_earlier_from_when_it_is_known() -> None:
    """A seizure the laboratory later finds clean: counted between the two, then clean."""
    frame = stream([(0, "Ann", "1 A St"), (10, "Ann", "1 A St"), (30, "Ann", "1 A St")])
    t0, item = int(frame.posted_us[0]), str(frame.item_id[0])
    lab = [
        KnownOutcome(item, _hours(t0, 5), True, False),
        KnownOutcome(item, _hours(t0, 20), False, True),
    ]
    features = replay(frame, lab[::-1])  # in time order, whatever the order given
    clean = HISTORY_FEATURES.index("sender_prev_clean")
    assert features[1, _SEIZED] == 1 and features[1, clean] == 0
    assert features[2, _SEIZED] == 0 and features[2, clean] == 1


def test_rescoring_an_item_does_not_count_it_twice() -> None:
    frame = stream([(0, "Ann", "1 A St"), (1, "Ann", "1 A St")])
    history = History()
    history.observe(frame, 0)
    history.observe(frame, 0)
    assert history.observe(frame, 1)[_PREV] == 1


@pytest.mark.parametrize("order", ["time", "shuffled"])
def test_sqlite_online_replay_equals_memory_replay(tmp_path: Path, order: str) -> None:
    specs = [(h, f"S{h % 3}", f"{h % 4} Main St") for h in range(0, 40, 2)]
    frame = stream(specs)
    t0 = int(frame.posted_us[0])
    outcomes = [
        KnownOutcome(
            str(frame.item_id[i]), _hours(t0, 2 * i + 5), seized=i % 3 == 0, clean=i % 3 == 1
        )
        for i in range(0, 20, 2)
    ]
    if order == "shuffled":
        outcomes = outcomes[::-1]
    expected = replay(frame, outcomes)
    backend = SQLiteBackend(tmp_path / "h.sqlite")
    online = replay(frame, outcomes, History(backend))
    backend.close()
    np.testing.assert_array_equal(online, expected)
    assert expected[:, _SEIZED].sum() > 0


def _state(backend: object) -> tuple[object, ...]:
    """Everything a backend holds, comparable across backends of one kind."""
    if isinstance(backend, SQLiteBackend):
        return tuple(
            backend._execute(f"SELECT * FROM {table} ORDER BY 1, 2")  # noqa: SLF001
            for table in ("history_entity", "history_partner", "history_item")
        )
    assert isinstance(backend, MemoryBackend)
    return (sorted(backend.entities.items()), sorted(backend.partners), sorted(backend.items))


@pytest.mark.parametrize("store", ["memory", "sqlite"])
def test_observe_frame_equals_observe_row_after_row(tmp_path: Path, store: str) -> None:
    """The batched scoring path gives the same features and leaves the same history."""
    parcels = [
        (h, name, street)
        for h, (name, street) in enumerate(
            [
                ("Ann", "1 A St"),
                ("Bob", "1 A St"),
                ("Ann", "2 B St"),
                ("Cy", "3 C St"),
                ("Ann", "1 A St"),
                ("Bob", "2 B St"),
                ("Dee", "1 A St"),
                ("Ann", "2 B St"),
            ]
        )
    ]
    frame = stream(parcels)
    frame.item_id[5] = frame.item_id[2]  # an item scored twice in one frame counts once

    def backend(name: str) -> MemoryBackend | SQLiteBackend:
        return MemoryBackend() if store == "memory" else SQLiteBackend(tmp_path / f"{name}.db")

    one, many = History(backend("one")), History(backend("many"))
    seed = stream([(-5, "Ann", "1 A St"), (-4, "Eve", "2 B St")])
    for history in (one, many):  # some history before the frame
        for row in range(len(seed)):
            history.observe(seed, row)
    rows = np.array([one.observe(frame, row) for row in range(len(frame))])
    batched = many.observe_frame(frame)
    assert np.array_equal(rows, batched, equal_nan=True)
    assert rows[:, _PREV].max() > 0 and rows[:, _ADDR_SENDERS].max() > 0
    assert _state(one.backend) == _state(many.backend)
