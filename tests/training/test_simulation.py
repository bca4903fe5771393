"""Guards on the simulator: determinism, the data contract, inspections, realism."""

from __future__ import annotations

import dataclasses
import hashlib
import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import training.simulation as simulation
from data_contracts import (
    CONTRACT_VERSION,
    DECLARATION_CSV_COLUMNS,
    DECLARATION_SCHEMA,
    OUTCOME_SCHEMA,
    InspectionOutcome,
    ParcelDeclaration,
    iter_records,
    validate_records,
)
from training.simulation import SimulationConfig, SimulationResult, simulate, write_simulation
from training.simulation._tables import s10_check_digit

SMALL = SimulationConfig(parcels=20_000, days=40)
MEDIUM = SimulationConfig(parcels=50_000, prevalence=0.005)  # stress setting: enough positives
DEFAULT = SimulationConfig()
VAGUE = {"gift", "samples", "parts", "goods", "present", "merchandise", "accessories", "items"}


@pytest.fixture(scope="module")
def small() -> SimulationResult:
    return simulate(SMALL)


@pytest.fixture(scope="module")
def medium() -> SimulationResult:
    return simulate(MEDIUM)


# --- helpers: ranking metrics used by the realism guards -------------------------------------


def precision_at(score: np.ndarray, y: np.ndarray, share: float, rng: np.random.Generator) -> float:
    """Precision among the top ``share`` of items by ``score``; ties broken at random."""
    k = max(1, math.ceil(share * score.size))
    order = np.lexsort((rng.random(score.size), -score))
    return float(y[order[:k]].mean())


def best_field_precision(
    values: np.ndarray, y: np.ndarray, share: float, rng: np.random.Generator
) -> float:
    """Precision@share of ranking by one field's categories, each scored by its illicit rate.

    Rates are cross-fitted (measured on one half, applied to the other) so that tiny
    categories cannot look perfect by chance; unseen categories get the base rate.
    """
    codes = np.unique(values, return_inverse=True)[1].ravel()
    fold = rng.random(codes.size) < 0.5
    score = np.empty(codes.size)
    for train in (fold, ~fold):
        hits = np.bincount(codes[train], weights=y[train], minlength=codes.max() + 1)
        count = np.bincount(codes[train], minlength=codes.max() + 1)
        rate = np.where(count > 0, hits / np.maximum(count, 1), y[train].mean())
        score[~train] = rate[codes[~train]]
    return precision_at(score, y, share, rng)


def _bins(values: np.ndarray, n_bins: int = 100) -> np.ndarray:
    edges = np.unique(np.nanquantile(values, np.linspace(0, 1, n_bins + 1)))
    return np.where(np.isnan(values), -1, np.searchsorted(edges, values))


def observable_fields(declarations: pa.Table) -> dict[str, np.ndarray]:
    """Each single observable field as categories (continuous ones in 100 quantile bins)."""
    d = declarations

    def col(name: str) -> np.ndarray:
        return np.asarray(pc.fill_null(d.column(name), "none").to_numpy(zero_copy_only=False))

    first = pc.list_element(d.column("lines"), 0)
    flat = pc.list_flatten(d.column("lines"))
    parent = pc.list_parent_indices(d.column("lines")).to_numpy()
    vague_line = np.isin(
        pc.struct_field(flat, "description").to_numpy(zero_copy_only=False), list(VAGUE)
    )
    hs = pc.fill_null(pc.struct_field(first, "hs_code"), "none")
    ids = col("item_id")
    weight = d.column("gross_weight_kg").to_numpy()
    value = d.column("declared_value").to_numpy()
    hour = pc.hour(d.column("posted_at")).to_numpy()
    fields = {
        "category": col("category"),
        "origin_country": col("origin_country"),
        "destination_country": col("destination_country"),
        "currency": col("currency"),
        "origin_post": col("origin_post"),
        "mail_class": np.array([i[0] for i in ids]),
        "service": np.array([i[:2] for i in ids]),
        "hs_chapter": pc.utf8_slice_codeunits(hs, 0, 2).to_numpy(zero_copy_only=False),
        "first_description": pc.struct_field(first, "description").to_numpy(zero_copy_only=False),
        "description_vague": np.bincount(parent, weights=vague_line, minlength=len(d)) > 0,
        "line_count": pc.list_value_length(d.column("lines")).to_numpy(),
        "posting_hour": hour,
        "sender_phone_given": pc.is_valid(pc.struct_field(d.column("sender"), "phone")).to_numpy(
            zero_copy_only=False
        ),
        "sender_street_given": pc.is_valid(pc.struct_field(d.column("sender"), "street")).to_numpy(
            zero_copy_only=False
        ),
        "gross_weight_kg": _bins(weight),
        "declared_value": _bins(value),
        "value_per_gram": _bins(value / np.maximum(weight * 1000, 1e-3)),
        "postal_charges": _bins(d.column("postal_charges").to_numpy(zero_copy_only=False)),
    }
    return {k: np.asarray(v) for k, v in fields.items()}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- public API and determinism --------------------------------------------------------------


def test_all_lists_the_public_names_sorted() -> None:
    public = {n for n in dir(simulation) if not n.startswith("_")} - {"annotations"}
    assert simulation.__all__ == sorted(simulation.__all__)
    assert set(simulation.__all__) == public


def test_config_rejects_bad_values_with_a_precise_message() -> None:
    with pytest.raises(ValueError, match="prevalence must be in"):
        SimulationConfig(prevalence=0.0)


def test_same_seed_gives_byte_identical_files(tmp_path: Path, small: SimulationResult) -> None:
    first = write_simulation(small, tmp_path / "a")
    second = write_simulation(simulate(SMALL), tmp_path / "b")
    assert set(first) == {"declarations", "outcomes", "truth"}
    for name in first:
        assert _sha256(first[name]) == _sha256(second[name]), name


def test_different_seed_gives_different_data(small: SimulationResult) -> None:
    other = simulate(dataclasses.replace(SMALL, seed=SMALL.seed + 1))
    assert not other.declarations.column("item_id").equals(small.declarations.column("item_id"))


def test_csv_copies_are_in_the_contracts_csv_form(tmp_path: Path) -> None:
    result = simulate(SimulationConfig(parcels=2_000, days=10))
    paths = write_simulation(result, tmp_path, csv=True)
    header = paths["declarations_csv"].read_text().split("\n", 1)[0]
    assert header.replace('"', "").split(",") == list(DECLARATION_CSV_COLUMNS)
    for kind, name, rows in [
        ("declaration", "declarations", 2_000),
        ("outcome", "outcomes", result.outcomes.num_rows),
    ]:
        report = validate_records(
            ParcelDeclaration if kind == "declaration" else InspectionOutcome,
            iter_records(paths[f"{name}_csv"], kind),  # type: ignore[arg-type]
        )
        assert (report.records, len(report.valid)) == (rows, rows), report.errors[:3]


@pytest.mark.parametrize("days", [1, 5, 9])  # vendor lifetimes drawn from 10 days up failed
def test_periods_shorter_than_ten_days(days: int) -> None:
    result = simulate(SimulationConfig(parcels=500, days=days))
    assert result.declarations.num_rows == 500


# --- the data contract ------------------------------------------------------------------------


def test_schemas_match_the_contract(small: SimulationResult) -> None:
    assert small.declarations.schema.equals(DECLARATION_SCHEMA)
    assert small.outcomes.schema.equals(OUTCOME_SCHEMA)
    truth = small.truth.schema
    for name, kind in [
        ("item_id", pa.string()),
        ("illicit", pa.bool_()),
        ("oracle_probability", pa.float64()),
        ("substance", pa.string()),
        ("sender_kind", pa.string()),
        ("vendor_id", pa.int64()),
    ]:
        assert truth.field(name).type == kind, name
    assert small.declarations.num_rows == SMALL.parcels == small.truth.num_rows


def test_item_ids_are_valid_unique_s10(small: SimulationResult) -> None:
    ids = small.declarations.column("item_id").to_pylist()
    assert len(set(ids)) == len(ids)
    assert all(
        len(i) == 13 and i[:2].isalpha() and i[:2].isupper() and i[2:11].isdigit() for i in ids
    )
    serial = np.array([int(i[2:10]) for i in ids])
    check = np.array([int(i[10]) for i in ids])
    assert np.array_equal(s10_check_digit(serial), check)
    origin = small.declarations.column("origin_country").to_pylist()
    assert [i[11:] for i in ids] == origin
    assert {i[0] for i in ids} <= set("ERLVCHU")


@pytest.mark.parametrize(
    ("serial", "digit"),
    [
        (10000014, 0),  # weighted sum mod 11 == 1 -> c = 10 -> 0
        (10000002, 5),  # weighted sum mod 11 == 0 -> c = 11 -> 5
        (12345678, 5),  # DOMAIN example RR123456785CH
        (10000001, 7),  # plain case: 8 + 7 = 15, 15 mod 11 = 4, 11 - 4
    ],
)
def test_s10_check_digit_known_values(serial: int, digit: int) -> None:
    assert s10_check_digit(np.array([serial]))[0] == digit


def test_values_are_finite_and_valid(small: SimulationResult) -> None:
    d = small.declarations
    for name in ("gross_weight_kg", "declared_value"):
        values = d.column(name).to_numpy()
        assert np.isfinite(values).all() and (values >= 0).all(), name
    charges = d.column("postal_charges").drop_null().to_numpy()
    assert np.isfinite(charges).all() and (charges >= 0).all()
    flat = pc.list_flatten(d.column("lines"))
    assert pc.min(pc.list_value_length(d.column("lines"))).as_py() >= 1
    assert pc.min(pc.struct_field(flat, "quantity")).as_py() >= 1
    for name in ("net_weight_kg", "value"):
        values = pc.struct_field(flat, name).to_numpy()
        assert np.isfinite(values).all() and (values >= 0).all(), name
    hs = pc.struct_field(flat, "hs_code").drop_null().to_pylist()
    assert all(h.isdigit() and 6 <= len(h) <= 10 for h in hs)
    names = pc.struct_field(d.column("sender"), "name")
    assert pc.min(pc.utf8_length(names)).as_py() > 0
    assert set(d.column("category").unique().to_pylist()) <= {
        "gift",
        "documents",
        "commercial_sample",
        "returned_goods",
        "sale_of_goods",
        "other",
    }
    assert set(d.column("contract_version").unique().to_pylist()) == {CONTRACT_VERSION}
    assert d.column("express").null_count == d.num_rows  # postal items only


def test_lines_mostly_add_up_with_some_noise(small: SimulationResult) -> None:
    d = small.declarations
    parent = pc.list_parent_indices(d.column("lines")).to_numpy()
    flat = pc.list_flatten(d.column("lines"))
    line_value = np.bincount(parent, pc.struct_field(flat, "value").to_numpy(), len(d))
    line_net = np.bincount(parent, pc.struct_field(flat, "net_weight_kg").to_numpy(), len(d))
    value_ok = np.isclose(line_value, d.column("declared_value").to_numpy(), atol=0.05)
    weight_ok = line_net <= d.column("gross_weight_kg").to_numpy() + 1e-9
    assert 0.9 < value_ok.mean() < 0.995
    assert 0.95 < weight_ok.mean() < 1.0


# --- labels, inspections, outcomes ------------------------------------------------------------


@pytest.mark.parametrize("prevalence", [0.0001, 0.0005, 0.005, 0.02])
def test_realised_prevalence_is_close_to_the_parameter(prevalence: float) -> None:
    n = 40_000
    truth = simulate(SimulationConfig(parcels=n, prevalence=prevalence)).truth
    realised = pc.mean(truth.column("illicit").cast(pa.float64())).as_py()
    tolerance = 4 * math.sqrt(prevalence / n) + 0.1 * prevalence
    assert abs(realised - prevalence) < tolerance


def test_outcomes_cover_inspected_items_only(small: SimulationResult) -> None:
    o = small.outcomes
    ids = set(small.declarations.column("item_id").to_pylist())
    inspected = o.column("item_id").to_pylist()
    assert set(inspected) <= ids
    # one row per inspected item, plus the laboratory's correction of a suspected seizure
    assert len(inspected) - len(set(inspected)) < 0.01 * len(inspected)
    assert pc.all(o.column("inspected")).as_py()
    assert abs(len(set(inspected)) / len(ids) - SMALL.inspection_rate) < 0.002
    reasons = o.column("selection_reason").to_numpy(zero_copy_only=False)
    assert set(reasons) <= {"random_control", "rule", "tip_off", "other"}
    assert abs((reasons == "random_control").mean() - SMALL.random_share) < 0.02
    p = o.column("selection_probability").to_numpy(zero_copy_only=False)
    assert ((p > 0) & (p <= 1))[reasons != "tip_off"].all()
    assert (p[reasons == "rule"] < 1).any()
    # a tip-off is chosen knowing the label: no propensity is recorded for it
    assert np.isnan(p[reasons == "tip_off"]).all()


def test_random_control_probability_is_the_days_random_rate(small: SimulationResult) -> None:
    o = small.outcomes.to_pandas()
    p = o.loc[o.selection_reason == "random_control", "selection_probability"]
    expected = SMALL.inspection_rate * SMALL.random_share
    assert p.median() == pytest.approx(expected, rel=0.2)


def test_seizures_match_truth_and_come_after_posting(small: SimulationResult) -> None:
    o = small.outcomes.to_pandas()
    joined = o.merge(small.truth.to_pandas(), on="item_id").merge(
        small.declarations.select(["item_id", "posted_at"]).to_pandas(), on="item_id"
    )
    seized = joined[joined.result == "seized"]
    assert len(seized) > 0 and seized.illicit.any()
    # a seizure of a legitimate item is a suspicion the laboratory corrects to clean later
    last = joined.sort_values("recorded_at").groupby("item_id").tail(1)
    assert (last[~last.illicit].result != "seized").all()
    real = seized[seized.illicit]
    assert real.substance_x.notna().all() and (real.quantity_g_x > 0).all()
    assert (joined.recorded_at > joined.posted_at).all()
    assert ((seized.recorded_at - seized.posted_at).dt.days >= SMALL.seizure_delay_days[0]).all()
    clean = joined[joined.result != "seized"]
    assert clean.substance_x.isna().all()


def test_inspections_miss_some_drugs(medium: SimulationResult) -> None:
    joined = medium.outcomes.to_pandas().merge(medium.truth.to_pandas(), on="item_id")
    illicit = joined[joined.illicit].drop_duplicates("item_id")
    assert 0.7 < (illicit.result == "seized").mean() < 0.95  # sensitivity 0.85, not 1


# --- realism guards ---------------------------------------------------------------------------


def test_oracle_is_informative_but_not_perfect(medium: SimulationResult) -> None:
    y = medium.truth.column("illicit").to_numpy()
    oracle = medium.truth.column("oracle_probability").to_numpy()
    rng = np.random.default_rng(0)
    p1 = precision_at(oracle, y, 0.01, rng)
    assert p1 < 0.95
    assert p1 > 20 * y.mean()


def test_no_single_field_separates_illicit_from_legit(medium: SimulationResult) -> None:
    y = medium.truth.column("illicit").to_numpy().astype(float)
    rng = np.random.default_rng(0)
    oracle = precision_at(medium.truth.column("oracle_probability").to_numpy(), y, 0.01, rng)
    for name, values in observable_fields(medium.declarations).items():
        best = best_field_precision(values, y, 0.01, rng)
        assert best < 0.5 * oracle, (name, best, oracle)


def test_entity_history_carries_signal(medium: SimulationResult) -> None:
    """Illicit items reuse sender names; drop addresses receive under several names."""
    d = medium.declarations.to_pandas()
    truth = medium.truth.to_pandas()
    sender = d.sender.map(lambda s: s["name"])
    recipient = d.recipient.map(lambda r: r["name"])
    address = d.recipient.map(lambda r: f"{r['street']}|{r['postcode']}|{r['country']}")
    names_per_address = recipient.groupby(address).transform("nunique")
    y = truth.illicit.to_numpy()
    repeat = sender.map(sender.value_counts()) > 1
    assert repeat[y].mean() > 0.5
    many_names = (names_per_address >= 3).to_numpy()
    assert y[many_names].mean() > 5 * y.mean()
    assert y[many_names].mean() < 0.5
    kinds = set(truth.sender_kind)
    assert {"merchant", "private", "vendor", "vendor_stolen_identity"} <= kinds


def test_drug_mix_follows_domain_shares(medium: SimulationResult) -> None:
    truth = medium.truth.to_pandas()
    mix = truth.loc[truth.illicit, "substance"].value_counts(normalize=True)
    assert {"cannabis", "prescription", "stimulants", "ecstasy", "psychedelics"} <= set(mix.index)
    assert 0.15 < mix["cannabis"] < 0.5


def test_postcodes_fill_a_flow_of_millions_in_one_array() -> None:
    """At 5M rows pyarrow converts a pattern's fill in pieces (a ChunkedArray), which
    ``replace_with_mask`` refused: ``bench batch``'s 5M-row simulation stopped there."""
    from training.simulation._names import pattern_fill, postcodes

    rng = np.random.default_rng(1)
    assert isinstance(pattern_fill(rng, "#####", 5_000_000), pa.Array)
    country = np.zeros(5_000_000, dtype=np.int64)  # one country with a postcode format
    out = postcodes(rng, country)
    assert len(out) == 5_000_000 and out.null_count == 0
