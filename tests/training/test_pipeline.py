import shutil
from pathlib import Path

import numpy as np
import pytest
import xgboost

from screening import REQUIRED_FILES, BundleError, LoadedModel, ModelRegistry, verify_bundle
from tests.conftest import Trained


def test_bundle_is_complete_and_registered(trained: Trained) -> None:
    manifest = verify_bundle(trained.run.bundle)
    assert set(REQUIRED_FILES) <= set(manifest["files"])
    registry = ModelRegistry(trained.registry)
    assert registry.resolve("champion") == trained.run.version
    card = (trained.run.bundle / "model_card.md").read_text()
    for heading in ("Intended use", "Out-of-scope use", "Data", "Metrics", "Caveats"):
        assert f"## {heading}" in card
    random = trained.run.metrics["random_control"]["model"]
    assert (
        f"Sample: {random['n']} test parcels selected at random, {random['positives']} "
        "of them seized."
    ) in card


def test_the_card_warns_when_the_random_sample_is_thin() -> None:
    from training._card import _sample_size

    assert "Too few seizures" in _sample_size({"n": 77, "positives": 1})
    assert "Too few" not in _sample_size({"n": 9000, "positives": 40})


def test_metrics_cover_capacities_slices_and_oracle(trained: Trained) -> None:
    metrics = trained.run.metrics
    truth = metrics["truth"]
    for n in ("1%", "2%", "5%", "10%"):
        assert 0 <= truth["model"][f"precision@{n}"] <= 1
        assert f"recall@{n}" in metrics["random_control"]["model"] or (
            "skipped" in metrics["random_control"]["model"]
        )
        assert truth["model_to_oracle"][n] > 0
    assert set(truth["slices"]) == {"origin_country", "mail_class"}
    assert truth["calibration_error"] < 0.05
    # the model must beat the rules baseline at 1% on the same parcels
    assert truth["model"]["precision@1%"] > truth["rules"]["precision@1%"]


def test_onnx_margin_matches_booster_with_nan_rows(trained: Trained) -> None:
    model = LoadedModel.load(trained.run.bundle)
    rng = np.random.default_rng(0)
    reference = model.reference["features"]
    rows = np.array(
        [
            [rng.choice(reference[n]["edges"] or [0.0]) for n in model.spec.names]
            for _ in range(200)
        ],
        dtype=np.float32,
    )
    rows[::3, ::2] = np.nan
    rows[-1, :] = np.nan
    expected = model.booster.predict(xgboost.DMatrix(rows, missing=np.nan), output_margin=True)
    assert np.max(np.abs(model.margin(rows) - expected)) <= 1e-4


def test_tampered_bundle_is_refused(trained: Trained, tmp_path: Path) -> None:
    copy = tmp_path / "bundle"
    shutil.copytree(trained.run.bundle, copy)
    with (copy / "calibration.json").open("a") as handle:
        handle.write(" ")
    with pytest.raises(BundleError, match="calibration.json"):
        LoadedModel.load(copy)


def test_incomplete_bundle_is_refused(trained: Trained, tmp_path: Path) -> None:
    copy = tmp_path / "bundle"
    shutil.copytree(trained.run.bundle, copy)
    (copy / "booster.ubj").unlink()
    with pytest.raises(BundleError, match="booster.ubj"):
        LoadedModel.load(copy)


def test_thresholds_select_the_capacity_on_validation(trained: Trained) -> None:
    model = LoadedModel.load(trained.run.bundle)
    t = model.thresholds
    shares = sorted(float(k) for k in t)
    assert [t[f"{s:g}"] for s in shares] == sorted((t[f"{s:g}"] for s in shares), reverse=True)


def test_truth_file_is_not_read_without_flag(trained: Trained) -> None:
    """The pipeline's own data loader never opens truth.parquet (only evaluation does)."""
    import training._dataset as dataset

    source = Path(dataset.__file__).read_text()
    assert "truth" not in source.replace("truth file", "")


def test_tip_offs_train_the_trees_but_not_the_calibration(tmp_path: Path) -> None:
    from dataclasses import replace

    from screening import Pseudonymiser, fit_platt
    from tests.conftest import KEY, SMALL_DATA
    from training import TrainConfig, load_dataset, train_model
    from training._train import predict_margin
    from training.simulation import simulate, write_simulation

    write_simulation(simulate(replace(SMALL_DATA, tip_off_rate=0.3)), tmp_path)
    data = load_dataset(
        tmp_path / "declarations.parquet",
        tmp_path / "outcomes.parquet",
        Pseudonymiser(KEY),
        validate=False,
    )
    result = train_model(data, TrainConfig(rounds=60, early_stopping=20), lambda _m: None)
    split = result.split
    labelled = split.validation & data.inspected & (data.known_us < split.validation_cutoff_us)
    tipped = labelled & (data.selection_reason == "tip_off")
    assert data.seized[tipped].any()  # the data hold tip-offs that would count

    def platt(rows: np.ndarray) -> tuple[float, float]:
        fitted = fit_platt(
            predict_margin(result.booster, result.matrix[rows]),
            data.seized[rows],
            result.weights[rows],
        )
        return fitted.slope, fitted.intercept

    ours = (result.calibration.slope, result.calibration.intercept)
    assert ours == pytest.approx(platt(labelled & ~tipped))
    assert ours != pytest.approx(platt(labelled))
    from training import evaluate

    weighted = evaluate(result, data, None)["inspected_ipw"]["model"]
    test = split.test & data.inspected
    assert weighted["n"] == int((test & (data.selection_reason != "tip_off")).sum())
    assert (test & (data.selection_reason == "tip_off")).any()  # so the count tells
