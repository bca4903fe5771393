"""``python -m bench exchange``: what sharing seizures between three authorities adds at one.

Per seed: three authorities (NL, BE, DE) over 26 weeks that share vendors and drops
(``training.simulation._agencies``); NL and DE export their seizures weekly as indicators
(tokens through the 2HashDH OPRF, one epoch), BE matches its parcels point-in-time. At BE,
two models on the same rows, one with and one without the exchange features (the product's
feature matrix of a model that reads them, ``FeatureSpec.with_exchange``, and its design: a
base model without them, then trees on them alone under +1 constraints, so a hit can only
raise a score and parcels without a hit keep the base's order; ``training._uplift``),
tested on the last 13 weeks against the truth and retrained every 4 weeks on the labels
known by then (prequential): ``selective``, BE's own inspections as recorded (with the
exchange, officers also open partner hits as tip-offs, so their outcomes are labels too);
``full``, every parcel's truth 14 days after posting.
Figures: Precision@1% overall and on parcels whose sender or recipient address is new to BE
but was seized at a partner before posting; token matching's recall for parties with one
typo and false match rate.

``--scoring``: what the partner-seizure features cost the scoring engine per parcel, one
parcel per call (``scoring_cost``), a model without them (with and without an exchange source
configured) beside one that reads them, tokens from two real custodians cold and cached.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import xgboost

from screening import (
    HISTORY_FEATURES,
    KnownOutcome,
    Pseudonymiser,
    feature_matrix,
    fit_feature_spec,
    frame_from_table,
    normalise,
    replay,
)
from screening.exchange import (
    DirectTokens,
    PartnerIndex,
    exchange_matrix,
    match_supported,
    opaque_ref,
    party_tokens,
    party_variants,
    random_scalar,
    seizure_indicators,
)
from training import add_partner_uplift
from training.simulation import AgenciesConfig, SimulationConfig, simulate, simulate_agencies
from training.simulation._agencies import with_typo

KEY = "bench-exchange-key-0123456789"
DAY_US = 86_400_000_000
EPOCH = "E"


@dataclass
class Seizures:
    declarations: list[dict[str, Any]]
    outcomes: dict[str, dict[str, Any]]


def _seizures(result: Any) -> Seizures:
    """Items whose last recorded outcome is a seizure (a lab's correction wins)."""
    last: dict[str, dict[str, Any]] = {}
    for row in result.outcomes.to_pylist():
        last[row["item_id"]] = row
    seized = {k: v for k, v in last.items() if v["result"] == "seized"}
    decls = [d for d in result.declarations.to_pylist() if d["item_id"] in seized]
    return Seizures(decls, seized)


def _partner_index(
    partners: dict[str, Any], client: DirectTokens, lag_days: float
) -> tuple[PartnerIndex, list[tuple[int, dict[str, str]]]]:
    """Partners' weekly exports: each seizure usable from the export after it was recorded."""
    index = PartnerIndex()
    seized_parties: list[tuple[int, dict[str, str]]] = []
    for code, result in partners.items():
        s = _seizures(result)
        ref_key = code.encode() * 8
        by_ref = {opaque_ref(code.lower(), d["item_id"], ref_key): d for d in s.declarations}
        for ind in seizure_indicators(
            s.declarations,
            s.outcomes,
            client=client,
            epoch=EPOCH,
            agency=code.lower(),
            ref_key=ref_key,
            reliability="B",
            accuracy="2",
            handling="H1",
            purpose="drug-trafficking-prevention",
            sharing_group="bench",
            valid_until="2099-12-31",
        ):
            decl = by_ref[ind.ref]
            recorded = s.outcomes[decl["item_id"]]["recorded_at"]
            known = recorded + timedelta(days=lag_days)
            known_us = int(known.timestamp() * 1_000_000)
            index.add(ind, known_us)
            for role in ("sender", "recipient"):
                seized_parties.append((known_us, party_variants(role, decl[role])))
    return index, seized_parties


def _precision_at(score: np.ndarray, truth: np.ndarray, fraction: float) -> float:
    k = max(1, int(round(len(score) * fraction)))
    top = np.argsort(-score, kind="stable")[:k]
    return float(truth[top].mean()) if len(top) else float("nan")


def _params(seed: int) -> dict[str, Any]:
    return {
        "objective": "binary:logistic",
        "max_depth": 4,
        "eta": 0.1,
        "subsample": 0.9,
        "min_child_weight": 1.0,
        "seed": seed,
        "nthread": 2,
        "eval_metric": "logloss",
    }


def _fit(x: np.ndarray, y: np.ndarray, seed: int) -> xgboost.Booster:
    return xgboost.train(_params(seed), xgboost.DMatrix(x, label=y), num_boost_round=200)


def _with_uplift(
    base: xgboost.Booster, x: np.ndarray, y: np.ndarray, posted: np.ndarray, seed: int
) -> tuple[xgboost.Booster, int]:
    """The product's model with the exchange (``training._uplift``): ``base`` (no partner
    column) and trees on the partner columns alone, +1 each, stopped early on the latest
    quarter of the labelled rows (the product stops on its validation period)."""
    late = posted >= np.quantile(posted, 0.75)
    ones = np.ones(len(y), dtype=np.float32)
    booster, rounds, _ = add_partner_uplift(
        base,
        _params(seed),
        (x[~late], y[~late], ones[~late]),
        (x[late], y[late], ones[late]),
        200,
        20,
    )
    return booster, rounds


def _matching(
    base: SimulationConfig, client: DirectTokens, rng: np.random.Generator, n: int = 3000
) -> dict[str, float]:
    """Token matching on one authority's own flow (before sharing and typos), parties told
    apart by the simulator's party IDs, a match being what the partner hits require (shared
    tokens that :func:`match_supported` accepts): recall of a party declared with one typo;
    false match rate, the share of parties that match a different party that has neither the
    same name nor the same address (members of one household at one address are not false);
    shared token rate, the share of parties that share any token with another."""
    sim = simulate(replace(base, authority="BE"))
    parties: dict[tuple[str, int], dict[str, Any]] = {}
    for d, t in zip(sim.declarations.to_pylist(), sim.truth.to_pylist(), strict=True):
        for role in ("sender", "recipient"):
            parties.setdefault((role, int(t[f"{role}_party"])), d[role])
    keys = sorted(parties)
    variants = {k: party_variants(k[0], parties[k]) for k in keys}

    def toks(role: str, party: dict[str, Any]) -> list[tuple[str, str]]:
        (found,) = party_tokens(client, [{role: party}], EPOCH)
        return [(t["token"], t["kind"]) for t in found]

    def matches(a: list[tuple[str, str]], b: list[tuple[str, str]]) -> bool:
        kinds: dict[str, list[str]] = {}
        for token, kind in b:
            kinds.setdefault(token, []).append(kind)
        return match_supported((ka, kb) for token, ka in a for kb in kinds.get(token, ()))

    picked = [keys[i] for i in rng.choice(len(keys), min(n, len(keys)), replace=False)]
    picked = [k for k in picked if variants[k]]
    hit = sum(
        matches(toks(k[0], parties[k]), toks(k[0], with_typo(parties[k], rng))) for k in picked
    )
    holders: dict[str, list[tuple[tuple[str, int], str]]] = {}
    for k in keys:
        for t, kind in toks(k[0], parties[k]):
            holders.setdefault(t, []).append((k, kind))
    pairs: dict[tuple[tuple[str, int], tuple[str, int]], list[tuple[str, str]]] = {}
    for group in holders.values():
        for a, ka in group:
            for b, kb in group:
                if a != b:
                    pairs.setdefault((a, b), []).append((ka, kb))

    def same(a: tuple[str, int], b: tuple[str, int]) -> bool:
        """The same name (words, country, postcode); or the same address (house number,
        street, country; postcodes equal where both have one); or the same name at the same
        address and city, postcodes aside (one person with a mistyped postcode looks so)."""
        va, vb = variants[a], variants[b]
        if "name" in va and va.get("name") == vb.get("name"):
            return True
        pa_, pb_ = parties[a], parties[b]
        if _address(pa_) is None or _address(pa_) != _address(pb_):
            return False
        if not pa_.get("postcode") or not pb_.get("postcode"):
            return True
        if normalise(pa_["postcode"]) == normalise(pb_["postcode"]):
            return True
        return normalise(pa_.get("name")) == normalise(pb_.get("name")) and normalise(
            pa_.get("city")
        ) == normalise(pb_.get("city"))

    false = {a for (a, b), kinds in pairs.items() if match_supported(kinds) and not same(a, b)}
    shared = {a for a, _ in pairs}
    return {
        "recall": hit / max(len(picked), 1),
        "false_match_rate": len(false) / len(keys),
        "shared_token_rate": len(shared) / len(keys),
        "parties": float(len(keys)),
    }


def _address(party: dict[str, Any]) -> tuple[str, str] | None:
    words = normalise(party.get("street")).split()
    numbers = [w for w in words if any(c.isdigit() for c in w)]
    if not numbers:
        return None
    return numbers[0], normalise(party.get("country")) + " " + " ".join(
        w for w in words if w not in numbers
    )


def one_seed(
    seed: int, parcels_per_week: int, prevalence: float, weeks: int = 26, lag_days: float = 7.0
) -> dict[str, Any]:
    base = SimulationConfig(
        parcels=parcels_per_week * weeks, days=7 * weeks, seed=seed, prevalence=prevalence
    )
    flows = simulate_agencies(AgenciesConfig(base))
    client = DirectTokens({EPOCH: random_scalar()})
    index, seized_parties = _partner_index({"NL": flows["NL"], "DE": flows["DE"]}, client, lag_days)
    be = flows["BE"]
    order = pc.sort_indices(be.declarations, [("posted_at", "ascending"), ("item_id", "ascending")])
    table, truth = be.declarations.take(order), be.truth.take(order)
    frame = frame_from_table(table, Pseudonymiser(KEY))
    posted = np.asarray(frame.posted_us, dtype=np.int64)
    outcomes = be.outcomes.to_pylist()
    known = [
        KnownOutcome(
            o["item_id"],
            int(o["recorded_at"].timestamp() * 1e6),
            o["result"] == "seized",
            o["result"] != "seized",
        )
        for o in outcomes
        if o["inspected"]
    ]
    history = replay(frame, known)
    cut = int(posted.min()) + (weeks // 2) * 7 * DAY_US
    train = posted < cut
    spec = fit_feature_spec(frame_from_table(table.slice(0, int(train.sum())), Pseudonymiser(KEY)))
    x_base = feature_matrix(frame, history, spec).astype(np.float64)
    rows = table.to_pylist()
    tokens = [
        [(t["token"], t["kind"]) for t in found] for found in party_tokens(client, rows, EPOCH)
    ]
    x_ex, hits = exchange_matrix(index, tokens, posted)
    # labels BE's own inspections recorded before the cut (the last record of an item wins)
    label: dict[str, bool] = {}
    for o in outcomes:
        if o["inspected"] and o["recorded_at"].timestamp() * 1e6 < cut:
            label[o["item_id"]] = o["result"] == "seized"
    items = frame.item_id.tolist()
    labelled = np.array([train[i] and items[i] in label for i in range(len(items))])
    y = np.array([float(label.get(items[i], False)) for i in range(len(items))])
    illicit = truth.column("illicit").to_numpy(zero_copy_only=False).astype(float)
    test = ~train
    out: dict[str, Any] = {
        "seed": seed,
        "parcels_at_BE": len(items),
        "train_labels": int(labelled.sum()),
        "train_seizures": int(y[labelled].sum()),
        "partner_indicators": len({h for t in tokens for h, _ in t} & set(index._by_token)),
        "test_hits": int(sum(bool(h) for h, t in zip(hits, test, strict=True) if t)),
    }
    # the subset: sender or recipient address new to BE, seized at a partner before posting
    names = list(HISTORY_FEATURES)
    new_sender = history[:, names.index("sender_prev_parcels")] == 0
    new_address = history[:, names.index("recipient_address_prev_parcels")] == 0
    seized_at = _seized_lookup(seized_parties)
    linked = np.array([_linked(rows[i], int(posted[i]), seized_at) for i in range(len(rows))])
    sub = ((new_sender | new_address) & linked)[test]
    out["subset_parcels"] = int(sub.sum())
    out["subset_illicit"] = int(illicit[test][sub].sum())
    k = max(1, int(round(int(test.sum()) * 0.01)))
    n = len(items)
    index_of = {item: i for i, item in enumerate(items)}
    own_known, own_y = np.full(n, np.inf), np.zeros(n)
    for o in outcomes:  # BE's inspections as recorded (the last record of an item wins)
        if o["inspected"]:
            i = index_of[o["item_id"]]
            own_known[i] = o["recorded_at"].timestamp() * 1e6
            own_y[i] = float(o["result"] == "seized")
    # With the exchange, officers also open parcels with a partner hit (as a tip-off): drugs
    # found with the simulator's sensitivity, known 14 days after posting.
    rng = np.random.default_rng(seed + 5)
    hit = x_ex[:, 0] > 0
    later = posted + 14 * DAY_US
    hit_known = np.where(hit & ~np.isfinite(own_known), later, own_known)
    hit_y = np.where(
        np.isfinite(own_known), own_y, (illicit > 0) & (rng.random(n) < base.inspection_sensitivity)
    )
    lanes = {
        ("selective", "without"): (own_known, own_y),
        ("selective", "with"): (hit_known, hit_y),
        ("full", "without"): (later, illicit),
        ("full", "with"): (later, illicit),
    }
    # The product's model with the exchange (issue 21's uplift, ``training._uplift``): the
    # spec that reads the partner-seizure features after the others (as `parcelscreen train`
    # makes it); a base model without them, trained on the lane's labels, then trees on the
    # partner columns alone, +1 each. "with, own base": the base trained on BE's own labels
    # only (the model without the exchange, exactly), the uplift on every label of the lane
    # (partner hits opened as tip-offs too).
    lanes[("selective", "with, own base")] = lanes[("selective", "with")]
    spec_with = spec.with_exchange()
    x_with = feature_matrix(frame, history, spec_with, x_ex).astype(np.float64)
    starts = list(range(cut, int(posted.max()) + 1, 4 * 7 * DAY_US))  # retrain every 4 weeks
    out["train_hits_at_last_retrain"] = int((hit & (later < starts[-1])).sum())
    bases: dict[tuple[str, int], xgboost.Booster] = {}  # the models without, for the variant
    for (lane, name), (when, labels) in lanes.items():
        score = np.zeros(n)
        rounds = []
        for j, start in enumerate(starts):
            end = starts[j + 1] if j + 1 < len(starts) else np.iinfo(np.int64).max
            block = (posted >= start) & (posted < end)
            fit_rows = when < start  # only labels known by the retraining day
            y_fit = labels[fit_rows].astype(np.float32)
            if name == "with, own base":
                base_model = bases[(lane, j)]
            else:
                base_model = _fit(x_base[fit_rows], y_fit, seed)
            if name == "without":
                bases[(lane, j)] = base_model
                score[block] = base_model.predict(xgboost.DMatrix(x_base[block]))
                continue
            booster, added = _with_uplift(
                base_model, x_with[fit_rows], y_fit, posted[fit_rows], seed
            )
            rounds.append(added)
            score[block] = booster.predict(xgboost.DMatrix(x_with[block]))
        score = score[test]
        key = f"{lane} {name}"
        if rounds:
            out[f"{key} uplift trees"] = rounds
        out[f"{key} P@1%"] = _precision_at(score, illicit[test], 0.01)
        top = np.zeros(len(score), bool)
        top[np.argsort(-score, kind="stable")[:k]] = True
        flagged = top & sub  # subset parcels within BE's 1% capacity
        out[f"{key} subset flagged"] = int(flagged.sum())
        out[f"{key} subset caught"] = int(illicit[test][flagged].sum())
        out[f"{key} subset P@1%"] = (
            float(illicit[test][flagged].mean()) if flagged.any() else float("nan")
        )
    out.update(_matching(base, client, np.random.default_rng(seed)))
    return out


def _seized_lookup(seized: list[tuple[int, dict[str, str]]]) -> dict[str, int]:
    """Variant text -> earliest time a partner's seizure with it was shared (ground truth on
    exact variants, independent of the tokens)."""
    first: dict[str, int] = {}
    for known_us, variants in seized:
        for kind in ("name", "address"):
            if kind in variants:
                text = variants[kind]
                first[text] = min(first.get(text, known_us), known_us)
    return first


def _linked(row: dict[str, Any], at_us: int, seized_at: dict[str, int]) -> bool:
    for role in ("sender", "recipient"):
        for kind, text in party_variants(role, row[role]).items():
            if kind in ("name", "address") and seized_at.get(text, at_us + 1) <= at_us:
                return True
    return False


def _spread(values: list[float]) -> str:
    v = [x for x in values if x == x]
    if not v:
        return "n/a"
    return f"{min(v):.3f} / {statistics.median(v):.3f} / {max(v):.3f}"


def run(
    seeds: str = "1,2,3,4,5", parcels_per_week: int = 3000, prevalence: float = 0.005
) -> list[dict[str, Any]]:
    per_seed = []
    for seed in (int(s) for s in str(seeds).split(",")):
        per_seed.append(one_seed(seed, parcels_per_week, prevalence))
        print(json.dumps(per_seed[-1]), file=sys.stderr, flush=True)
    rows: list[dict[str, Any]] = []
    for lane in ("selective", "full"):
        for figure, suffix in (
            ("P@1% among parcels new to BE seized at a partner (within BE's 1%)", "subset P@1%"),
            ("seized-at-partner parcels caught in BE's 1%", "subset caught"),
            ("P@1%, all parcels", "P@1%"),
        ):
            o = [float(s[f"{lane} with {suffix}"]) for s in per_seed]
            b = [float(s[f"{lane} without {suffix}"]) for s in per_seed]
            ratios = [x / y for x, y in zip(o, b, strict=True) if y and x == x and y == y]
            rows.append(
                {
                    "figure": f"BE {figure}, {lane} labels (min / median / max, seeds {seeds})",
                    "ours": _spread(o),
                    "baseline": _spread(b),
                    "unit": "with / without exchange",
                    "ratio": _spread(ratios) + "x" if ratios else "n/a",
                }
            )
    for key in (
        "recall",
        "false_match_rate",
        "shared_token_rate",
        "subset_parcels",
        "subset_illicit",
        "test_hits",
        "train_seizures",
    ):
        rows.append(
            {
                "figure": f"{key} (min / median / max)",
                "ours": _spread([float(s[key]) for s in per_seed]),
                "baseline": None,
                "unit": "",
            }
        )
    rows.append({"figure": "per seed", "ours": per_seed, "baseline": None, "unit": "json"})
    return rows


class _KeyedTokens:
    """Training tokens as a keyed hash (the OPRF's group arithmetic would cost minutes for a
    training set; the scoring below goes through the real custodians)."""

    def tokens(self, inputs: Sequence[str], epoch: str) -> list[str]:
        return [
            f"{epoch}:" + hmac.new(b"bench", t.encode(), hashlib.sha256).hexdigest()[:32]
            for t in inputs
        ]


def scoring_cost(parcels: int = 30_000, calls: int = 400) -> list[dict[str, Any]]:
    """The engine scoring one parcel per call (the service's hot path, record off), in
    microseconds per parcel: a model without the partner-seizure features with no exchange
    source (baseline) and with one configured (ours: it must not be asked); a model that
    reads them, its parties' tokens from two real custodians, cache cold and warm."""
    from data_contracts import ParcelDeclaration
    from screening import DecisionPolicy, History, LoadedModel, ScoringEngine
    from screening.exchange import (
        Custodian,
        ExchangeSource,
        TokenClient,
        create_custodians,
        deal_epoch,
    )
    from training import run_training
    from training.simulation import write_simulation

    tmp = Path(tempfile.mkdtemp(prefix="bench-exchange-"))
    config = SimulationConfig(
        parcels=parcels, days=90, inspection_rate=0.3, random_share=0.3, seed=3, prevalence=0.01
    )
    write_simulation(simulate(config), tmp / "sim")
    plain = LoadedModel.load(run_training(tmp / "sim", tmp / "r1", KEY, validate=False).bundle)
    keyed = ExchangeSource(_KeyedTokens(), lambda: [EPOCH], PartnerIndex)
    with_ex = LoadedModel.load(
        run_training(tmp / "sim", tmp / "r2", KEY, validate=False, exchange=keyed).bundle
    )
    create_custodians(tmp / "custody", ["c1", "c2"], 2, {"be": 10**8})
    group = [Custodian(tmp / "custody" / name) for name in ("c1", "c2")]
    deal_epoch(group, 2, EPOCH, "2099-12-31")
    rows = pq.read_table(tmp / "sim" / "declarations.parquet").slice(0, calls).to_pylist()
    decls = [ParcelDeclaration.model_validate(r) for r in rows]

    def source() -> ExchangeSource:
        return ExchangeSource(TokenClient(group, 2, "be"), lambda: [EPOCH], PartnerIndex, b"c" * 32)

    def engine(model: LoadedModel, src: ExchangeSource | None) -> ScoringEngine:
        policy = DecisionPolicy()
        return ScoringEngine(model, History(), Pseudonymiser(KEY), policy, b"k" * 32, src)

    def per_parcel(e: ScoringEngine) -> float:
        started = time.perf_counter()
        for d in decls:
            e.score_declarations([d], explain="none", record=False)
        return (time.perf_counter() - started) / len(decls) * 1e6

    per_parcel(engine(plain, None))  # warm
    configured = source()
    base, ours = per_parcel(engine(plain, None)), per_parcel(engine(plain, configured))
    cached = source()
    scorer = engine(with_ex, cached)
    cold = per_parcel(scorer)
    warm = per_parcel(scorer)
    asked = cached.counts["asked"]
    return [
        {
            "figure": "model without partner features, one parcel per call: source "
            "configured against none",
            "ours": round(ours),
            "baseline": round(base),
            "unit": "us/parcel",
            "asked": configured.counts["parcels"],
        },
        {
            "figure": "model with partner features, tokens cached, against the model without",
            "ours": round(warm),
            "baseline": round(base),
            "unit": "us/parcel",
        },
        {
            "figure": "model with partner features, tokens not cached (2 custodians), against "
            "cached",
            "ours": round(cold),
            "baseline": round(warm),
            "unit": "us/parcel",
            "elements_asked": asked,
        },
    ]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.exchange", description=__doc__)
    p.add_argument("--seeds", default="1,2,3,4,5")
    p.add_argument("--parcels-per-week", type=int, default=3000)
    p.add_argument("--prevalence", type=float, default=0.005)
    p.add_argument(
        "--scoring",
        action="store_true",
        help="only the scoring cost of partner-seizure features (scoring_cost)",
    )
    a = p.parse_args(argv)
    rows = scoring_cost() if a.scoring else run(a.seeds, a.parcels_per_week, a.prevalence)
    for row in rows:
        print(json.dumps(row, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
