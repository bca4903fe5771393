"""The model card of a model trained on imported data: the label it names, and figures that
say they rest on inspected items only where the data records no selection."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from training._card import model_card
from training._evaluate import UNKNOWN_SELECTION
from training._provenance import read_provenance
from training.metrics import capacity_report

INFO: dict[str, Any] = {
    "model_name": "parcelscreen-xgboost",
    "created_at": "2026-12-07T00:00:00Z",
    "xgboost_version": "x",
    "feature_version": "2",
    "features": 67,
    "training": {
        "best_iteration": 9,
        "max_depth": 6,
        "gap_days": 21.0,
        "labelled": 900,
        "parcels": 900,
        "seizures": 30,
        "train_weight_cap": 10.0,
        "weight_cap": 1000.0,
        "source": "train",
        "period": {
            "train": "a",
            "validation": "b",
            "test": "c",
            "gap": "2.5 days, scaled down from 21",
        },
    },
}


def _metrics() -> dict[str, Any]:
    rng = np.random.default_rng(0)
    y = rng.random(500) < 0.1
    report = capacity_report(y, y + rng.random(500)) | {"basis": UNKNOWN_SELECTION}
    return {
        "selection": "unknown",
        "basis": UNKNOWN_SELECTION,
        "slices": {},
        "inspected_only": {"model": report, "rules": report},
    }


def test_the_card_names_the_label_and_the_basis_of_every_figure(tmp_path: Path) -> None:
    (tmp_path / "provenance.json").write_text(
        json.dumps(
            {
                "source": "kcs",
                "attribution": "Jeong et al., MIT",
                "label": "Critical Fraud",
                "label_column": "Critical Fraud",
                "selection": "unknown",
            }
        )
    )
    info = INFO | {"training": INFO["training"] | read_provenance(tmp_path)}
    card = model_card(info, _metrics())
    assert "**Label: Critical Fraud** (source column Critical Fraud)" in card
    assert "not a drug seizure" in card and "not of drugs" in card
    assert "Inspected test items only (selection unknown: no propensity weights)" in card
    assert "unweighted" in card and "inverse selection probability" not in card
    assert "Random control" not in card and "Imported from kcs; Jeong et al., MIT." in card
    assert "gaps of 2.5 days, scaled down from 21" in card
    assert "Trained on imported data" in card and "simulated data until" not in card


def test_a_folder_without_provenance_claims_nothing(tmp_path: Path) -> None:
    assert read_provenance(tmp_path) == {}
