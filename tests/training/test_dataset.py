from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from data_contracts import InspectionOutcome, ParcelDeclaration, make_s10, write_records
from screening import HISTORY_FEATURES, Pseudonymiser
from tests.factories import declaration, outcome
from training import DataError, load_dataset, time_split

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
_SEIZURES = HISTORY_FEATURES.index("sender_prev_seizures")


def _write(tmp_path: Path, hours: list[float], seized_at: float) -> tuple[Path, Path]:
    decls = [
        ParcelDeclaration.model_validate(
            declaration(
                item_id=make_s10("RR", 20_000_000 + i, "NL"),
                posted_at=(T0 + timedelta(hours=h)).isoformat(),
            )
        )
        for i, h in enumerate(hours)
    ]
    seizure = InspectionOutcome.model_validate(
        outcome(item_id=decls[0].item_id, recorded_at=(T0 + timedelta(hours=seized_at)).isoformat())
    )
    write_records(decls, tmp_path / "d.parquet", "declaration")
    write_records([seizure], tmp_path / "o.parquet", "outcome")
    return tmp_path / "d.parquet", tmp_path / "o.parquet"


def test_planted_future_seizure_does_not_leak_into_training_features(tmp_path: Path) -> None:
    decls, outs = _write(tmp_path, [0, 10, 30], seized_at=20)
    data = load_dataset(decls, outs, Pseudonymiser("k" * 16))
    assert data.history[:, _SEIZURES].tolist() == [0, 0, 1]
    assert data.seized.tolist() == [True, False, False]
    assert data.known_us[0] == int((T0 + timedelta(hours=20)).timestamp() * 1e6)


def test_wrong_schema_names_the_column(tmp_path: Path) -> None:
    decls, outs = _write(tmp_path, [0, 1], seized_at=5)
    table = pq.read_table(decls)
    table = table.set_column(
        table.schema.get_field_index("gross_weight_kg"), "gross_weight_kg", pa.array(["x", "y"])
    )
    pq.write_table(table, decls)
    with pytest.raises(DataError, match="gross_weight_kg is string, expected double"):
        load_dataset(decls, outs, Pseudonymiser("k" * 16))


def test_invalid_record_names_record_and_field(tmp_path: Path) -> None:
    decls, outs = _write(tmp_path, [0, 1], seized_at=5)
    table = pq.read_table(decls)
    bad = pa.array(
        [r if i else "RR200000005NL" for i, r in enumerate(table.column("item_id").to_pylist())]
    )
    pq.write_table(table.set_column(1, "item_id", bad), decls)
    with pytest.raises(DataError, match=r"row 1 \(RR200000005NL\), field item_id: check digit"):
        load_dataset(decls, outs, Pseudonymiser("k" * 16))


def test_time_split_has_gaps_and_no_overlap() -> None:
    day = 86_400_000_000
    posted = np.arange(0, 100 * day, day // 4)
    split = time_split(posted, gap_days=10)
    assert not (split.train & split.validation).any() and not (split.validation & split.test).any()
    last_train = posted[split.train].max()
    first_valid = posted[split.validation].min()
    assert first_valid - last_train >= 10 * day
    assert posted[split.test].min() - posted[split.validation].max() >= 10 * day
    assert split.train_cutoff_us <= first_valid


def test_time_split_scales_its_gaps_to_a_short_span() -> None:
    day = 86_400_000_000
    posted = np.arange(0, 20 * day, 3_600_000_000)  # 20 days: two gaps of 10 would take all
    split = time_split(posted, gap_days=10)
    assert split.describe()["gap"].startswith("2.5 days, scaled down from 10")
    assert split.train.any() and split.validation.any() and split.test.any()
    assert posted[split.validation].min() - posted[split.train].max() >= 2.5 * day - 3_600_000_000
    assert "gap" not in time_split(np.arange(0, 100 * day, day), gap_days=10).describe()


def test_time_split_refuses_too_short_data_saying_what_is_missing() -> None:
    with pytest.raises(
        DataError,
        match=r"^the declarations span 2\.0 days; training needs at "
        r"least 3 \(training, validation and test periods",
    ):
        time_split(np.arange(0, 2 * 86_400_000_000 + 1, 3_600_000_000), gap_days=10)


def test_the_outcome_recorded_last_wins_whatever_the_file_order(tmp_path: Path) -> None:
    decls, _ = _write(tmp_path, [0, 10], seized_at=20)
    item = pq.read_table(decls).column("item_id")[0].as_py()
    at = [(T0 + timedelta(hours=h)).isoformat() for h in (30, 20, 25)]
    rows = [
        outcome(item_id=item, recorded_at=at[0], result="seized"),  # the lab's correction
        outcome(
            item_id=item, recorded_at=at[1], result="clean", substance=None, quantity_g=None
        ),  # first recorded
        outcome(
            item_id=make_s10("RR", 20_000_001, "NL"),
            recorded_at=at[2],
            result="clean",
            substance=None,
            quantity_g=None,
        ),
    ]
    write_records(
        [InspectionOutcome.model_validate(r) for r in rows], tmp_path / "o.parquet", "outcome"
    )
    data = load_dataset(decls, tmp_path / "o.parquet", Pseudonymiser("k" * 16))
    assert data.seized.tolist() == [True, False] and data.inspected.tolist() == [True, True]
    assert data.known_us[0] == int((T0 + timedelta(hours=30)).timestamp() * 1e6)
