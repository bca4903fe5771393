"""Features computed online, parcel by parcel, equal the training features exactly."""

from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq

from screening import (
    DecisionPolicy,
    History,
    LoadedModel,
    Pseudonymiser,
    ScoringEngine,
    SQLiteBackend,
    feature_matrix,
)
from tests.conftest import Trained
from training import load_dataset

REPLAYED = 2500


def test_online_replay_equals_training_features(trained: Trained, tmp_path: Path) -> None:
    model = LoadedModel.load(trained.run.bundle)
    data = load_dataset(
        trained.data / "declarations.parquet",
        trained.data / "outcomes.parquet",
        Pseudonymiser(trained.key),
        validate=False,
    )
    offline = feature_matrix(data.frame, data.history, model.spec)[:REPLAYED]

    table = pq.read_table(trained.data / "declarations.parquet")
    table = table.take(
        pc.sort_indices(table, [("posted_at", "ascending"), ("item_id", "ascending")])
    )
    backend = SQLiteBackend(tmp_path / "history.sqlite")
    engine = ScoringEngine(
        model, History(backend), Pseudonymiser(trained.key), DecisionPolicy(), b"decision-key"
    )
    labelled = np.flatnonzero(data.inspected)
    outcomes = sorted(zip(data.known_us[labelled], labelled, strict=True))
    posted = table.column("posted_at").cast("int64").to_numpy()
    online = np.empty_like(offline)
    next_outcome = 0
    for row in range(REPLAYED):
        while next_outcome < len(outcomes) and outcomes[next_outcome][0] < posted[row]:
            i = outcomes[next_outcome][1]
            engine.history.record_outcome(
                str(data.frame.item_id[i]), bool(data.seized[i]), not data.seized[i]
            )
            next_outcome += 1
        (scored,) = engine.score_table(table.slice(row, 1), explain="none")
        online[row] = scored.features
    backend.close()
    assert next_outcome > 10, "the replay must cover outcomes becoming known"
    assert np.count_nonzero(offline[:, model.spec.names.index("sender_prev_parcels")]) > 100
    np.testing.assert_array_equal(online, offline)
