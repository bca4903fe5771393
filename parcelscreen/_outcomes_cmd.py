"""``parcelscreen outcomes export``: the stored outcomes and pseudonymised declarations as the
next training data set (``parcelscreen train --data DIR`` takes the folder as it is)."""

from __future__ import annotations

import argparse
import json

from ._args import folder


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("outcomes", help="stored inspection outcomes")
    outcomes = p.add_subparsers(dest="outcomes_command", required=True)
    export = outcomes.add_parser("export", help="write declarations.parquet + outcomes.parquet")
    export.add_argument("--out", type=folder, required=True, help="folder to write")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from serving import Settings
    from serving.officer import export_training_data

    print(json.dumps(export_training_data(Settings().state_path, args.out)))
    return 0
