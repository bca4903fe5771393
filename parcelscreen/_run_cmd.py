"""``parcelscreen run``: the main job on embedded defaults, end to end."""

from __future__ import annotations

import argparse
from pathlib import Path

from . import _simulate_cmd, _train_cmd


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("run", help="simulate data, then train, screen and serve (defaults)")
    p.add_argument("--workdir", type=Path, default=Path("runs"), help="where everything goes")
    p.add_argument("--parcels", type=int, default=None, help="simulated parcels (default: 200k)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    sim_args = _simulate_cmd.defaults()
    sim_args.out = args.workdir / "data"
    if args.parcels:
        sim_args.parcels = args.parcels
    status = _simulate_cmd.run(sim_args)
    if status:
        return status
    train_args = argparse.Namespace(
        data=sim_args.out, registry=args.workdir / "registry", truth=sim_args.out / "truth.parquet",
        challenger=False, skip_validation=False, gap_days=None,
    )  # fmt: skip
    return _train_cmd.run(train_args)
