"""Partner-seizure features as model inputs: a real small model trained with partners'
indicators in the store reads them under monotone (+1) constraints, so a parcel whose party
matches a partner's seizure scores higher than the same parcel without the hit, with the
reason in words; a model trained without partners' indicators is exactly as before, and a
parcel whose tokens cannot be had is scored without a hit and says so. The service scores
with it through the real custodians (blinded OPRF), caching tokens per epoch."""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from data_contracts import ParcelDeclaration
from screening import (
    Database,
    DecisionPolicy,
    FeatureSpec,
    History,
    LoadedModel,
    Pseudonymiser,
    ScoringEngine,
)
from screening.exchange import (
    EXCHANGE_FEATURES,
    Custodian,
    ExchangeInputs,
    ExchangeSource,
    FollowUps,
    PartnerIndex,
    PartnerStore,
    QuotaExceeded,
    StoreIndex,
    TokenClient,
    create_custodians,
    deal_epoch,
    seizure_indicators,
)
from serving import Record, Settings
from serving._auth import Caller, Role
from serving._service import Service
from serving.officer._present import explanation_steps
from tests.conftest import KEY, Trained
from tests.serving.conftest import Server, make_settings, parcel, start_server
from training import TrainingRun, run_training

EPOCH = "E1"


class KeyedTokens:
    """Tokens as a keyed hash (the same variant, the same token): the custodians' OPRF is
    tested on its own (test_exchange_tokens); here it would cost minutes of group
    arithmetic for a training set's variants. Counts what it was asked."""

    def __init__(self) -> None:
        self.asked = 0

    def tokens(self, inputs: Sequence[str], epoch: str) -> list[str]:
        self.asked += len(inputs)
        return [
            f"{epoch}:" + hmac.new(b"oprf", t.encode(), hashlib.sha256).hexdigest()[:32]
            for t in inputs
        ]


class Refusing:
    """A tokeniser whose custodians refuse (a quota reached)."""

    def tokens(self, inputs: Sequence[str], epoch: str) -> list[str]:
        if not inputs:
            return []
        raise QuotaExceeded("custodian c1 refused be's request: quota: be may have 0 elements")


@dataclass
class PartnerTrained:
    registry: Path
    run: TrainingRun
    store: PartnerStore
    tokens: KeyedTokens
    declarations: pa.Table
    seized_at_partner: set[str]


@pytest.fixture(scope="module")
def partner_trained(sim_data: Path, tmp_path_factory: pytest.TempPathFactory) -> PartnerTrained:
    """The session's simulated data, trained again with a partner's indicators in the store:
    the partner ("nl") seized the parties of a third of the seizures here and of as many
    parcels found clean (a hit is evidence, not the label), known from the first day."""
    tmp = tmp_path_factory.mktemp("exchange-train")
    table = pq.read_table(sim_data / "declarations.parquet")
    outcomes = pq.read_table(sim_data / "outcomes.parquet").filter(pc.field("inspected"))
    rows = {r["item_id"]: r for r in outcomes.to_pylist()}
    seized = sorted(k for k, r in rows.items() if r["result"] == "seized")
    clean = sorted(k for k, r in rows.items() if r["result"] != "seized")
    rng = np.random.default_rng(7)
    picked = set(rng.choice(seized, len(seized) // 3, replace=False).tolist())
    picked |= set(rng.choice(clean, len(picked), replace=False).tolist())
    decls = [d for d in table.to_pylist() if d["item_id"] in picked]
    tokens = KeyedTokens()
    indicators = seizure_indicators(
        decls,
        {k: {**rows[k], "result": "seized"} for k in picked},
        client=tokens,
        epoch=EPOCH,
        agency="nl",
        ref_key=b"nl-ref-key" * 4,
        reliability="B",
        accuracy="2",
        handling="H1",
        purpose="drug-trafficking-prevention",
        sharing_group="g",
        valid_until="2099-12-31",
    )
    first = pc.min(table.column("posted_at")).as_py() - timedelta(days=1)
    store = PartnerStore(Database(tmp / "record.sqlite"))
    store.add(indicators, "bundle-nl", int(first.timestamp() * 1_000_000))
    source = ExchangeSource(tokens, lambda: [EPOCH], StoreIndex(store))
    run = run_training(sim_data, tmp / "registry", KEY, validate=False, exchange=source)
    return PartnerTrained(tmp / "registry", run, store, tokens, table, picked)


def _engine(model: LoadedModel, source: ExchangeSource | None) -> ScoringEngine:
    return ScoringEngine(
        model, History(), Pseudonymiser(KEY), DecisionPolicy(), b"k" * 32, exchange=source
    )


def test_the_model_reads_the_partner_features_under_monotone_constraints(
    partner_trained: PartnerTrained,
) -> None:
    model = LoadedModel.load(partner_trained.run.bundle)
    assert model.spec.reads_exchange
    assert model.spec.names == [*FeatureSpec().names, *EXCHANGE_FEATURES]
    config = json.loads(partner_trained.run.bundle.joinpath("bundle.json").read_text())
    exchange = config["exchange"]
    assert exchange["features"] == list(EXCHANGE_FEATURES)
    assert exchange["labelled_with_hit"] > 0 and exchange["seizures_with_hit"] > 0
    card = (partner_trained.run.bundle / "model_card.md").read_text()
    assert "partner-seizure features" in card and "monotone (+1)" in card


def test_a_partner_hit_raises_the_score_of_the_same_parcel(
    partner_trained: PartnerTrained,
) -> None:
    model = LoadedModel.load(partner_trained.run.bundle)
    store = partner_trained.store
    with_hits = _engine(
        model, ExchangeSource(partner_trained.tokens, lambda: [EPOCH], StoreIndex(store))
    )
    without = _engine(model, ExchangeSource(partner_trained.tokens, lambda: [EPOCH], PartnerIndex))
    table = partner_trained.declarations
    ids = table.column("item_id").to_pylist()
    hit_rows = [i for i, item in enumerate(ids) if item in partner_trained.seized_at_partner]
    rng = np.random.default_rng(1)
    rows = sorted(rng.choice(hit_rows, min(200, len(hit_rows)), replace=False).tolist())
    sample = table.take(pa.array(rows))
    a = with_hits.score_table(sample, explain="all", record=False)
    b = without.score_table(sample, explain="all", record=False)
    hit = a.features[:, model.spec.names.index("exchange_hit")]
    assert hit.all() and not b.features[:, model.spec.names.index("exchange_hit")].any()
    # the same parcels, the same history: the hit alone moves the score, and only upwards
    assert (a.margin >= b.margin - 1e-6).all()
    assert (a.margin > b.margin + 1e-6).mean() > 0.9
    # the reason in words names the partner, the month and the codes
    sentences = [
        r.sentence for reasons in a.reasons for r in reasons or [] if r.group == "partner_seizures"
    ]
    assert len(sentences) == len(rows)
    assert any(
        s.startswith("The recipient's address matches a seizure reported by partner nl in 2026-")
        and ", reliability B2" in s
        and s.endswith("the model counts this as raising the risk.")
        for s in sentences
    ), sentences[:3]


def test_parcels_without_a_hit_are_ranked_as_by_the_model_without_the_exchange(
    partner_trained: PartnerTrained, trained: Trained
) -> None:
    """The model with the exchange is the model without it (same data, same settings) plus
    trees on the partner features alone: every parcel without a hit moves by one constant
    margin, so their order is exactly the model-without's (issue 21: a joint model ranked
    them otherwise and lost Precision@1% in two bench seeds of five)."""
    with_model = LoadedModel.load(partner_trained.run.bundle)
    without_model = LoadedModel.load(trained.run.bundle)
    source = ExchangeSource(
        partner_trained.tokens, lambda: [EPOCH], StoreIndex(partner_trained.store)
    )
    table = partner_trained.declarations
    rows = np.sort(np.random.default_rng(3).choice(len(table), 600, replace=False))
    sample = table.take(pa.array(rows))
    a = _engine(with_model, source).score_table(sample, explain="none", record=False)
    b = _engine(without_model, None).score_table(sample, explain="none", record=False)
    no_hit = a.features[:, with_model.spec.names.index("exchange_hit")] == 0
    assert 0 < no_hit.sum() < len(rows)
    shift = a.margin[no_hit] - b.margin[no_hit]
    assert np.ptp(shift) < 1e-5
    order = np.argsort(b.margin[no_hit], kind="stable")
    assert (np.diff(a.margin[no_hit][order]) >= 0).all()
    assert (np.diff(a.probability[no_hit][order]) >= 0).all()
    info = json.loads(partner_trained.run.bundle.joinpath("bundle.json").read_text())
    assert info["exchange"]["uplift_rounds"] > 0
    assert (
        info["training"]["best_iteration"]
        == json.loads(trained.run.bundle.joinpath("bundle.json").read_text())["training"][
            "best_iteration"
        ]
    )


def test_partner_inputs_kept_as_columns_score_the_same(partner_trained: PartnerTrained) -> None:
    """A batch run keeps each chunk's partner inputs beside its prepared (pseudonymised)
    frame: the columns hold the features, each hit's fact in words and why a parcel was not
    checked (no token, no clear value), and score exactly as the inputs they came from."""
    model = LoadedModel.load(partner_trained.run.bundle)
    index = StoreIndex(partner_trained.store)
    engine = _engine(model, ExchangeSource(partner_trained.tokens, lambda: [EPOCH], index))
    ids = partner_trained.declarations.column("item_id").to_pylist()
    rows = [i for i, item in enumerate(ids) if item in partner_trained.seized_at_partner][:10]
    sample = partner_trained.declarations.take(pa.array([*rows, 0, 1, 2]))
    frame = engine.frame(sample)
    inputs = engine.exchange_inputs(sample, frame)
    assert inputs is not None
    kept = inputs.to_arrow()
    text = " ".join(str(v) for v in kept.to_pylist())
    assert "E1:" not in text and SEIZED_RECIPIENT["name"] not in text
    for row in sample.column("recipient").to_pylist():
        assert row["name"] not in text and row["street"] not in text
    back = ExchangeInputs.from_arrow(kept)
    a = engine.score_frame(frame, "all", record=False, exchange=inputs)
    b = engine.score_frame(frame, "all", record=False, exchange=back)
    np.testing.assert_array_equal(a.probability, b.probability)
    assert [r.sentence for rs in a.reasons for r in rs or []] == [
        r.sentence for rs in b.reasons for r in rs or []
    ]


def test_batch_screening_scores_partner_hits(
    partner_trained: PartnerTrained, tmp_path: Path
) -> None:
    """``screen`` of a model that reads the partner features: each chunk's inputs are taken
    from its clear parties when it is prepared and kept beside its pseudonymised frame."""
    from serving.batch import BatchConfig, Capacity, EngineSpec, screen, use_exchange

    table = partner_trained.declarations
    ids = table.column("item_id").to_pylist()
    hits = [i for i, item in enumerate(ids) if item in partner_trained.seized_at_partner][:20]
    manifest = table.take(pa.array(sorted({*hits, *range(0, 300)})))
    pq.write_table(manifest, tmp_path / "m.parquet")
    spec = EngineSpec(str(partner_trained.run.bundle), partner_trained.run.version)
    index = StoreIndex(partner_trained.store)
    use_exchange(ExchangeSource(partner_trained.tokens, lambda: [EPOCH], index))
    try:
        config = BatchConfig(
            tmp_path / "m.parquet",
            tmp_path / "out",
            spec,
            Capacity.parse("2%"),
            chunk_rows=100,
            explain_all=True,
            progress_bar=False,
        )
        summary = screen(config)
    finally:
        use_exchange(None)
    assert summary["rows_scored"] == manifest.num_rows
    results = pq.read_table(tmp_path / "out" / "results.parquet").to_pylist()
    partner = {
        r["item_id"]: x["sentence"]
        for r in results
        for x in r["reasons"]
        if x["group"] == "partner_seizures"
    }
    hit_items = {ids[i] for i in hits}
    assert all("matches a seizure reported by partner nl" in partner[i] for i in hit_items)
    assert not any("not checked" in s for s in partner.values())
    plain = [s for s in partner.values() if s.startswith("No seizure reported by a partner")]
    assert len(plain) > manifest.num_rows // 2  # most parcels: checked, no hit


def test_a_recorded_batch_run_keeps_its_partner_hits_for_the_officer(
    partner_trained: PartnerTrained, tmp_path: Path
) -> None:
    """A run recorded in the record database keeps each hit for the officer's partner-hit
    page and logs it (``exchange_match``), in the transaction of its decisions."""
    from serving.batch import BatchConfig, Capacity, EngineSpec, screen, use_exchange

    table = partner_trained.declarations
    ids = table.column("item_id").to_pylist()
    hits = [i for i, item in enumerate(ids) if item in partner_trained.seized_at_partner][:10]
    manifest = table.take(pa.array(sorted({*hits, *range(0, 150)})))
    pq.write_table(manifest, tmp_path / "m.parquet")
    settings = Settings(
        data_dir=tmp_path / "record",
        registry=partner_trained.registry,
        pseudonymisation_key=KEY,
        reload_seconds=0,
    )
    Record(settings).close()  # the record database the run records in (empty here)
    spec = EngineSpec(
        str(partner_trained.run.bundle),
        partner_trained.run.version,
        history=str(settings.state_path),
    )
    use_exchange(
        ExchangeSource(partner_trained.tokens, lambda: [EPOCH], StoreIndex(partner_trained.store))
    )
    try:
        summary = screen(
            BatchConfig(
                tmp_path / "m.parquet",
                tmp_path / "out",
                spec,
                Capacity.parse("2%"),
                chunk_rows=60,
                progress_bar=False,
                record=settings,
            )
        )
    finally:
        use_exchange(None)
    assert summary["recorded"]["decisions_recorded"] == manifest.num_rows
    record = Record(settings)
    try:
        followups = FollowUps(record.db)
        kept = {i for i in manifest.column("item_id").to_pylist() if followups.hits(i)}
        logged = {e["item_id"] for e in record.audit.records("exchange_match")}
    finally:
        record.close()
    assert {ids[i] for i in hits} <= kept  # the parcels seized at the partner, in any chunk
    assert logged == kept  # each parcel kept with a hit is logged, and no other


Screened = tuple[pa.Table, dict[str, list[Any]], list[Any], int, dict[str, list[float]]]
PARTNER = slice(-len(EXCHANGE_FEATURES), None)  # the partner features: a spec's last columns


def _seized_manifest(partner_trained: PartnerTrained, path: Path) -> list[int]:
    """150 parcels and 10 seized at the partner, in row groups of 40; the seized rows."""
    ids = partner_trained.declarations.column("item_id").to_pylist()
    seized = [i for i, item in enumerate(ids) if item in partner_trained.seized_at_partner][:10]
    manifest = partner_trained.declarations.take(pa.array(sorted({*seized, *range(0, 150)})))
    pq.write_table(manifest, path, row_group_size=40)
    return seized


def _screen_recorded(
    partner_trained: PartnerTrained, manifest: Path, folder: Path, **where: Any
) -> Screened:
    """``screen`` of the partner model, recorded in a record database of its own: results,
    the hits kept for the officer and logged (``exchange_match``), tokens asked, and each
    parcel's stored partner features (its result's feature vector, for its explanation)."""
    from serving.batch import BatchConfig, Capacity, EngineSpec, screen, use_exchange

    settings = Settings(
        data_dir=folder / "record",
        registry=partner_trained.registry,
        pseudonymisation_key=KEY,
        reload_seconds=0,
    )
    Record(settings).close()
    spec = EngineSpec(
        str(partner_trained.run.bundle),
        partner_trained.run.version,
        history=str(settings.state_path),
    )
    tokens = KeyedTokens()
    index = StoreIndex(partner_trained.store)
    use_exchange(ExchangeSource(tokens, lambda: [EPOCH], index, cache_key=b"c" * 32))
    try:
        summary = screen(
            BatchConfig(
                manifest,
                folder / "out",
                spec,
                Capacity.parse("2%"),
                chunk_rows=60,
                explain_all=True,
                progress_bar=False,
                record=settings,
                **where,
            )
        )
    finally:
        use_exchange(None)
    items = pq.read_table(manifest, columns=["item_id"]).column("item_id").to_pylist()
    assert summary["recorded"]["decisions_recorded"] == len(items)
    record = Record(settings)
    try:
        followups = FollowUps(record.db)
        kept = {i: followups.recorded(i) for i in items if followups.recorded(i)}
        logged = sorted([e["item_id"], e["detail"]] for e in record.audit.records("exchange_match"))
        stored = {i: _stored(record, i)[PARTNER].tolist() for i in items}
    finally:
        record.close()
    return pq.read_table(folder / "out" / "results.parquet"), kept, logged, tokens.asked, stored


def _stored(record: Record, item: str) -> np.ndarray:
    result = record.state.get_result(item)
    assert result is not None
    return result.features


def _assert_stored_as_scored(service: Service, item: str, scored: np.ndarray) -> None:
    """The stored feature vector of a parcel scored with a partner hit holds the partner
    features it was scored with, and its explanation, as the officer's parcel page draws it
    (``explanation_steps``), ends at the recorded chance and shows the partner hit."""
    stored = service.state.get_result(item)
    assert stored is not None
    assert scored[PARTNER][0] == 1  # exchange_hit: the parcel was scored with a hit
    np.testing.assert_array_equal(stored.features[PARTNER], scored[PARTNER].astype(np.float32))
    explained = service.explanation(item, Caller("test", Role.OFFICER), "t", logged=False)
    assert explained["features"]["exchange_hit"] == 1
    model = service.holder.model_for(explained["model_version"])
    steps = explanation_steps(explained, model.calibration, model.spec)
    assert steps["final"] == pytest.approx(explained["probability"], rel=1e-5, abs=1e-7)
    (partner,) = [s for s in steps["steps"] if s["group"] == "partner_seizures"]
    assert "matches a seizure reported by partner nl" in partner["sentence"]
    assert partner["up"]  # a partner's hit raises the score


def test_a_recorded_batch_run_stores_the_partner_features_it_scored_with(
    partner_trained: PartnerTrained, tmp_path: Path
) -> None:
    """A recorded run stores each parcel's feature vector as it was scored: a parcel seized
    at the partner has its partner features (not 0), so the officer's waterfall of it ends at
    its recorded chance and shows the hit, in whatever chunk it was scored."""
    manifest = tmp_path / "m.parquet"
    seized = _seized_manifest(partner_trained, manifest)
    _, kept, _, _, stored = _screen_recorded(partner_trained, manifest, tmp_path / "local")
    model = LoadedModel.load(partner_trained.run.bundle)
    index = StoreIndex(partner_trained.store)
    engine = _engine(model, ExchangeSource(partner_trained.tokens, lambda: [EPOCH], index))
    table = pq.read_table(manifest)
    scored = engine.score_table(table, explain="none", record=False).features
    items = table.column("item_id").to_pylist()
    hits = [i for i, item in enumerate(items) if item in kept]
    assert len(hits) >= len(seized)  # parcels with a hit, to compare
    for i, item in enumerate(items):  # every parcel's partner features, with a hit or not
        assert stored[item] == scored[i, PARTNER].astype(np.float32).tolist(), item
    settings = Settings(
        data_dir=tmp_path / "local" / "record",
        registry=partner_trained.registry,
        pseudonymisation_key=KEY,
        reload_seconds=0,
    )
    service = Service(settings)
    try:
        for i in hits:
            _assert_stored_as_scored(service, items[i], scored[i])
    finally:
        service.close()


@pytest.mark.slow
def test_a_dask_run_scores_and_records_the_partner_hits_of_a_single_process_run(
    partner_trained: PartnerTrained, tmp_path: Path
) -> None:
    """``screen --dask`` of a model that reads the partner features (issue 21): a worker
    process has no exchange source, so the driver takes each piece's tokens and keeps its
    inputs; the run scores, explains and records the same partner hits as the single-process
    run, and asks the custodians for as many tokens. Pieces of whole row groups (80 rows)
    that are not the single-process chunks (60); worker processes, as ``--dask`` starts
    (worker threads would share the driver's source, and hide the difference)."""
    manifest = tmp_path / "m.parquet"
    seized = _seized_manifest(partner_trained, manifest)
    local = _screen_recorded(partner_trained, manifest, tmp_path / "local")
    dask = _screen_recorded(
        partner_trained,
        manifest,
        tmp_path / "dask",
        dask="local",
        dask_workers=1,
        dask_processes=True,
    )
    ids = partner_trained.declarations.column("item_id").to_pylist()
    assert {ids[i] for i in seized} <= set(local[1])  # hits to compare
    assert dask[0].equals(local[0])  # scores, decisions, reasons (a hit's words among them)
    assert dask[1] == local[1]  # the hits kept for the officer
    assert dask[2] == local[2]  # and logged (exchange_match)
    assert dask[3] == local[3] > 0  # the same token requests, each variant once
    assert dask[4] == local[4]  # the stored partner features (as scored: see the local test)


@pytest.mark.slow
def test_a_dask_run_stopped_before_its_driver_kept_a_piece_resumes_with_it(
    partner_trained: PartnerTrained, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Dask run stopped after its workers prepared their pieces, before the driver kept
    every piece's partner inputs, keeps the missing ones when it resumes (the frames mark
    the pieces prepared, the workers are not asked again): the single-process results."""
    from serving.batch import _dask

    manifest = tmp_path / "m.parquet"
    _seized_manifest(partner_trained, manifest)
    keep = _dask.keep_piece_exchange

    def stopped(*args: Any) -> None:
        if args[3][0] == 1:
            raise RuntimeError("stopped")
        keep(*args)

    monkeypatch.setattr(_dask, "keep_piece_exchange", stopped)
    dask = {"dask": "local", "dask_workers": 1, "dask_processes": False}
    with pytest.raises(RuntimeError, match="stopped"):
        _screen_recorded(partner_trained, manifest, tmp_path / "dask", **dask)
    monkeypatch.setattr(_dask, "keep_piece_exchange", keep)
    resumed = _screen_recorded(partner_trained, manifest, tmp_path / "dask", **dask)
    local = _screen_recorded(partner_trained, manifest, tmp_path / "local")
    assert resumed[0].equals(local[0])
    assert resumed[1:3] == local[1:3]
    assert resumed[4] == local[4]


def test_a_parcel_without_tokens_is_scored_without_a_hit_and_says_so(
    partner_trained: PartnerTrained,
) -> None:
    model = LoadedModel.load(partner_trained.run.bundle)
    store = partner_trained.store
    refused = ExchangeSource(Refusing(), lambda: [EPOCH], StoreIndex(store))
    engine = _engine(model, refused)
    sample = partner_trained.declarations.slice(1000, 5)
    scored = engine.score_table(sample, explain="all", record=False)
    assert not scored.features[:, -len(EXCHANGE_FEATURES) :].any()
    assert refused.counts["unavailable"] == 5
    for reasons in scored.reasons:
        (partner,) = [r for r in reasons or [] if r.group == "partner_seizures"]
        assert "not checked (no exchange token: custodian c1 refused" in partner.sentence


def test_repeat_parties_cost_no_second_custodian_request(
    partner_trained: PartnerTrained,
) -> None:
    model = LoadedModel.load(partner_trained.run.bundle)
    tokens = KeyedTokens()
    source = ExchangeSource(
        tokens, lambda: [EPOCH], StoreIndex(partner_trained.store), cache_key=b"c" * 32
    )
    engine = _engine(model, source)
    sample = partner_trained.declarations.slice(2000, 20)
    first = engine.score_table(sample, explain="none", record=False)
    asked = tokens.asked
    again = engine.score_table(sample, explain="none", record=False)
    assert asked > 0 and tokens.asked == asked  # every variant from the cache
    np.testing.assert_array_equal(first.probability, again.probability)
    # the cache is keyed by a keyed hash of the variant, never the clear value
    cached = b"".join(k for cache in source._cache.values() for k in cache)
    for row in sample.column("recipient").to_pylist():
        assert row["name"].split()[0].lower().encode() not in cached


def test_a_model_without_partner_features_is_unchanged(trained: Trained) -> None:
    """No partners' indicators: no extra column, and a source configured anyway is never
    asked (the service's hot path stays as it was)."""
    model = LoadedModel.load(trained.run.bundle)
    assert model.spec.names == FeatureSpec().names and not model.spec.reads_exchange
    info = json.loads(trained.run.bundle.joinpath("bundle.json").read_text())
    assert "exchange" not in info
    table = pq.read_table(trained.data / "declarations.parquet").slice(0, 50)
    refused = ExchangeSource(Refusing(), lambda: [EPOCH], PartnerIndex)
    plain = _engine(model, None).score_table(table, explain="all", record=False)
    configured = _engine(model, refused).score_table(table, explain="all", record=False)
    np.testing.assert_array_equal(plain.probability, configured.probability)
    assert refused.counts["parcels"] == 0
    assert not any(r.group == "partner_seizures" for rs in plain.reasons for r in rs or [])


# -- the service: the same model, tokens from real custodians ---------------------------------

ALLOWED = {"be": 100_000, "nl": 100_000}


class HeldWhileAsked:
    """A tokeniser that notes, at each request, whether the record database is held (by a
    transaction of the thread asking): another thread cannot take its lock then."""

    def __init__(self, inner: Any, db: Any) -> None:
        self.inner, self.db = inner, db
        self.asked = 0
        self.held: list[bool] = []

    def tokens(self, inputs: Sequence[str], epoch: str) -> list[str]:
        self.asked += len(inputs)
        free: list[bool] = []

        def probe() -> None:
            got = self.db.lock.acquire(blocking=False)
            free.append(bool(got))
            if got:
                self.db.lock.release()

        thread = threading.Thread(target=probe)
        thread.start()
        thread.join()
        self.held.append(not free[0])
        return list(self.inner.tokens(inputs, epoch))


def _custody(folder: Path) -> list[Custodian]:
    create_custodians(folder, ["c1", "c2"], 2, ALLOWED)
    group = [Custodian(folder / name) for name in ("c1", "c2")]
    deal_epoch(group, 2, EPOCH, "2099-12-31")
    return group


def _refused(folder: Path, requester: str) -> int:
    db = sqlite3.connect(folder / "c1" / "requests.sqlite")
    try:
        ((n,),) = db.execute(
            "SELECT COUNT(*) FROM requests WHERE requester = ? AND refused IS NOT NULL",
            (requester,),
        )
    finally:
        db.close()
    return int(n)


def _requests(folder: Path, requester: str) -> int:
    custodian = Custodian(folder / "c1")
    try:
        day = datetime.now(UTC).date().isoformat()
        return custodian.used_today(requester, day)
    finally:
        custodian.close()


@pytest.fixture(scope="module")
def partner_server(
    partner_trained: PartnerTrained, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("exchange-serve")
    for custodian in _custody(tmp / "custody"):
        custodian.close()
    config = tmp / "exchange.json"
    config.write_text(json.dumps({"agency": "be", "custody": "custody", "threshold": 2}))
    settings = make_settings(
        tmp / "state", partner_trained.registry, exchange_config=config, explain="all"
    )
    yield from start_server(settings)


SEIZED_RECIPIENT = {
    "name": "Orla Vennemeer",
    "street": "Kade 17",
    "postcode": "1011 AB",
    "city": "Amsterdam",
    "country": "NL",
}


def _nl_indicator(server: Server, custody: Path) -> None:
    """Partner nl's seizure of a parcel to SEIZED_RECIPIENT, tokens from the custodians,
    imported here before the parcels are posted."""
    group = [Custodian(custody / name) for name in ("c1", "c2")]
    try:
        (indicator,) = seizure_indicators(
            [{"item_id": "RR000000001NL", "sender": None, "recipient": SEIZED_RECIPIENT}],
            {"RR000000001NL": {"recorded_at": datetime(2026, 2, 20, tzinfo=UTC)}},
            client=TokenClient(group, 2, "nl"),
            epoch=EPOCH,
            agency="nl",
            ref_key=b"nl-ref-key" * 4,
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
    known = int(datetime(2026, 3, 1, tzinfo=UTC).timestamp() * 1_000_000)
    PartnerStore(server.service.state_db).add([indicator], "bundle-nl", known)


def test_the_service_scores_a_partner_hit_through_the_custodians(
    partner_server: Server,
) -> None:
    custody = partner_server.settings.exchange_config.parent / "custody"  # type: ignore[union-attr]
    _nl_indicator(partner_server, custody)
    loaded = partner_server.service.holder.loaded
    assert loaded is not None and loaded.engine.exchange is not None
    source = loaded.engine.exchange
    spy = HeldWhileAsked(source.tokeniser, partner_server.service.state_db)
    source.tokeniser = spy
    client = partner_server.client()
    body = parcel(recipient=dict(SEIZED_RECIPIENT))
    r = client.post("/v1/parcels:score", json=body)
    assert r.status_code == 200, r.text
    (partner,) = [x for x in r.json()["reasons"] if x["group"] == "partner_seizures"]
    assert partner["sentence"].startswith(
        "The recipient's address matches a seizure reported by partner nl in 2026-02, "
        "reliability B2"
    )
    # the hit is kept for the officer's partner-hit page and logged, in the scoring commit
    (hit,) = FollowUps(partner_server.service.state_db).hits(body["item_id"])
    assert hit["source"] == "nl" and hit["role"] == "recipient"
    (logged,) = [
        e
        for e in partner_server.service.audit.records("exchange_match")
        if e["item_id"] == body["item_id"]
    ]
    assert logged["request_id"] == r.json()["request_id"] and "nl" in logged["detail"]
    # the explanation asked for later names the same partner, month and codes
    officer = partner_server.client("officer")
    explained = officer.get(f"/v1/parcels/{body['item_id']}/explanation").json()
    (again_words,) = [x for x in explained["reasons"] if x["group"] == "partner_seizures"]
    assert again_words["sentence"].startswith(
        "The recipient's address matches a seizure reported by partner nl in 2026-02, "
        "reliability B2"
    )
    # what is stored is what was scored: the partner features the hit gave, so the officer's
    # waterfall of the stored vector ends at the recorded chance and shows the partner hit
    scored = loaded.engine.score_declarations(
        [ParcelDeclaration.model_validate(body)], explain="none", record=False
    )
    _assert_stored_as_scored(partner_server.service, body["item_id"], scored.features[0])
    asked = _requests(custody, "be")
    assert asked > 0  # blinded elements were evaluated for this service's requester
    # the same parties again: every token from the service's cache, no custodian round trip
    again = client.post("/v1/parcels:score", json=parcel(recipient=dict(SEIZED_RECIPIENT)))
    assert again.status_code == 200 and _requests(custody, "be") == asked
    assert partner_server.service.audit.records("exchange_token_request")
    # the custodians were asked before the scoring transaction, never while it held the store
    assert spy.asked and not any(spy.held)


def test_the_service_scores_without_a_hit_when_the_custodians_refuse(
    partner_server: Server,
) -> None:
    custody = partner_server.settings.exchange_config.parent / "custody"  # type: ignore[union-attr]
    group = [Custodian(custody / name) for name in ("c1", "c2")]
    for custodian in group:
        custodian.allow("be", 0)  # known, and refused: a quota of nothing
        custodian.close()
    try:
        body = parcel(recipient={**SEIZED_RECIPIENT, "name": "Someone Else Entirely"})
        r = partner_server.client().post("/v1/parcels:score", json=body)
        assert r.status_code == 200, r.text
        (partner,) = [x for x in r.json()["reasons"] if x["group"] == "partner_seizures"]
        assert (
            "not checked (no exchange token: custodian c1 refused be's request: quota"
            in (partner["sentence"])
        )
        # the request refused before the transaction is not sent again inside it
        assert _refused(custody, "be") == 1
    finally:
        for name in ("c1", "c2"):
            custodian = Custodian(custody / name)
            custodian.allow("be", ALLOWED["be"])
            custodian.close()
