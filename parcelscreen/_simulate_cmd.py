"""``parcelscreen simulate``: write a simulated data set (declarations, outcomes, truth)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from ._args import folder, whole


def config_value(field: str, kind: type[int] | type[float]) -> Callable[[str], int | float]:
    """An argument type for SimulationConfig's ``field``: refused as the config refuses it."""
    from training.simulation import SimulationConfig

    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            expected = "a whole number" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        try:
            SimulationConfig(**{field: value})  # type: ignore[arg-type]
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        return value

    return parse


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from training.simulation import SimulationConfig

    d = SimulationConfig()
    p = sub.add_parser("simulate", help="simulate postal flows with darknet shipments")
    p.add_argument("--out", type=folder, default=Path("runs/data"), help="output directory")
    p.add_argument("--parcels", type=config_value("parcels", int), default=d.parcels)
    p.add_argument("--days", type=config_value("days", int), default=d.days)
    p.add_argument("--prevalence", type=config_value("prevalence", float), default=d.prevalence)
    p.add_argument(
        "--inspection-rate", type=config_value("inspection_rate", float), default=d.inspection_rate
    )
    p.add_argument(
        "--random-share", type=config_value("random_share", float), default=d.random_share
    )
    p.add_argument("--seed", type=whole(0), default=d.seed)
    p.add_argument(
        "--csv",
        action="store_true",
        help="also write the declarations and outcomes in the contract's CSV form",
    )
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
