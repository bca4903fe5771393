"""``parcelscreen simulate``: write a simulated data set (declarations, outcomes, truth)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from training.simulation import SimulationConfig

    d = SimulationConfig()
    p = sub.add_parser("simulate", help="simulate postal flows with darknet shipments")
    p.add_argument("--out", type=Path, default=Path("runs/data"), help="output directory")
    p.add_argument("--parcels", type=int, default=d.parcels)
    p.add_argument("--days", type=int, default=d.days)
    p.add_argument("--prevalence", type=float, default=d.prevalence)
    p.add_argument("--inspection-rate", type=float, default=d.inspection_rate)
    p.add_argument("--random-share", type=float, default=d.random_share)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--csv", action="store_true", help="also write CSV files")
    p.set_defaults(func=run)


def defaults() -> argparse.Namespace:
    """The simulate subcommand's arguments at their defaults (for ``parcelscreen run``)."""
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    return parser.parse_args(["simulate"])


def run(args: argparse.Namespace) -> int:
    from training.simulation import SimulationConfig, simulate, write_simulation

    config = SimulationConfig(
        parcels=args.parcels,
        days=args.days,
        prevalence=args.prevalence,
        inspection_rate=args.inspection_rate,
        random_share=args.random_share,
        seed=args.seed,
    )
    result = simulate(config, progress=lambda msg: print(msg, file=sys.stderr))
    paths = write_simulation(result, args.out, csv=args.csv)
    for name, path in paths.items():
        print(f"{name}: {path}")
    return 0
