"""``parcelscreen train`` and the exchange: the model reads the partner-seizure features only
where exchange settings are given and the record database holds partners' indicators; its
source then asks the configured custodians, each request in the decision log."""

from __future__ import annotations

import argparse
import json
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from parcelscreen._train_cmd import _exchange
from screening.exchange import (
    Custodian,
    PartnerStore,
    TokenClient,
    create_custodians,
    deal_epoch,
    seizure_indicators,
)
from serving import Record, Settings

PARTY = {
    "name": "Orla Vennemeer",
    "street": "Kade 17",
    "postcode": "1011 AB",
    "city": "Amsterdam",
    "country": "NL",
}


@pytest.fixture
def agency(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """BE's record database and exchange settings; custodians with a live epoch."""
    monkeypatch.setenv("PARCELSCREEN_ENVIRONMENT", "development")
    monkeypatch.setenv("PARCELSCREEN_DATA_DIR", str(tmp_path / "be"))
    monkeypatch.delenv("PARCELSCREEN_EXCHANGE_CONFIG", raising=False)
    Record(Settings(), must_exist=False).close()
    create_custodians(tmp_path / "custody", ["c1", "c2"], 2, {"be": 1000, "nl": 1000})
    group = [Custodian(tmp_path / "custody" / n) for n in ("c1", "c2")]
    deal_epoch(group, 2, "E1", "2099-12-31")
    for custodian in group:
        custodian.close()
    (tmp_path / "be.json").write_text(json.dumps({"agency": "be", "custody": "custody"}))
    return tmp_path


def _args(config: Path | None, no_exchange: bool = False) -> argparse.Namespace:
    return argparse.Namespace(exchange_config=config, no_exchange=no_exchange)


def _import_nl_seizure(tmp: Path) -> None:
    group = [Custodian(tmp / "custody" / n) for n in ("c1", "c2")]
    try:
        indicators = seizure_indicators(
            [{"item_id": "RR000000001NL", "sender": None, "recipient": PARTY}],
            {"RR000000001NL": {"recorded_at": datetime(2026, 2, 20, tzinfo=UTC)}},
            client=TokenClient(group, 2, "nl"),
            epoch="E1",
            agency="nl",
            ref_key=b"k" * 32,
            reliability="B",
            accuracy="2",
            handling="H1",
            purpose="drug-trafficking-prevention",
            sharing_group="g",
            valid_until="2099-12-31",
        )
    finally:
        for custodian in group:
            custodian.close()
    record = Record(Settings())
    try:
        PartnerStore(record.db).add(indicators, "bundle-nl", 0)
    finally:
        record.close()


def test_without_settings_or_indicators_the_model_is_as_before(
    agency: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with ExitStack() as stack:
        assert _exchange(_args(None), stack) == (True, None)  # no settings: not even opened
        assert _exchange(_args(agency / "be.json"), stack) == (True, None)  # no indicators
    assert "no partners' indicators in the record database" in capsys.readouterr().err
    _import_nl_seizure(agency)
    with ExitStack() as stack:
        assert _exchange(_args(agency / "be.json", no_exchange=True), stack) == (True, None)


def test_with_indicators_training_gets_a_source_of_the_custodians(
    agency: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _import_nl_seizure(agency)
    monkeypatch.setenv("PARCELSCREEN_EXCHANGE_CONFIG", str(agency / "be.json"))
    with ExitStack() as stack:
        ok, source = _exchange(_args(None), stack)
        assert ok and source is not None
        posted = np.array([int(datetime(2026, 3, 1, tzinfo=UTC).timestamp() * 1e6)] * 2)
        other = {**PARTY, "name": "X Y", "street": "Dam 1", "postcode": "1012 JS"}
        inputs = source.inputs([{"recipient": PARTY}, {"recipient": other}], posted)
    assert inputs.matrix[:, 0].tolist() == [1.0, 0.0] and inputs.unavailable == [None, None]
    assert inputs.hits[0][0].source == "nl"
    record = Record(Settings())
    try:
        (request,) = record.audit.records("exchange_token_request")[:1]
    finally:
        record.close()
    assert "be" in json.dumps(request)
