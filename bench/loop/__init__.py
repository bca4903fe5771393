"""``python -m bench loop``: the inspection loop under selective labels, week after week.

Each seed simulates ``weeks`` of third-country inbound mail once; four policies then inspect
the same flows within the same capacity (a share of each day's flow):

- **oracle**: the top of the day by the simulator's own probability (an upper bound);
- **ours**: the product's policy: screening's :class:`DecisionPolicy` draws its random control
  (keyed uniform draws, exact propensities) and the model ranks the rest; the model is
  retrained every week on what has been learnt so far (only the parcels ours inspected, with
  their outcomes once recorded), with entity history replayed from ours's own outcomes; until
  enough seizures are known, the rules rank instead;
  ``--band-share`` (off by default) moves part of ours' exploration to the parcels ranked just
  below the model's picks (a fixed number a day, each drawn with probability exactly drawn /
  band size, weighted by its inverse); ``--draw-salt`` gives ours other keyed draws, to see how
  far a seed moves by chance; ``--priors`` (off by default) gives the learner empirical-Bayes
  seizure rates of categories (origin, post office, HS chapter and their crosses, the cover
  description; ``_priors``), out of fold for its training rows; ``--rules-input`` (off) gives
  it the rule score as one more input; ``--min-seizures`` sets the known seizures before the
  model replaces the rules;
- **rules**: the top of the day by ``screening.rule_score``;
- **random**: a uniform sample of the day.

An inspection of an illicit parcel finds the drugs with the simulator's sensitivity; the outcome
is recorded after transit and the laboratory's delay. Nature's draws are made once per parcel, so
every policy that opens a parcel finds the same thing. The adversaries (vendors, buyers) react
to the seizures of the simulator's own customs, the same for every policy: the flows are equal.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ._config import POLICIES, LoopConfig
from ._flow import Flow, build_flow
from ._learner import Learner
from ._ours import run_ours
from ._priors import PRIOR_KEYS, Priors
from ._seed import run_seed, summarise

__all__ = [
    "POLICIES",
    "Flow",
    "Learner",
    "PRIOR_KEYS",
    "LoopConfig",
    "Priors",
    "build_flow",
    "main",
    "run",
    "run_ours",
    "run_seed",
    "summarise",
]


def _numbers(text: str | float | int, kind: type) -> list[Any]:
    return [kind(v) for v in str(text).split(",") if v.strip()]


def run(
    seeds: str | None = None,
    prevalence: str | float = "0.0005",
    weeks: int = 26,
    capacity: float = 0.02,
    quick: bool = False,
    parcels_per_week: int = 30_000,
    out: str = "runs/loop.json",
    random_share: float = LoopConfig.random_share,
    band_share: float = LoopConfig.band_share,
    band_width: float = LoopConfig.band_width,
    recent_half_life_weeks: float = LoopConfig.recent_half_life_weeks,
    draw_salt: str = LoopConfig.draw_salt,
    priors: str = LoopConfig.priors,
    prior_strength: float = LoopConfig.prior_strength,
    prior_full_weights: bool = LoopConfig.prior_full_weights,
    min_seizures: int = LoopConfig.min_seizures,
    rules_input: bool = LoopConfig.rules_input,
) -> list[dict[str, Any]]:
    """Every seed at every prevalence; rows for ``python -m bench`` and a JSON file."""
    warmup = LoopConfig.warmup_weeks
    if quick:
        weeks, parcels_per_week, warmup = min(weeks, 13), min(parcels_per_week, 20_000), 6
    seeds = seeds or ("1,2,3" if quick else "1,2,3,4,5")
    results: dict[str, Any] = {
        "weeks": weeks,
        "capacity": capacity,
        "parcels_per_week": parcels_per_week,
        "prevalences": {},
    }
    rows: list[dict[str, Any]] = []
    for p in _numbers(prevalence, float):
        runs = []
        for seed in _numbers(seeds, int):
            config = LoopConfig(
                seed=seed,
                prevalence=p,
                weeks=weeks,
                capacity=capacity,
                parcels_per_week=parcels_per_week,
                warmup_weeks=warmup,
                random_share=random_share,
                band_share=band_share,
                band_width=band_width,
                recent_half_life_weeks=recent_half_life_weeks,
                draw_salt=draw_salt,
                priors=priors,
                prior_strength=prior_strength,
                prior_full_weights=prior_full_weights,
                min_seizures=min_seizures,
                rules_input=rules_input,
            )
            runs.append(run_seed(config))
            r = runs[-1]
            print(
                f"prevalence {p:g} seed {seed}: seizures oracle {r['oracle_seizures']} ours "
                f"{r['ours_seizures']} rules {r['rules_seizures']} random "
                f"{r['random_seizures']} ({r['ours_to_oracle']:.2f}x oracle, "
                f"{r['ours_to_rules']:.1f}x rules; {r['seconds']} s); last 4 weeks: ECE "
                f"{r.get('ece_last_4_weeks', float('nan')):.4f}, predicted / actual "
                f"{r.get('predicted_over_actual_last_4_weeks', float('nan')):.2f}",
                file=sys.stderr,
            )
        summary = summarise(runs)
        results["prevalences"][f"{p:g}"] = {
            "runs": runs,
            "summary": summary,
            "config": asdict(config),
        }
        tag = f"loop p={p:.2%}"
        for r in runs:
            rows.append(
                {
                    "figure": f"{tag} seed {r['seed']}: seizures ours vs oracle",
                    "ours": r["ours_seizures"],
                    "baseline": r["oracle_seizures"],
                    "unit": f"rules {r['rules_seizures']}, random {r['random_seizures']}",
                }
            )
        for key, label, base in (
            ("ours_to_oracle", "ours / oracle seizures", None),
            ("ours_to_rules", "ours / rules-only seizures", None),
            ("last_week_p1_model", "last week P@1%: model vs oracle", "last_week_p1_oracle"),
            ("ece_last_4_weeks", "ECE, last 4 weeks", None),
            (
                "predicted_over_actual_last_4_weeks",
                "predicted / actual illicit, last 4 weeks",
                None,
            ),
        ):
            if key in summary:
                s = summary[key]
                rows.append(
                    {
                        "figure": f"{tag} {label} (median; min..max)",
                        "ours": s["median"],
                        "baseline": summary[base]["median"] if base in summary else None,
                        "ratio": f"{s['min']:.3g}..{s['max']:.3g}",
                        "unit": "",
                    }
                )
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1, default=str), encoding="utf-8")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.loop", description=__doc__)
    parser.add_argument("--seeds", help="comma list (default 1,2,3,4,5; quick 1,2,3)")
    parser.add_argument("--prevalence", default="0.0005", help="one value or a comma list")
    parser.add_argument("--weeks", type=int, default=26)
    parser.add_argument("--capacity", type=float, default=0.02)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--parcels-per-week", type=int, default=30_000)
    parser.add_argument("--out", default="runs/loop.json")
    parser.add_argument(
        "--random-share", type=float, default=LoopConfig.random_share, help="of the capacity"
    )
    parser.add_argument(
        "--band-share",
        type=float,
        default=LoopConfig.band_share,
        help="of the capacity, drawn from the band just below the model's picks",
    )
    parser.add_argument(
        "--band-width",
        type=float,
        default=LoopConfig.band_width,
        help="the band's size, in capacities",
    )
    parser.add_argument(
        "--recent-half-life",
        type=float,
        default=LoopConfig.recent_half_life_weeks,
        help="weeks; training weights halve with this age (0: off)",
    )
    parser.add_argument(
        "--draw-salt",
        default=LoopConfig.draw_salt,
        help="appended to ours' decision key: the same policy with other random draws",
    )
    parser.add_argument(
        "--priors",
        default=LoopConfig.priors,
        help="empirical-Bayes category priors as learner inputs, comma-separated from "
        + ", ".join(PRIOR_KEYS)
        + " ('all': every one; default: none)",
    )
    parser.add_argument(
        "--prior-strength",
        type=float,
        default=LoopConfig.prior_strength,
        help="the priors' Beta prior, worth this many labels",
    )
    parser.add_argument(
        "--prior-full-weights",
        action="store_true",
        help="priors weigh labels by full inverse propensities (default: clipped as the trees')",
    )
    parser.add_argument(
        "--min-seizures",
        type=int,
        default=LoopConfig.min_seizures,
        help="known seizures before the model replaces the rules",
    )
    parser.add_argument(
        "--rules-input", action="store_true", help="the rule score as one more learner input"
    )
    args = parser.parse_args(argv)
    if args.priors == "all":
        args.priors = ",".join(PRIOR_KEYS)
    for row in run(
        args.seeds,
        args.prevalence,
        args.weeks,
        args.capacity,
        args.quick,
        args.parcels_per_week,
        args.out,
        args.random_share,
        args.band_share,
        args.band_width,
        args.recent_half_life,
        args.draw_salt,
        args.priors,
        args.prior_strength,
        args.prior_full_weights,
        args.min_seizures,
        args.rules_input,
    ):
        print(
            f"{row['figure']:60s} {row['ours']!s:>10s} {row.get('baseline')!s:>10s} "
            f"{row.get('ratio', '')!s:>14s} {row['unit']}"
        )
    return 0
